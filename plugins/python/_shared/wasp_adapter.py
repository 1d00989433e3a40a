"""The part of a Python plugin's component adapter that every plugin shares:
`info`, `init` (configure, log what was configured, keep the stage),
`process` (refuse a call before `init`) and a `learn` that ignores its
records. A plugin's `app.py` subclasses `Adapter` together with the
generated `exports.Processor` and fills in what is its own.

`scripts/build-python-plugins` puts this directory on componentize-py's path.
"""

from componentize_py_types import Err
from wit_world.imports import log, types


class Adapter:
    # Set by the subclass.
    name = ""
    version = ""
    description = ""
    # The exception the plugin's logic raises for a bad config; its text is
    # what the user sees.
    config_error = ValueError

    # Kept on the class, not the instance: the configured stage must outlive
    # whatever Processor object the bindings create per call. A failed
    # `init` keeps the previous stage, as the contract asks.
    _stage = None

    def make(self, config: str):
        """The configured stage; raise `config_error` to refuse `config`."""
        raise NotImplementedError

    def process_batch(self, stage, batch: list) -> list:
        """One verdict per message of `batch`."""
        raise NotImplementedError

    def info(self) -> types.PluginInfo:
        return types.PluginInfo(name=self.name, version=self.version, description=self.description)

    def init(self, config: str) -> None:
        try:
            stage = self.make(config)
        except self.config_error as e:
            raise Err(str(e))
        log.log(types.Level.INFO, stage.describe())
        type(self)._stage = stage

    def process(self, info: types.BatchInfo, batch: list) -> list:
        stage = type(self)._stage
        if stage is None:
            # A host bug, not bad input: trap like the Rust SDK does.
            raise RuntimeError("wasp host called the plugin before init")
        return self.process_batch(stage, batch)

    def learn(self, info: types.BatchInfo, batch: list) -> list:
        return [types.Verdict_Drop() for _ in batch]
