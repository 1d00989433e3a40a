package scale

// Writing JSON the way serde_json does (see json.go for what is matched).

import (
	"math"
	"strconv"
	"strings"
)

// Append writes v as compact JSON onto b.
func Append(b []byte, v *Value) []byte {
	switch v.Kind {
	case Null:
		return append(b, "null"...)
	case False:
		return append(b, "false"...)
	case True:
		return append(b, "true"...)
	case Uint:
		return strconv.AppendUint(b, v.U, 10)
	case Int:
		return strconv.AppendInt(b, v.I, 10)
	case Float:
		return AppendFloat(b, v.F)
	case String:
		return appendString(b, v.S)
	case Array:
		b = append(b, '[')
		for i := range v.Arr {
			if i > 0 {
				b = append(b, ',')
			}
			b = Append(b, &v.Arr[i])
		}
		return append(b, ']')
	default: // Object
		b = append(b, '{')
		for i := range v.Obj {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, v.Obj[i].Key)
			b = append(b, ':')
			b = Append(b, &v.Obj[i].Value)
		}
		return append(b, '}')
	}
}

// appendString quotes s as serde_json does: the two-character escapes it
// knows, \u00XX for the other control characters, everything else as is.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	run := 0 // start of the bytes not yet copied
	for i := 0; i < len(s); i++ {
		c := s[i]
		var esc string
		switch {
		case c == '"':
			esc = `\"`
		case c == '\\':
			esc = `\\`
		case c == '\n':
			esc = `\n`
		case c == '\r':
			esc = `\r`
		case c == '\t':
			esc = `\t`
		case c == '\b':
			esc = `\b`
		case c == '\f':
			esc = `\f`
		case c < 0x20:
			esc = string([]byte{'\\', 'u', '0', '0', hex[c>>4], hex[c&15]})
		default:
			continue
		}
		b = append(b, s[run:i]...)
		b = append(b, esc...)
		run = i + 1
	}
	b = append(b, s[run:]...)
	return append(b, '"')
}

// AppendFloat writes a finite float64 the way serde_json prints it.
func AppendFloat(b []byte, x float64) []byte {
	if x == 0 {
		if math.Signbit(x) {
			return append(b, "-0.0"...)
		}
		return append(b, "0.0"...)
	}
	if x < 0 {
		b = append(b, '-')
		x = -x
	}
	// strconv's shortest form ('e', -1) has the fewest digits that read
	// back to x, the closest to x among those: the digits serde_json
	// prints. Only the layout is serde_json's own.
	var buf [32]byte
	sci := strconv.AppendFloat(buf[:0], x, 'e', -1, 64) // d.ddde±XX
	mark := strings.IndexByte(string(sci), 'e')
	exp, _ := strconv.Atoi(string(sci[mark+1:]))
	digits := make([]byte, 0, 17)
	for _, c := range sci[:mark] {
		if c != '.' {
			digits = append(digits, c)
		}
	}
	n := len(digits)
	switch {
	case exp >= 0 && exp <= 15:
		if n <= exp+1 {
			b = append(b, digits...)
			for i := n; i < exp+1; i++ {
				b = append(b, '0')
			}
			return append(b, ".0"...)
		}
		b = append(b, digits[:exp+1]...)
		b = append(b, '.')
		return append(b, digits[exp+1:]...)
	case exp < 0 && exp >= -5:
		b = append(b, "0."...)
		for i := 0; i < -exp-1; i++ {
			b = append(b, '0')
		}
		return append(b, digits...)
	default:
		b = append(b, digits[0])
		if n > 1 {
			b = append(b, '.')
			b = append(b, digits[1:]...)
		}
		b = append(b, 'e')
		if exp < 0 {
			b = append(b, '-')
			exp = -exp
		} else {
			b = append(b, '+')
		}
		return strconv.AppendInt(b, int64(exp), 10)
	}
}
