"""The json-transform logic, in plain Python (no Wasm bindings).

Reshapes JSON object records in five fixed steps: require, select, scale,
rename, set. The Rust plugin `plugins/json-transform` implements the same
spec; both must give byte-identical outputs, so this module copies
serde_json's behaviour (the Rust side uses serde_json 1 with `preserve_order`
and `float_roundtrip`) wherever Python's `json` module differs:

* parsing refuses what serde_json refuses: NaN/Infinity literals, numbers out
  of the f64 range, lone UTF-16 surrogates in escapes, invalid UTF-8, and
  nesting 128 levels deep or more;
* integers keep serde_json's ranges: `-0` and integers outside
  [-2**63, 2**64) become floats;
* floats are printed like serde_json (shortest round-trip digits, fixed
  notation for exponents -5..=15, else `1.5e+16` / `1e-7`).

`app.py` adapts this module to the component bindings; the tests in
`test_transform.py` run it natively.
"""

import json
import math
import re

__all__ = ["ConfigError", "Reject", "JsonTransform", "loads", "dumps", "format_float"]

CONFIG_KEYS = "require, select, scale, rename, set"

# serde_json refuses a document nested this deep (its recursion limit).
MAX_DEPTH = 128

# What Rust's `str::trim` strips (Unicode White_Space); `str.strip()` with no
# argument would also strip U+001C..U+001F.
_RUST_WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


class ConfigError(ValueError):
    """The stage config is refused; the message says what to fix."""


class Reject(Exception):
    """A record is refused; `reason` goes with it to the dead-letter topic."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


# --- parsing ----------------------------------------------------------------


def _parse_int(text):
    n = int(text)
    if -(2**63) <= n < 2**64:
        if n == 0 and text[0] == "-":
            return -0.0  # serde_json reads `-0` as a float
        return n
    try:
        return float(n)  # serde_json reads out-of-range integers as f64
    except OverflowError:
        raise ValueError("number out of range") from None


def _parse_float(text):
    x = float(text)
    if math.isinf(x):
        raise ValueError("number out of range")
    return x


def _parse_constant(name):
    raise ValueError(f"invalid number {name}")


_DECODER = json.JSONDecoder(
    parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant
)

# A JSON string token, to skip brackets inside strings when measuring depth.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_BRACKET = re.compile(r"[\[\]{}]")
# A \u escape of a UTF-16 surrogate (possibly one of a valid pair).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _too_deep(text):
    """True if the document nests arrays/objects MAX_DEPTH levels or more."""
    depth = 0
    for m in _BRACKET.finditer(_STRING.sub("", text)):
        if m.group() in "[{":
            depth += 1
            if depth >= MAX_DEPTH:
                return True
        else:
            depth -= 1
    return False


# Any escape in a string; `\\` is consumed whole so `\\ud800` is no \u escape.
_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|.)", re.S)


def _lone_surrogate(text):
    """True if a \\u escape of a UTF-16 surrogate is not half of a pair.

    Python's json keeps such a surrogate in the string; serde_json refuses
    the document, even when a duplicate key later drops that string.
    """
    high_end = -1  # where the last unpaired high surrogate escape ended
    for m in _ESCAPE.finditer(text):
        hexcode = m.group(1)
        cp = int(hexcode, 16) if hexcode else -1
        if high_end >= 0:
            if m.start() != high_end or not 0xDC00 <= cp <= 0xDFFF:
                return True
            high_end = -1
        elif 0xD800 <= cp <= 0xDBFF:
            high_end = m.end()
        elif 0xDC00 <= cp <= 0xDFFF:
            return True
    return high_end >= 0


def loads(data):
    """Parse JSON text (str or UTF-8 bytes) as serde_json would.

    Raises ValueError with a short detail when serde_json would refuse it.
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"invalid UTF-8 at byte {e.start}") from None
    else:
        text = data
    # Counting is cheap; only a document with many brackets can be too deep.
    if text.count("[") + text.count("{") >= MAX_DEPTH and _too_deep(text):
        raise ValueError("recursion limit exceeded")
    if _SURROGATE_ESCAPE.search(text) and _lone_surrogate(text):
        raise ValueError("lone UTF-16 surrogate in a \\u escape")
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{e.msg} at line {e.lineno} column {e.colno}") from None
    except RecursionError:
        raise ValueError("recursion limit exceeded") from None
    return value


# --- serialising --------------------------------------------------------------


def format_float(x):
    """A finite float as serde_json prints it.

    Python's repr and serde_json both print the shortest digits that read
    back to the same float, and both use fixed notation for decimal
    exponents -4..=15; serde_json also does for -5 and writes exponents
    without zero padding (`1e-7`, `1.5e+16`).
    """
    r = repr(x)
    e = r.find("e")
    if e < 0:
        return r
    mantissa, exp = r[:e], int(r[e + 1 :])
    if exp == -5:
        sign = "-" if mantissa[0] == "-" else ""
        return sign + "0.0000" + mantissa.lstrip("-").replace(".", "")
    return f"{mantissa}e{'+' if exp >= 0 else '-'}{abs(exp)}"


# A float with an exponent in json.dumps output, or a whole string token
# (matched so that text inside strings is left alone).
_EXP_HINT = re.compile(r"\de[-+]")
_FLOAT_OR_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?e[-+]\d+', re.S)


def _fix_float(m):
    token = m.group()
    return token if token[0] == '"' else format_float(float(token))


def dumps(value):
    """Compact JSON as serde_json writes it, as UTF-8 bytes.

    json.dumps already matches serde_json for compact separators, insertion
    key order, string escapes (with ensure_ascii=False) and most floats; only
    floats that Python writes with an exponent need rewriting.
    """
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    if _EXP_HINT.search(text):
        text = _FLOAT_OR_STRING.sub(_fix_float, text)
    return text.encode("utf-8")


# --- config ---------------------------------------------------------------


def _is_number(v):
    # bool is a subclass of int but is not a JSON number.
    return type(v) is int or type(v) is float


def _field_list(key, v):
    if not isinstance(v, list) or not all(isinstance(f, str) for f in v):
        raise ConfigError(f"'{key}' must be a list of field names")
    return list(v)


def _table(key, v):
    if not isinstance(v, dict):
        raise ConfigError(f"'{key}' must be a table of field names")
    return v


def _scale_entry(field, v):
    if not isinstance(v, dict):
        raise ConfigError(f"'scale.{field}' must be a table with multiply and/or offset")
    multiply, offset = 1.0, 0.0
    for k, n in v.items():
        if not _is_number(n):
            raise ConfigError(f"'scale.{field}.{k}' must be a number")
        if k == "multiply":
            multiply = float(n)
        elif k == "offset":
            offset = float(n)
        else:
            raise ConfigError(f"unknown key 'scale.{field}.{k}': expected multiply or offset")
    return multiply, offset


class JsonTransform:
    """One configured json-transform stage."""

    def __init__(self, config="{}"):
        """Parse the stage config (JSON text); raises ConfigError."""
        self.require = []
        self.select = None  # a set of field names, or None to keep every field
        self.scale = []  # (field, multiply, offset), in config order
        self.rename = {}
        self.set = {}
        if not config.strip(_RUST_WHITESPACE):
            config = "{}"
        try:
            root = loads(config)
        except ValueError as e:
            raise ConfigError(f"config is not valid JSON: {e}") from None
        if not isinstance(root, dict):
            raise ConfigError("config must be a table (JSON object)")
        for key, v in root.items():
            if key == "require":
                self.require = _field_list(key, v)
            elif key == "select":
                self.select = set(_field_list(key, v))
            elif key == "scale":
                self.scale = [(f, *_scale_entry(f, e)) for f, e in _table(key, v).items()]
            elif key == "rename":
                for old, new in _table(key, v).items():
                    if not isinstance(new, str):
                        raise ConfigError(f"'rename.{old}' must be a field name")
                    self.rename[old] = new
            elif key == "set":
                self.set = dict(_table(key, v))
            else:
                raise ConfigError(f"unknown config key '{key}': expected one of {CONFIG_KEYS}")

    def describe(self):
        """The line logged once the config is accepted."""
        return f"json-transform configured: {len(self.scale)} scale fields"

    def transform(self, value):
        """Transform one record value (bytes or None); raises Reject."""
        if not value:
            raise Reject("empty value: expected a JSON object")
        try:
            obj = loads(value)
        except ValueError as e:
            raise Reject(f"value is not valid JSON: {e}") from None
        if not isinstance(obj, dict):
            raise Reject("value is not a JSON object")
        for field in self.require:
            if field not in obj:
                raise Reject(f"missing required field '{field}'")
        if self.select is not None:
            keep = self.select
            obj = {k: v for k, v in obj.items() if k in keep}
        for field, multiply, offset in self.scale:
            if field in obj:
                v = obj[field]
                if not _is_number(v):
                    raise Reject(f"field '{field}' is not a number")
                y = float(v) * multiply + offset
                if not math.isfinite(y):
                    raise Reject(f"field '{field}' scaled to a non-finite number")
                obj[field] = y
        if self.rename:
            rename = self.rename
            # A renamed key keeps its position; if it collides with a later
            # key, the later value wins at the first position (as in Rust).
            renamed = {}
            for k, v in obj.items():
                renamed[rename.get(k, k)] = v
            obj = renamed
        for k, v in self.set.items():
            obj[k] = v
        return dumps(obj)
