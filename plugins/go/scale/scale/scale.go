// Package scale is the logic of the Go scale plugin, free of the component
// bindings so that `go test` runs it natively.
//
// It is the Go twin of the Rust json-transform plugin restricted to its
// `scale` step: for each configured field present in a JSON object record,
// `value * multiply + offset` (defaults 1 and 0) replaces the value, as a
// float. Every other field passes through. Outputs and reasons match the
// Rust plugin byte for byte, except the detail after
// "value is not valid JSON: ".
package scale

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Rule scales one field.
type Rule struct {
	Field            string
	Multiply, Offset float64
}

// Config is the stage's configuration: rules in the order of the config.
type Config struct {
	Rules []Rule
}

// ParseConfig reads the stage config (JSON, as wasp hands it to init).
// The error says what to fix.
func ParseConfig(text string) (Config, error) {
	var cfg Config
	// Rust's str::trim: ASCII whitespace is what a config can hold here.
	if strings.Trim(text, " \t\n\r\v\f") == "" {
		text = "{}"
	}
	root, err := Parse([]byte(text))
	if err != nil {
		return cfg, fmt.Errorf("config is not valid JSON: %w", err)
	}
	if root.Kind != Object {
		return cfg, errors.New("config must be a table (JSON object)")
	}
	for _, m := range root.Obj {
		if m.Key != "scale" {
			return Config{}, fmt.Errorf("unknown config key '%s': the Go scale plugin implements only "+
				"'scale' (json-transform has require, select, rename and set too)", m.Key)
		}
		if m.Value.Kind != Object {
			return Config{}, errors.New("'scale' must be a table of field names")
		}
		for _, f := range m.Value.Obj {
			if f.Value.Kind != Object {
				return Config{}, fmt.Errorf("'scale.%s' must be a table with multiply and/or offset", f.Key)
			}
			r := Rule{Field: f.Key, Multiply: 1}
			for _, e := range f.Value.Obj {
				x, ok := e.Value.Number()
				if !ok {
					return Config{}, fmt.Errorf("'scale.%s.%s' must be a number", f.Key, e.Key)
				}
				switch e.Key {
				case "multiply":
					r.Multiply = x
				case "offset":
					r.Offset = x
				default:
					return Config{}, fmt.Errorf("unknown key 'scale.%s.%s': expected multiply or offset", f.Key, e.Key)
				}
			}
			cfg.Rules = append(cfg.Rules, r)
		}
	}
	return cfg, nil
}

// Transform scales one record value; present is false for a tombstone.
// It returns the new value, or the reason to reject the record.
func (cfg *Config) Transform(value []byte, present bool) ([]byte, error) {
	if !present || len(value) == 0 {
		return nil, errors.New("empty value: expected a JSON object")
	}
	rec, err := Parse(value)
	if err != nil {
		return nil, fmt.Errorf("value is not valid JSON: %w", err)
	}
	if rec.Kind != Object {
		return nil, errors.New("value is not a JSON object")
	}
	for _, r := range cfg.Rules {
		v := rec.Get(r.Field)
		if v == nil {
			continue
		}
		x, ok := v.Number()
		if !ok {
			return nil, fmt.Errorf("field '%s' is not a number", r.Field)
		}
		// The conversion stops Go from fusing this into one multiply-add:
		// the product rounds on its own, like the Rust twin's.
		y := float64(x*r.Multiply) + r.Offset
		if math.IsInf(y, 0) || math.IsNaN(y) {
			return nil, fmt.Errorf("field '%s' scaled to a non-finite number", r.Field)
		}
		*v = Value{Kind: Float, F: y}
	}
	return Append(make([]byte, 0, len(value)+16), &rec), nil
}
