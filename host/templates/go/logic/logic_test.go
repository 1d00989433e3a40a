package logic

// Unit tests of the logic, natively: `go test ./logic` (./test.sh runs them).

import "testing"

func decide(t *testing.T, f *Filter, value string) (Decision, error) {
	t.Helper()
	return f.Decide([]byte(value), true)
}

func TestDropsTheConfiguredValues(t *testing.T) {
	f, err := NewFilter(`{"field":"level","drop":["debug","trace"]}`)
	if err != nil {
		t.Fatal(err)
	}
	for value, want := range map[string]Decision{
		`{"level":"debug","msg":"x"}`: Drop,
		`{"level":"trace"}`:           Drop,
		`{"level":"info"}`:            Pass,
		`{"level":3}`:                 Pass,
		`{"msg":"no level"}`:          Pass,
	} {
		if got, err := decide(t, f, value); got != want || err != nil {
			t.Errorf("%s: got %v %v, want %v", value, got, err, want)
		}
	}
}

func TestRejectsWhatIsNotAJSONObject(t *testing.T) {
	f, _ := NewFilter("")
	for _, value := range []string{"not json", "[1]", "null", `"text"`, ""} {
		if _, err := decide(t, f, value); err != ErrNotAnObject {
			t.Errorf("%q: got %v", value, err)
		}
	}
	if _, err := f.Decide(nil, false); err != ErrNotAnObject {
		t.Errorf("a tombstone: got %v", err)
	}
}

func TestConfigDefaultsAndRefusals(t *testing.T) {
	f, err := NewFilter("  ")
	if err != nil || f.Field != "level" || len(f.Drop) != 0 {
		t.Errorf("defaults: %+v %v", f, err)
	}
	for _, bad := range []string{`{oops`, `[]`, `{"field":1}`, `{"drop":"debug"}`, `{"drop":[1]}`, `{"other":1}`} {
		if _, err := NewFilter(bad); err == nil {
			t.Errorf("config %s accepted", bad)
		}
	}
}
