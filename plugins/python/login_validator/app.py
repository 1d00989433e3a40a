"""login-validator as a wasp plugin component: a thin adapter from the
generated `wit_world` bindings to the logic in `validate.py`.

Built by `scripts/build-python-plugins` with componentize-py; the bindings
are generated at build time and not kept in the repository.
"""

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import log, metrics, types

from validate import ConfigError, LoginValidator, Reject

_stage = None


class Processor(exports.Processor):
    def info(self) -> types.PluginInfo:
        return types.PluginInfo(
            name="login-validator",
            version="0.1.0",
            description="checks username and password rules of login events; invalid ones go to feedback",
        )

    def init(self, config: str) -> None:
        global _stage
        try:
            stage = LoginValidator(config)
        except ConfigError as e:
            raise Err(str(e))
        log.log(types.Level.INFO, stage.describe())
        # print() works too: the host logs plugin stdout under the stage's name.
        print("login-validator ready")
        _stage = stage

    def process(self, info: types.BatchInfo, batch: list) -> list:
        stage = _stage
        if stage is None:
            raise RuntimeError("wasp host called the plugin before init")
        verdicts = []
        invalid = 0
        for message in batch:
            try:
                feedback = stage.check(message.value)
            except Reject as r:
                verdicts.append(types.Verdict_Reject(r.reason))
                continue
            if feedback is None:
                verdicts.append(types.Verdict_Pass())
            else:
                invalid += 1
                out = types.Output(destination=types.Destination_Feedback(), key=None,
                                   value=feedback, headers=[])
                verdicts.append(types.Verdict_Emit([out]))
        if invalid:
            metrics.counter_add("invalid_logins", invalid)
        return verdicts

    def learn(self, info: types.BatchInfo, batch: list) -> list:
        return [types.Verdict_Drop() for _ in batch]
