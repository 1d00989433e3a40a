"""login-validator as a wasp plugin component: a thin adapter from the
generated `wit_world` bindings to the logic in `validate.py`.

Built by `scripts/build-python-plugins` with componentize-py; the bindings
are generated at build time and not kept in the repository.
"""

from wit_world import exports
from wit_world.imports import metrics, types

from validate import ConfigError, Invalid, LoginValidator, Reject
from wasp_adapter import Adapter


class Processor(Adapter, exports.Processor):
    name = "login-validator"
    version = "0.1.0"
    description = "checks username and password rules of login events; invalid ones go to feedback or the dead-letter topic"
    config_error = ConfigError

    def make(self, config: str):
        stage = LoginValidator(config)
        # print() works too: the host logs plugin stdout under the stage's name.
        print("login-validator ready")
        return stage

    def process_batch(self, stage, batch: list) -> list:
        verdicts = []
        invalid = 0
        for message in batch:
            try:
                feedback = stage.check(message.value)
            except Reject as r:
                invalid += isinstance(r, Invalid)
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
