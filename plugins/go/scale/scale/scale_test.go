package scale

// Native tests of the scale logic (no Wasm needed): `go test ./scale` in
// plugins/go/scale. Expected bytes are what the Rust json-transform plugin
// (serde_json) writes for the same input and config.

import (
	"math"
	"math/rand"
	"strconv"
	"strings"
	"testing"
)

const contractConfig = `{"scale":{"temperature":{"multiply":2,"offset":0.5}}}`

// run is the output, or "reject: <reason>".
func run(t *testing.T, config string, value *string) string {
	t.Helper()
	cfg, err := ParseConfig(config)
	if err != nil {
		t.Fatalf("config %s refused: %v", config, err)
	}
	var in []byte
	if value != nil {
		in = []byte(*value)
	}
	out, err := cfg.Transform(in, value != nil)
	if err != nil {
		return "reject: " + err.Error()
	}
	return string(out)
}

func ptr(s string) *string { return &s }

func TestTheContractRecords(t *testing.T) {
	cases := [][2]string{
		{`{"id":1,"temperature":20,"humidity":40,"site":"a"}`, `{"id":1,"temperature":40.5,"humidity":40,"site":"a"}`},
		{`{"id":2,"temperature":21.5,"humidity":41.25,"site":"b"}`, `{"id":2,"temperature":43.5,"humidity":41.25,"site":"b"}`},
		{`{"id":3,"humidity":50}`, `{"id":3,"humidity":50}`},
		{`{"id":4,"temperature":"hot","humidity":1}`, `reject: field 'temperature' is not a number`},
		{`{"id":5,"temperature":-3,"humidity":0}`, `{"id":5,"temperature":-5.5,"humidity":0}`},
	}
	for _, c := range cases {
		if got := run(t, contractConfig, ptr(c[0])); got != c[1] {
			t.Errorf("%s\n got:  %s\n want: %s", c[0], got, c[1])
		}
	}
}

func TestRejections(t *testing.T) {
	for value, want := range map[*string]string{
		nil:          "reject: empty value: expected a JSON object",
		ptr(""):      "reject: empty value: expected a JSON object",
		ptr("[1,2]"): "reject: value is not a JSON object",
		ptr("null"):  "reject: value is not a JSON object",
	} {
		if got := run(t, contractConfig, value); got != want {
			t.Errorf("%v: got %s, want %s", value, got, want)
		}
	}
	bad := []string{"{oops", "{", `{"a":1}x`, " ", `{"a":NaN}`, `{"a":Infinity}`, `{"a":1e400}`,
		`{"a":01}`, `{"a":"\ud800"}`, `{"a":"\udc00"}`, "{\"a\":\"\x01\"}", "\xef\xbb\xbf{}",
		`{"a":1,}`, `{'a':1}`, `[1,]`, "{\"a\":\"\xff\"}", "{\"a\":\"\xed\xa0\x80\"}",
		"{\"a\":\"\xc0\xaf\"}", `{"a":-}`, `{"a":1.}`, `{"a":1e}`, `{"a":.5}`, `{"a":"\x"}`,
		`{"a" 1}`, `{1:2}`, `{"a":-1e400}`, `{"a":"\ud83d"}`, `{"a":"\ud83d\u0041"}`, `{"a":tru}`}
	for _, b := range bad {
		if got := run(t, contractConfig, ptr(b)); !strings.HasPrefix(got, "reject: value is not valid JSON: ") {
			t.Errorf("%q: got %s", b, got)
		}
	}
}

func TestNestingLimitIsSerdeJsons(t *testing.T) {
	nested := func(n int) string {
		return `{"a":` + strings.Repeat("[", n) + strings.Repeat("]", n) + "}"
	}
	// The object is one level: 127 in all parse, 128 do not.
	if got := run(t, "{}", ptr(nested(126))); got != nested(126) {
		t.Errorf("127 levels: got %s", got)
	}
	got := run(t, "{}", ptr(nested(127)))
	if !strings.HasPrefix(got, "reject: value is not valid JSON: recursion limit exceeded") {
		t.Errorf("128 levels: got %s", got)
	}
}

func TestScaleSemantics(t *testing.T) {
	cases := [][3]string{
		{`{"scale":{"a":{}}}`, `{"a":7,"b":7}`, `{"a":7.0,"b":7}`},
		{`{"scale":{"a":{"offset":-1}}}`, `{"a":1}`, `{"a":0.0}`},
		{`{"scale":{"a":{"multiply":3}}}`, `{"a":3.4}`, `{"a":10.2}`},
		{`{"scale":{"a":{"multiply":0.1,"offset":0.2}}}`, `{"a":1}`, `{"a":0.30000000000000004}`},
		{`{"scale":{"a":{"multiply":1e308}}}`, `{"a":10}`, `reject: field 'a' scaled to a non-finite number`},
		{`{"scale":{"a":{"multiply":2}}}`, `{"a":true}`, `reject: field 'a' is not a number`},
		{`{"scale":{"a":{"multiply":2},"b":{"offset":1}}}`, `{"b":1,"a":2}`, `{"b":2.0,"a":4.0}`},
		// The first failing rule, in config order, is the reason.
		{`{"scale":{"b":{},"a":{}}}`, `{"a":"x","b":"y"}`, `reject: field 'b' is not a number`},
		// Rounded twice (no fused multiply-add): 0.1*3 = 0.30000000000000004, + -0.3.
		{`{"scale":{"a":{"multiply":3,"offset":-0.3}}}`, `{"a":0.1}`, `{"a":5.551115123125783e-17}`},
	}
	for _, c := range cases {
		if got := run(t, c[0], ptr(c[1])); got != c[2] {
			t.Errorf("%s on %s\n got:  %s\n want: %s", c[0], c[1], got, c[2])
		}
	}
}

func TestPassThroughBytes(t *testing.T) {
	cases := [][2]string{
		{`{"b":1, "a": [true, null]}`, `{"b":1,"a":[true,null]}`},
		{`{"a":1,"b":2,"a":3}`, `{"a":3,"b":2}`},
		{`{"a":{"b":[1,-2,3.5,{"c":null}],"d":""},"e":[]}`, `{"a":{"b":[1,-2,3.5,{"c":null}],"d":""},"e":[]}`},
		{"{\"é\":\"ü \\u20ac \\ud83d\\ude00 \\\" \\\\ \\/ \\n\\r\\t\\b\\f \\u0001 \\u001f \x7f\"}",
			"{\"é\":\"ü € 😀 \\\" \\\\ / \\n\\r\\t\\b\\f \\u0001 \\u001f \x7f\"}"},
		{" \t\r\n{\"k\" : [ true , false ] } \n", `{"k":[true,false]}`},
	}
	for _, c := range cases {
		if got := run(t, "{}", ptr(c[0])); got != c[1] {
			t.Errorf("%q\n got:  %s\n want: %s", c[0], got, c[1])
		}
	}
}

func TestNumberFormsAreSerdeJsons(t *testing.T) {
	numbers := [][2]string{
		{"0", "0"}, {"-0", "-0.0"}, {"-1", "-1"}, {"1.0", "1.0"}, {"1e2", "100.0"}, {"1E+2", "100.0"},
		{"1.5e300", "1.5e+300"}, {"1e16", "1e+16"}, {"1e15", "1000000000000000.0"}, {"0.0001", "0.0001"},
		{"0.00001", "0.00001"}, {"0.000012345", "0.000012345"}, {"1e-6", "1e-6"}, {"-1.5e-7", "-1.5e-7"},
		{"5e-324", "5e-324"}, {"1e-400", "0.0"}, {"18446744073709551615", "18446744073709551615"},
		{"18446744073709551616", "1.8446744073709552e+19"}, {"-9223372036854775808", "-9223372036854775808"},
		{"-9223372036854775809", "-9.223372036854776e+18"}, {"0.1", "0.1"}, {"123456789.125", "123456789.125"},
		{"1.7976931348623157e308", "1.7976931348623157e+308"}, {"2.2250738585072014e-308", "2.2250738585072014e-308"},
		{"9007199254740993", "9007199254740993"}, {"9007199254740993.0", "9007199254740992.0"},
		{"0.3", "0.3"}, {"2.5e-5", "0.000025"}, {"123e-20", "1.23e-18"}, {"1.23456789012345678", "1.2345678901234567"},
		{"123456789012345678901234567890", "1.2345678901234568e+29"}, {"-0.0", "-0.0"}, {"1e-5", "0.00001"},
		{"1234567890123456.7", "1234567890123456.8"}, {"12345678901234567.0", "1.2345678901234568e+16"},
	}
	for _, n := range numbers {
		in, want := `{"n":`+n[0]+`}`, `{"n":`+n[1]+`}`
		if got := run(t, "{}", &in); got != want {
			t.Errorf("%s: got %s, want %s", in, got, want)
		}
	}
}

// Every printed float reads back to itself, and its layout follows its
// size: fixed notation from 1e-5 up to 1e16 (decimal exponents -5..=15),
// d[.ddd]e±x outside.
func TestFloatsRoundTripOnRandomBits(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	for i := 0; i < 200000; i++ {
		x := math.Float64frombits(rng.Uint64())
		if math.IsNaN(x) || math.IsInf(x, 0) {
			continue
		}
		s := string(AppendFloat(nil, x))
		back, err := strconv.ParseFloat(s, 64)
		if err != nil || back != x {
			t.Fatalf("%v printed as %s reads back as %v (%v)", x, s, back, err)
		}
		abs := math.Abs(x)
		fixed := abs == 0 || (abs >= 1e-5 && abs < 1e16)
		if fixed == strings.Contains(s, "e") || (fixed && !strings.Contains(s, ".")) {
			t.Fatalf("%v printed as %s", x, s)
		}
	}
}

func TestConfigErrorsSayWhatToFix(t *testing.T) {
	cases := [][2]string{
		{"{oops", "config is not valid JSON: "},
		{"[]", "config must be a table (JSON object)"},
		{`{"scael":{}}`, "unknown config key 'scael': the Go scale plugin implements only 'scale'"},
		{`{"scale":[]}`, "'scale' must be a table of field names"},
		{`{"scale":{"a":2}}`, "'scale.a' must be a table with multiply and/or offset"},
		{`{"scale":{"a":{"multiply":"2"}}}`, "'scale.a.multiply' must be a number"},
		{`{"scale":{"a":{"times":2}}}`, "unknown key 'scale.a.times': expected multiply or offset"},
	}
	for _, c := range cases {
		_, err := ParseConfig(c[0])
		if err == nil || !strings.HasPrefix(err.Error(), c[1]) {
			t.Errorf("config %s: got %v, want %s…", c[0], err, c[1])
		}
	}
	cfg, err := ParseConfig("  \n")
	if err != nil || len(cfg.Rules) != 0 {
		t.Errorf("a blank config is an empty one: %v %v", cfg, err)
	}
}
