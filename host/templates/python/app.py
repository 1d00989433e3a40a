"""{{name}} as a wasp plugin component: a thin adapter from the bindings
that componentize-py generates from wit/plugin.wit (module `wit_world`) to
the logic in logic.py. Built by ./build.sh.
"""

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import log, types

from logic import DROP, ConfigError, Filter, Reject

_filter = None


class Processor(exports.Processor):
    def info(self) -> types.PluginInfo:
        return types.PluginInfo(name="{{name}}", version="0.1.0",
                                description="drops records by the value of a field")

    def init(self, config: str) -> None:
        global _filter
        try:
            f = Filter(config)
        except ConfigError as e:
            raise Err(str(e))  # refuses the config; the message is shown to the user
        log.log(types.Level.INFO, f"{{name}}: dropping {len(f.drop)} values of '{f.field}'")
        _filter = f

    def process(self, info: types.BatchInfo, batch: list) -> list:
        verdicts = []
        for message in batch:
            try:
                decision = _filter.decide(message.value)
            except Reject as r:
                verdicts.append(types.Verdict_Reject(str(r)))
                continue
            verdicts.append(types.Verdict_Drop() if decision == DROP else types.Verdict_Pass())
        return verdicts

    def learn(self, info: types.BatchInfo, batch: list) -> list:
        return [types.Verdict_Drop() for _ in batch]
