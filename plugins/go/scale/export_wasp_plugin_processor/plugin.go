// Package export_wasp_plugin_processor is the scale plugin as a wasp
// component: the `processor` interface that the bindings of `wit-bindgen go`
// call (they are generated beside this package by scripts/build-go-plugins),
// adapted to the logic in ../scale.
//
// The bindings hand over strings and byte slices that point into memory the
// host wrote; they stay valid, but keep a copy of anything kept past the
// call (the config is parsed into fresh values, so nothing here aliases it).
package export_wasp_plugin_processor

import (
	"fmt"

	"wit_component/scale"
	"wit_component/wasp_plugin_log"
	"wit_component/wasp_plugin_metrics"
	"wit_component/wasp_plugin_types"

	witTypes "go.bytecodealliance.org/pkg/wit/types"
)

// config is the stage's configuration; the host calls Init before
// anything else, and a refused config keeps the previous one.
var (
	config     scale.Config
	configured bool
)

// Info names the plugin.
func Info() wasp_plugin_types.PluginInfo {
	return wasp_plugin_types.PluginInfo{
		Name:        "scale-go",
		Version:     "0.1.0",
		Description: "multiply/offset numeric fields of JSON records (Go twin of json-transform's scale)",
	}
}

// Init reads the stage's config.
func Init(text string) witTypes.Result[witTypes.Unit, string] {
	cfg, err := scale.ParseConfig(text)
	if err != nil {
		return witTypes.Err[witTypes.Unit, string](err.Error())
	}
	config, configured = cfg, true
	wasp_plugin_log.Log(wasp_plugin_types.Level_Info,
		fmt.Sprintf("scale-go configured: %d scale fields", len(config.Rules)))
	return witTypes.Ok[witTypes.Unit, string](witTypes.Unit{})
}

// Process scales each record, or rejects it with the reason.
func Process(_ wasp_plugin_types.BatchInfo, batch []wasp_plugin_types.Message) []wasp_plugin_types.Verdict {
	if !configured {
		panic("process called before init") // a host bug: trap
	}
	verdicts := make([]wasp_plugin_types.Verdict, len(batch))
	var scaled uint64
	for i, m := range batch {
		out, err := config.Transform(m.Value.Some(), m.Value.IsSome())
		if err != nil {
			verdicts[i] = wasp_plugin_types.MakeVerdictReject(err.Error())
			continue
		}
		verdicts[i] = wasp_plugin_types.MakeVerdictValue(out)
		scaled++
	}
	if scaled > 0 {
		wasp_plugin_metrics.CounterAdd("scaled", scaled)
	}
	return verdicts
}

// Learn: the scale plugin learns nothing; every correction is done.
func Learn(_ wasp_plugin_types.BatchInfo, batch []wasp_plugin_types.Message) []wasp_plugin_types.Verdict {
	verdicts := make([]wasp_plugin_types.Verdict, len(batch))
	for i := range verdicts {
		verdicts[i] = wasp_plugin_types.MakeVerdictDrop()
	}
	return verdicts
}
