"""The {{name}} logic, in plain Python: no Wasm bindings, so it runs under
`python3 -m unittest` as well as inside the component (app.py).

Drops records whose JSON field `field` holds one of the strings in `drop`,
forwards every other JSON object unchanged and rejects values that are not
JSON objects.
"""

import json

PASS, DROP = "pass", "drop"


class ConfigError(ValueError):
    """The stage config is refused; the message says what to fix."""


class Reject(Exception):
    """A record is refused; the message goes with it to the dead-letter topic."""


class Filter:
    def __init__(self, config="{}"):
        try:
            root = json.loads(config if config and config.strip() else "{}")
        except ValueError as e:
            raise ConfigError(f"config is not valid JSON: {e}") from None
        if not isinstance(root, dict):
            raise ConfigError("config must be a table (JSON object)")
        for key in root:
            if key not in ("field", "drop"):
                raise ConfigError(f"unknown config key '{key}': expected field or drop")
        self.field = root.get("field", "level")
        self.drop = root.get("drop", [])
        if not isinstance(self.field, str):
            raise ConfigError("'field' must be a field name")
        if not isinstance(self.drop, list) or not all(isinstance(d, str) for d in self.drop):
            raise ConfigError("'drop' must be a list of strings")

    def decide(self, value):
        """PASS or DROP for one record value (bytes or None); raises Reject."""
        try:
            record = json.loads(value) if value else None
        except ValueError:
            record = None
        if not isinstance(record, dict):
            raise Reject("value is not a JSON object")
        v = record.get(self.field)
        return DROP if isinstance(v, str) and v in self.drop else PASS
