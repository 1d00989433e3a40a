package scale

// A small, strict JSON reader and writer that behaves like Rust's
// serde_json 1 (with `preserve_order` and `float_roundtrip`), so this
// plugin gives the same bytes as the Rust json-transform plugin. Go's
// encoding/json does not fit: it forgets key order, keeps duplicate keys
// apart only in maps, and prints floats its own way.
//
//   - parsing refuses what serde_json refuses: trailing commas, leading
//     zeros, NaN/Infinity, numbers out of the f64 range, lone UTF-16
//     surrogates, raw control characters and invalid UTF-8 in strings,
//     trailing characters, and nesting 128 levels deep or more;
//   - integers keep serde_json's ranges: `-0` and integers outside
//     [-2^63, 2^64) become floats;
//   - objects keep key order; a repeated key keeps its first position and
//     its last value;
//   - floats print with the shortest digits that read back to the same
//     float64, in fixed notation for decimal exponents -5..=15 (`100.0`,
//     `0.00001`) and else as `1.5e+16` / `1e-7`.

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Kind is the type of a JSON value.
type Kind uint8

// The kinds of JSON values; numbers split the way serde_json splits them.
const (
	Null Kind = iota
	False
	True
	Uint  // 0 ..= 2^64-1
	Int   // -2^63 ..= -1
	Float // everything else, and every number with a fraction or exponent
	String
	Array
	Object
)

// Value is one JSON value; only the fields of its Kind are set.
type Value struct {
	Kind Kind
	U    uint64
	I    int64
	F    float64
	S    string
	Arr  []Value
	Obj  []Member
}

// Member is one key and value of an object, in document order.
type Member struct {
	Key   string
	Value Value
}

// maxDepth is serde_json's recursion limit: 128 nested arrays or objects
// is an error.
const maxDepth = 128

// SyntaxError says what is wrong and where, like serde_json: line and
// column are 1-based, the column counts bytes.
type SyntaxError struct {
	Msg          string
	Line, Column int
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s at line %d column %d", e.Msg, e.Line, e.Column)
}

type parser struct {
	s     []byte
	pos   int
	depth int
}

func (p *parser) fail(msg string) error {
	line, col := 1, 0
	for i := 0; i < p.pos && i < len(p.s); i++ {
		if p.s[i] == '\n' {
			line, col = line+1, 0
		} else {
			col++
		}
	}
	if p.pos < len(p.s) {
		col++
	}
	return &SyntaxError{Msg: msg, Line: line, Column: col}
}

// peek is the next byte, or -1 at the end.
func (p *parser) peek() int {
	if p.pos < len(p.s) {
		return int(p.s[p.pos])
	}
	return -1
}

func (p *parser) skipSpace() {
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case ' ', '\n', '\t', '\r':
			p.pos++
		default:
			return
		}
	}
}

// Parse reads one JSON document.
func Parse(text []byte) (Value, error) {
	p := &parser{s: text}
	v, err := p.value()
	if err != nil {
		return Value{}, err
	}
	p.skipSpace()
	if p.pos != len(p.s) {
		return Value{}, p.fail("trailing characters")
	}
	return v, nil
}

func (p *parser) value() (Value, error) {
	p.skipSpace()
	switch c := p.peek(); {
	case c < 0:
		return Value{}, p.fail("EOF while parsing a value")
	case c == 'n':
		return Value{Kind: Null}, p.word("null")
	case c == 't':
		return Value{Kind: True}, p.word("true")
	case c == 'f':
		return Value{Kind: False}, p.word("false")
	case c == '"':
		p.pos++
		s, err := p.str()
		return Value{Kind: String, S: s}, err
	case c == '[' || c == '{':
		p.depth++
		if p.depth >= maxDepth {
			return Value{}, p.fail("recursion limit exceeded")
		}
		var v Value
		var err error
		if c == '[' {
			v, err = p.array()
		} else {
			v, err = p.object()
		}
		p.depth--
		return v, err
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	default:
		return Value{}, p.fail("expected value")
	}
}

func (p *parser) word(w string) error {
	for i := 0; i < len(w); i++ {
		if p.pos >= len(p.s) {
			return p.fail("EOF while parsing a value")
		}
		if p.s[p.pos] != w[i] {
			return p.fail("expected ident")
		}
		p.pos++
	}
	return nil
}

func (p *parser) hex4() (rune, error) {
	var r rune
	for i := 0; i < 4; i++ {
		if p.pos >= len(p.s) {
			return 0, p.fail("EOF while parsing a string")
		}
		c := p.s[p.pos]
		p.pos++
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c-'a') + 10
		case c >= 'A' && c <= 'F':
			r |= rune(c-'A') + 10
		default:
			return 0, p.fail("invalid escape")
		}
	}
	return r, nil
}

// str reads a string after its opening quote.
func (p *parser) str() (string, error) {
	var b strings.Builder
	for {
		if p.pos >= len(p.s) {
			return "", p.fail("EOF while parsing a string")
		}
		c := p.s[p.pos]
		switch {
		case c == '"':
			p.pos++
			return b.String(), nil
		case c < 0x20:
			return "", p.fail("control character (\\u0000-\\u001F) found while parsing a string")
		case c == '\\':
			if err := p.escape(&b); err != nil {
				return "", err
			}
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			p.pos++
		default:
			// DecodeRune refuses overlong forms, surrogates and bytes past
			// U+10FFFF, as Rust's str does.
			r, n := utf8.DecodeRune(p.s[p.pos:])
			if r == utf8.RuneError && n <= 1 {
				return "", p.fail("invalid unicode code point")
			}
			b.Write(p.s[p.pos : p.pos+n])
			p.pos += n
		}
	}
}

// escape reads one backslash escape into b.
func (p *parser) escape(b *strings.Builder) error {
	p.pos++
	if p.pos >= len(p.s) {
		return p.fail("EOF while parsing a string")
	}
	e := p.s[p.pos]
	p.pos++
	switch e {
	case '"', '\\', '/':
		b.WriteByte(e)
	case 'b':
		b.WriteByte('\b')
	case 'f':
		b.WriteByte('\f')
	case 'n':
		b.WriteByte('\n')
	case 'r':
		b.WriteByte('\r')
	case 't':
		b.WriteByte('\t')
	case 'u':
		r, err := p.hex4()
		if err != nil {
			return err
		}
		if r >= 0xDC00 && r <= 0xDFFF {
			return p.fail("lone leading surrogate in hex escape")
		}
		if r >= 0xD800 && r <= 0xDBFF {
			if p.pos+1 >= len(p.s) || p.s[p.pos] != '\\' || p.s[p.pos+1] != 'u' {
				return p.fail("unexpected end of hex escape")
			}
			p.pos += 2
			lo, err := p.hex4()
			if err != nil {
				return err
			}
			if lo < 0xDC00 || lo > 0xDFFF {
				return p.fail("lone leading surrogate in hex escape")
			}
			r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
		}
		b.WriteRune(r)
	default:
		return p.fail("invalid escape")
	}
	return nil
}

func isDigit(c int) bool { return c >= '0' && c <= '9' }

func (p *parser) number() (Value, error) {
	start := p.pos
	neg := p.peek() == '-'
	if neg {
		p.pos++
	}
	digits := p.pos
	switch c := p.peek(); {
	case c == '0':
		p.pos++
		if isDigit(p.peek()) {
			return Value{}, p.fail("invalid number")
		}
	case c >= '1' && c <= '9':
		for isDigit(p.peek()) {
			p.pos++
		}
	default:
		return Value{}, p.fail("invalid number")
	}
	integer := string(p.s[digits:p.pos])
	isFloat := false
	if p.peek() == '.' {
		isFloat = true
		p.pos++
		if !isDigit(p.peek()) {
			return Value{}, p.fail("EOF while parsing a value")
		}
		for isDigit(p.peek()) {
			p.pos++
		}
	}
	if c := p.peek(); c == 'e' || c == 'E' {
		isFloat = true
		p.pos++
		if c := p.peek(); c == '+' || c == '-' {
			p.pos++
		}
		if !isDigit(p.peek()) {
			return Value{}, p.fail("EOF while parsing a value")
		}
		for isDigit(p.peek()) {
			p.pos++
		}
	}
	if !isFloat {
		// ParseUint fails only past 2^64-1: such integers become floats.
		if u, err := strconv.ParseUint(integer, 10, 64); err == nil {
			switch {
			case !neg:
				return Value{Kind: Uint, U: u}, nil
			case u == 0:
				return Value{Kind: Float, F: math.Copysign(0, -1)}, nil
			case u <= 1<<63:
				return Value{Kind: Int, I: int64(-u)}, nil
			}
		}
	}
	// The text is valid JSON here, which ParseFloat reads correctly
	// rounded; it returns ±Inf only past the float64 range.
	f, _ := strconv.ParseFloat(string(p.s[start:p.pos]), 64)
	if math.IsInf(f, 0) {
		p.pos = start
		return Value{}, p.fail("number out of range")
	}
	return Value{Kind: Float, F: f}, nil
}

func (p *parser) array() (Value, error) {
	v := Value{Kind: Array}
	p.pos++ // [
	p.skipSpace()
	if p.peek() == ']' {
		p.pos++
		return v, nil
	}
	for {
		item, err := p.value()
		if err != nil {
			return Value{}, err
		}
		v.Arr = append(v.Arr, item)
		p.skipSpace()
		switch p.peek() {
		case ',':
			p.pos++
			p.skipSpace()
			if p.peek() == ']' {
				return Value{}, p.fail("trailing comma")
			}
		case ']':
			p.pos++
			return v, nil
		case -1:
			return Value{}, p.fail("EOF while parsing a list")
		default:
			return Value{}, p.fail("expected `,` or `]`")
		}
	}
}

func (p *parser) object() (Value, error) {
	v := Value{Kind: Object}
	p.pos++ // {
	p.skipSpace()
	if p.peek() == '}' {
		p.pos++
		return v, nil
	}
	for {
		switch p.peek() {
		case '"':
		case -1:
			return Value{}, p.fail("EOF while parsing an object")
		default:
			return Value{}, p.fail("key must be a string")
		}
		p.pos++
		key, err := p.str()
		if err != nil {
			return Value{}, err
		}
		p.skipSpace()
		switch p.peek() {
		case ':':
			p.pos++
		case -1:
			return Value{}, p.fail("EOF while parsing an object")
		default:
			return Value{}, p.fail("expected `:`")
		}
		item, err := p.value()
		if err != nil {
			return Value{}, err
		}
		if old := v.Get(key); old != nil {
			*old = item // serde_json with preserve_order: first position, last value
		} else {
			v.Obj = append(v.Obj, Member{Key: key, Value: item})
		}
		p.skipSpace()
		switch p.peek() {
		case ',':
			p.pos++
			p.skipSpace()
			if p.peek() == '}' {
				return Value{}, p.fail("trailing comma")
			}
		case '}':
			p.pos++
			return v, nil
		case -1:
			return Value{}, p.fail("EOF while parsing an object")
		default:
			return Value{}, p.fail("expected `,` or `}`")
		}
	}
}

// Get is the value of an object's member called key, or nil.
func (v *Value) Get(key string) *Value {
	if v.Kind != Object {
		return nil
	}
	for i := range v.Obj {
		if v.Obj[i].Key == key {
			return &v.Obj[i].Value
		}
	}
	return nil
}

// Number is the value as a float64, and whether it is a number.
func (v *Value) Number() (float64, bool) {
	switch v.Kind {
	case Uint:
		return float64(v.U), true
	case Int:
		return float64(v.I), true
	case Float:
		return v.F, true
	}
	return 0, false
}
