"""The login-validator logic, in plain Python (no Wasm bindings).

A login event is a JSON object with a username and a password. It is valid
when:

* the username is 4 to 15 characters, ASCII letters and digits only;
* the password is at least 8 characters and holds an uppercase letter, a
  lowercase letter, a digit and a special character (anything but a letter,
  a digit or white space), as seed 003's registration form asks.

A valid event is forwarded unchanged. An invalid one goes to the feedback
topic with every broken rule, joined by "; ", in a field (`invalid_reason`
by default), or, with `invalid = "reject"`, to the dead-letter topic with
those rules as the reason (the value is not touched: a pipeline that must
not keep passwords redacts them with `topics.dead_letter_redact`). A value
that is not a JSON object is bad input, not an invalid login: it is
rejected to the dead-letter topic.

`app.py` adapts this module to the component bindings; the tests in
`test_validate.py` run it natively.
"""

import json

__all__ = ["ConfigError", "Reject", "Invalid", "LoginValidator", "check_username", "check_password"]

CONFIG_KEYS = ("username_field", "password_field", "reason_field", "invalid", "password_required")
INVALID_ROUTES = ("feedback", "reject")


class ConfigError(ValueError):
    """The stage config is refused; the message says what to fix."""


class Reject(Exception):
    """A record is refused; `reason` goes with it to the dead-letter topic."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class Invalid(Reject):
    """An event that breaks the rules, refused under `invalid = "reject"`."""


def _ascii_alnum(s):
    return s.isascii() and s.isalnum()


def check_username(name):
    """The broken username rules, in order (empty when valid)."""
    if not isinstance(name, str):
        return ["username is missing or not a string"]
    problems = []
    if not 4 <= len(name) <= 15:
        problems.append("username must be 4 to 15 characters")
    if name and not _ascii_alnum(name):
        problems.append("username must hold only letters and digits")
    return problems


def check_password(password):
    """The broken password rules, in order (empty when valid)."""
    if not isinstance(password, str):
        return ["password is missing or not a string"]
    problems = []
    if len(password) < 8:
        problems.append("password must be at least 8 characters")
    if not any("A" <= c <= "Z" for c in password):
        problems.append("password needs an uppercase letter")
    if not any("a" <= c <= "z" for c in password):
        problems.append("password needs a lowercase letter")
    if not any("0" <= c <= "9" for c in password):
        problems.append("password needs a digit")
    if not any(not c.isalnum() and not c.isspace() for c in password):
        problems.append("password needs a special character")
    return problems


class LoginValidator:
    """A configured stage. Config keys (all optional): `username_field`
    (default "username"), `password_field` ("password"), `reason_field`
    ("invalid_reason"), `invalid` ("feedback", or "reject" to dead-letter
    invalid events) and `password_required` (true; when false, an event
    without a password, such as a failed login, is checked on its username
    only)."""

    def __init__(self, config="{}"):
        text = config if config and config.strip() else "{}"
        try:
            root = json.loads(text)
        except ValueError as e:
            raise ConfigError(f"config is not valid JSON: {e}") from None
        if not isinstance(root, dict):
            raise ConfigError("config must be a table (JSON object)")
        for key, value in root.items():
            if key not in CONFIG_KEYS:
                raise ConfigError(f"unknown config key '{key}': expected one of {', '.join(CONFIG_KEYS)}")
            if key == "password_required":
                if not isinstance(value, bool):
                    raise ConfigError("'password_required' must be true or false")
            elif key == "invalid":
                if value not in INVALID_ROUTES:
                    raise ConfigError(f"'invalid' must be one of {', '.join(INVALID_ROUTES)}, not {value!r}")
            elif not isinstance(value, str) or not value:
                raise ConfigError(f"'{key}' must be a field name")
        self.username_field = root.get("username_field", "username")
        self.password_field = root.get("password_field", "password")
        self.reason_field = root.get("reason_field", "invalid_reason")
        self.reject_invalid = root.get("invalid", "feedback") == "reject"
        self.password_required = root.get("password_required", True)

    def describe(self):
        where = "dead-lettered" if self.reject_invalid else f"to feedback, reasons in '{self.reason_field}'"
        return (f"login-validator configured: checks '{self.username_field}' and "
                f"'{self.password_field}'; invalid events {where}")

    def check(self, value):
        """None when the event is valid; else the feedback record's bytes.
        Raises Reject for a value that is not a JSON object, and for an
        invalid event when configured with `invalid = "reject"`."""
        if not value:
            raise Reject("empty value: expected a JSON object")
        try:
            event = json.loads(value)
        except (ValueError, UnicodeDecodeError) as e:
            raise Reject(f"value is not valid JSON: {e}") from None
        if not isinstance(event, dict):
            raise Reject("value is not a JSON object")
        problems = check_username(event.get(self.username_field))
        if self.password_required or self.password_field in event:
            problems += check_password(event.get(self.password_field))
        if not problems:
            return None
        if self.reject_invalid:
            raise Invalid("; ".join(problems))
        event[self.reason_field] = "; ".join(problems)
        return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
