// Package export_wasp_plugin_processor is {{name}} as a wasp component:
// the contract's `processor` exports, which the bindings generated into
// build/ by ./build.sh (`wit-bindgen go`) call, adapted to ../logic.
//
// Strings and byte slices from the host point into memory it wrote for
// this call: copy what you keep past the call.
package export_wasp_plugin_processor

import (
	"fmt"

	"wit_component/logic"
	"wit_component/wasp_plugin_log"
	"wit_component/wasp_plugin_types"

	witTypes "go.bytecodealliance.org/pkg/wit/types"
)

// filter is the stage's config; the host calls Init before anything else.
var filter *logic.Filter

// Info names the plugin.
func Info() wasp_plugin_types.PluginInfo {
	return wasp_plugin_types.PluginInfo{
		Name:        "{{name}}",
		Version:     "0.1.0",
		Description: "drops records by the value of a field",
	}
}

// Init reads the config; an error refuses it and is shown to the user.
func Init(config string) witTypes.Result[witTypes.Unit, string] {
	f, err := logic.NewFilter(config)
	if err != nil {
		return witTypes.Err[witTypes.Unit, string](err.Error())
	}
	filter = f
	wasp_plugin_log.Log(wasp_plugin_types.Level_Info,
		fmt.Sprintf("{{name}}: dropping %d values of '%s'", len(f.Drop), f.Field))
	return witTypes.Ok[witTypes.Unit, string](witTypes.Unit{})
}

// Process decides each record of the batch: one verdict per record.
func Process(_ wasp_plugin_types.BatchInfo, batch []wasp_plugin_types.Message) []wasp_plugin_types.Verdict {
	verdicts := make([]wasp_plugin_types.Verdict, len(batch))
	for i, m := range batch {
		switch d, err := filter.Decide(m.Value.Some(), m.Value.IsSome()); {
		case err != nil:
			verdicts[i] = wasp_plugin_types.MakeVerdictReject(err.Error())
		case d == logic.Drop:
			verdicts[i] = wasp_plugin_types.MakeVerdictDrop()
		default:
			verdicts[i] = wasp_plugin_types.MakeVerdictPass()
		}
	}
	return verdicts
}

// Learn: this plugin does not learn; every correction is done.
func Learn(_ wasp_plugin_types.BatchInfo, batch []wasp_plugin_types.Message) []wasp_plugin_types.Verdict {
	verdicts := make([]wasp_plugin_types.Verdict, len(batch))
	for i := range verdicts {
		verdicts[i] = wasp_plugin_types.MakeVerdictDrop()
	}
	return verdicts
}
