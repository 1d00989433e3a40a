// Package logic is the {{name}} logic in plain Go: no Wasm bindings, so
// `go test ./logic` runs it natively, and the component
// (../export_wasp_plugin_processor) calls it.
//
// It drops records whose JSON field `field` holds one of the strings in
// `drop`, forwards every other JSON object unchanged and rejects values
// that are not JSON objects.
package logic

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Decision is what to do with one record.
type Decision int

// The decisions a filter makes.
const (
	Pass Decision = iota
	Drop
)

// ErrNotAnObject is the reason a record is rejected.
var ErrNotAnObject = errors.New("value is not a JSON object")

// Filter is the stage's configuration.
type Filter struct {
	Field string
	Drop  []string
}

// NewFilter reads the stage config (JSON); the error says what to fix.
func NewFilter(config string) (*Filter, error) {
	if strings.TrimSpace(config) == "" {
		config = "{}"
	}
	var root any
	if err := json.Unmarshal([]byte(config), &root); err != nil {
		return nil, fmt.Errorf("config is not valid JSON: %v", err)
	}
	table, ok := root.(map[string]any)
	if !ok {
		return nil, errors.New("config must be a table (JSON object)")
	}
	f := &Filter{Field: "level"}
	for key, v := range table {
		switch key {
		case "field":
			if f.Field, ok = v.(string); !ok {
				return nil, errors.New("'field' must be a field name")
			}
		case "drop":
			list, ok := v.([]any)
			for _, item := range list {
				s, isString := item.(string)
				ok = ok && isString
				f.Drop = append(f.Drop, s)
			}
			if !ok {
				return nil, errors.New("'drop' must be a list of strings")
			}
		default:
			return nil, fmt.Errorf("unknown config key '%s': expected field or drop", key)
		}
	}
	return f, nil
}

// Decide is Pass or Drop for one record value (present is false for a
// tombstone), or ErrNotAnObject.
func (f *Filter) Decide(value []byte, present bool) (Decision, error) {
	var record map[string]json.RawMessage
	if !present || json.Unmarshal(value, &record) != nil || record == nil {
		return Pass, ErrNotAnObject
	}
	var v string
	if raw, ok := record[f.Field]; ok && json.Unmarshal(raw, &v) == nil && slices.Contains(f.Drop, v) {
		return Drop, nil
	}
	return Pass, nil
}
