"""json-transform as a wasp plugin component: a thin adapter from the
generated `wit_world` bindings to the logic in `transform.py`.

Built by `scripts/build-python-plugins` with componentize-py; the bindings
are generated at build time and not kept in the repository.
"""

from wit_world import exports
from wit_world.imports import types

from transform import ConfigError, JsonTransform, Reject
from wasp_adapter import Adapter


class Processor(Adapter, exports.Processor):
    name = "json-transform"
    version = "0.1.0"
    description = "require, select, scale, rename and set fields of JSON records"
    config_error = ConfigError

    def make(self, config: str):
        return JsonTransform(config)

    def process_batch(self, stage, batch: list) -> list:
        verdicts = []
        for message in batch:
            try:
                verdicts.append(types.Verdict_Value(stage.transform(message.value)))
            except Reject as r:
                verdicts.append(types.Verdict_Reject(r.reason))
        return verdicts
