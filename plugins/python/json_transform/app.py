"""json-transform as a wasp plugin component: a thin adapter from the
generated `wit_world` bindings to the logic in `transform.py`.

Built by `scripts/build-python-plugins` with componentize-py; the bindings
are generated at build time and not kept in the repository.
"""

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import log, types

from transform import ConfigError, JsonTransform, Reject

# The configured stage. A component instance is single-threaded and the host
# calls `init` before anything else; a failed `init` keeps the previous value.
_stage = None


class Processor(exports.Processor):
    def info(self) -> types.PluginInfo:
        return types.PluginInfo(
            name="json-transform",
            version="0.1.0",
            description="require, select, scale, rename and set fields of JSON records",
        )

    def init(self, config: str) -> None:
        global _stage
        try:
            stage = JsonTransform(config)
        except ConfigError as e:
            raise Err(str(e))
        log.log(types.Level.INFO, stage.describe())
        _stage = stage

    def process(self, info: types.BatchInfo, batch: list) -> list:
        stage = _stage
        if stage is None:
            # A host bug, not bad input: trap like the Rust SDK does.
            raise RuntimeError("wasp host called the plugin before init")
        verdicts = []
        for message in batch:
            try:
                verdicts.append(types.Verdict_Value(stage.transform(message.value)))
            except Reject as r:
                verdicts.append(types.Verdict_Reject(r.reason))
        return verdicts

    def learn(self, info: types.BatchInfo, batch: list) -> list:
        return [types.Verdict_Drop() for _ in batch]
