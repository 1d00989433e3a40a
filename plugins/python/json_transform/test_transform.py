"""Native tests of the json-transform logic (no Wasm needed).

Run from this directory with `python3 -m unittest`, or from the repository
root with `python3 -m unittest discover -s plugins/python/json_transform`.
Expected bytes are what the Rust twin (serde_json) writes for the same input.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from transform import ConfigError, JsonTransform, Reject, dumps, format_float, loads  # noqa: E402


def run(config, value):
    """Output bytes as str, or raise Reject."""
    return JsonTransform(config).transform(value).decode("utf-8")


def reason(config, value):
    try:
        out = JsonTransform(config).transform(value)
    except Reject as r:
        return r.reason
    raise AssertionError(f"expected a reject, got {out!r}")


def config_error(config):
    try:
        JsonTransform(config)
    except ConfigError as e:
        return str(e)
    raise AssertionError(f"expected config {config!r} to be refused")


class ConfigTest(unittest.TestCase):
    def test_empty_config_is_identity(self):
        for cfg in ("{}", "", "  \n"):
            self.assertEqual(run(cfg, b'{"b":1, "a": [true, null]}'), '{"b":1,"a":[true,null]}')

    def test_default_argument_is_empty_config(self):
        self.assertEqual(JsonTransform().transform(b'{"a":1}'), b'{"a":1}')

    def test_config_must_be_a_json_object(self):
        self.assertTrue(config_error("{oops").startswith("config is not valid JSON: "))
        self.assertTrue(config_error("NaN").startswith("config is not valid JSON: "))
        self.assertEqual(config_error("[]"), "config must be a table (JSON object)")
        self.assertEqual(config_error('"x"'), "config must be a table (JSON object)")

    def test_unknown_key_names_it_and_lists_the_valid_ones(self):
        self.assertEqual(
            config_error('{"scael":{}}'),
            "unknown config key 'scael': expected one of require, select, scale, rename, set",
        )

    def test_field_lists(self):
        self.assertEqual(config_error('{"select":"a"}'), "'select' must be a list of field names")
        self.assertEqual(config_error('{"select":null}'), "'select' must be a list of field names")
        self.assertEqual(config_error('{"require":["a",1]}'), "'require' must be a list of field names")

    def test_tables(self):
        for key in ("scale", "rename", "set"):
            self.assertEqual(config_error('{"%s":[]}' % key), f"'{key}' must be a table of field names")
        self.assertEqual(config_error('{"rename":{"a":1}}'), "'rename.a' must be a field name")

    def test_scale_entries(self):
        self.assertEqual(
            config_error('{"scale":{"a":2}}'), "'scale.a' must be a table with multiply and/or offset"
        )
        self.assertEqual(config_error('{"scale":{"a":{"multiply":"2"}}}'), "'scale.a.multiply' must be a number")
        self.assertEqual(config_error('{"scale":{"a":{"offset":true}}}'), "'scale.a.offset' must be a number")
        self.assertEqual(
            config_error('{"scale":{"a":{"times":2}}}'),
            "unknown key 'scale.a.times': expected multiply or offset",
        )
        # The number check comes first, as in the Rust twin.
        self.assertEqual(config_error('{"scale":{"a":{"times":"x"}}}'), "'scale.a.times' must be a number")

    def test_first_error_in_config_order_wins(self):
        self.assertEqual(config_error('{"select":1,"bogus":1}'), "'select' must be a list of field names")
        self.assertIn("'bogus'", config_error('{"bogus":1,"select":1}'))

    def test_describe_counts_scale_fields(self):
        t = JsonTransform('{"scale":{"a":{},"b":{"offset":1}}}')
        self.assertEqual(t.describe(), "json-transform configured: 2 scale fields")
        self.assertEqual(t.scale, [("a", 1.0, 0.0), ("b", 1.0, 1.0)])


class RejectTest(unittest.TestCase):
    def test_empty_values(self):
        for value in (None, b""):
            self.assertEqual(reason("{}", value), "empty value: expected a JSON object")

    def test_invalid_json(self):
        for value in (b"{oops", b"{", b'{"a":1}x', b" ", b"\xff{}", b'{"a":NaN}',
                      b'{"a":Infinity}', b'{"a":1e400}', b'{"a":01}', b'{"a":"\\ud800"}',
                      b'{"a":"\x01"}', b"\xef\xbb\xbf{}", b'{"a":1,}', b"{'a':1}",
                      # lone surrogates, even in a value that a duplicate key drops
                      b'{"a":"\\udc00"}', b'{"a":"\\ud83d"}', b'{"a":"\\ud83dx"}', b'{"a":"\\ud83d\\n"}',
                      b'{"a":"\\ud83d\\ud83d"}', b'{"a":"\\ud800","a":1}'):
            with self.subTest(value=value):
                self.assertTrue(reason("{}", value).startswith("value is not valid JSON: "))

    def test_not_an_object(self):
        for value in (b"[1]", b'"x"', b"1", b"null", b"true"):
            self.assertEqual(reason("{}", value), "value is not a JSON object")

    def test_require(self):
        cfg = '{"require":["a","b"]}'
        self.assertEqual(reason(cfg, b'{"c":1}'), "missing required field 'a'")
        self.assertEqual(reason(cfg, b'{"a":1}'), "missing required field 'b'")
        self.assertEqual(run(cfg, b'{"b":null,"a":1}'), '{"b":null,"a":1}')

    def test_require_runs_before_select(self):
        self.assertEqual(reason('{"require":["a"],"select":["b"]}', b'{"b":1}'), "missing required field 'a'")
        self.assertEqual(run('{"require":["a"],"select":["b"]}', b'{"a":1,"b":2}'), '{"b":2}')

    def test_scale_needs_a_number(self):
        cfg = '{"scale":{"a":{"multiply":2}}}'
        for v in (b"true", b'"1"', b"null", b"[1]", b"{}"):
            self.assertEqual(reason(cfg, b'{"a":' + v + b"}"), "field 'a' is not a number")

    def test_scale_to_infinity(self):
        self.assertEqual(
            reason('{"scale":{"a":{"multiply":1e308}}}', b'{"a":10}'),
            "field 'a' scaled to a non-finite number",
        )


class TransformTest(unittest.TestCase):
    def test_steps_in_order_and_key_order(self):
        # The same case as the Rust twin's unit test.
        cfg = """{"require":["a"],"select":["c","a","b"],"scale":{"a":{"multiply":2,"offset":1}},
                 "rename":{"a":"alpha"},"set":{"z":true,"b":"x"}}"""
        self.assertEqual(run(cfg, b'{"a":5,"d":0,"b":1,"c":[1]}'), '{"alpha":11.0,"b":"x","c":[1],"z":true}')

    def test_select_keeps_record_order_and_ignores_absent_fields(self):
        self.assertEqual(run('{"select":["c","a","zz"]}', b'{"a":1,"b":2,"c":3}'), '{"a":1,"c":3}')
        self.assertEqual(run('{"select":[]}', b'{"a":1}'), "{}")

    def test_scale(self):
        self.assertEqual(run('{"scale":{"a":{"multiply":2.0,"offset":1.0}}}', b'{"a":2.5}'), '{"a":6.0}')
        self.assertEqual(run('{"scale":{"a":{"multiply":3}}}', b'{"a":3.4}'), '{"a":10.2}')
        # Defaults: multiply 1, offset 0; the result is always a float.
        self.assertEqual(run('{"scale":{"a":{}}}', b'{"a":7,"b":7}'), '{"a":7.0,"b":7}')
        self.assertEqual(run('{"scale":{"a":{"offset":-1}}}', b'{"a":1}'), '{"a":0.0}')
        # Absent field: skipped.
        self.assertEqual(run('{"scale":{"a":{"multiply":2}}}', b'{"b":1}'), '{"b":1}')
        # Computed as value*multiply+offset in f64, two roundings.
        self.assertEqual(run('{"scale":{"a":{"multiply":0.1,"offset":0.2}}}', b'{"a":1}'),
                         '{"a":0.30000000000000004}')

    def test_scale_runs_after_select(self):
        self.assertEqual(run('{"select":["b"],"scale":{"a":{"multiply":2}}}', b'{"a":"x","b":1}'), '{"b":1}')

    def test_rename_keeps_position(self):
        self.assertEqual(run('{"rename":{"b":"B","zz":"y"}}', b'{"a":1,"b":2,"c":3}'), '{"a":1,"B":2,"c":3}')

    def test_rename_is_one_simultaneous_pass(self):
        self.assertEqual(run('{"rename":{"a":"b","b":"a"}}', b'{"a":1,"b":2}'), '{"b":1,"a":2}')

    def test_rename_collision_later_value_wins_at_first_position(self):
        self.assertEqual(run('{"rename":{"a":"b"}}', b'{"a":1,"x":0,"b":2}'), '{"b":2,"x":0}')
        self.assertEqual(run('{"rename":{"b":"a"}}', b'{"a":1,"x":0,"b":2}'), '{"a":2,"x":0}')

    def test_scale_runs_before_rename_and_set(self):
        cfg = '{"scale":{"a":{"multiply":2}},"rename":{"a":"b"},"set":{"a":1}}'
        self.assertEqual(run(cfg, b'{"a":2}'), '{"b":4.0,"a":1}')

    def test_set_replaces_in_place_and_appends_new(self):
        cfg = '{"set":{"n":{"x":[1,2.5,"s",null]},"a":false}}'
        self.assertEqual(run(cfg, b'{"a":1,"b":2}'), '{"a":false,"b":2,"n":{"x":[1,2.5,"s",null]}}')

    def test_nested_values_pass_through(self):
        v = b'{"a":{"b":[1,-2,3.5,{"c":null}],"d":""},"e":[]}'
        self.assertEqual(run("{}", v), v.decode())

    def test_duplicate_keys_last_value_at_first_position(self):
        self.assertEqual(run("{}", b'{"a":1,"b":2,"a":3}'), '{"a":3,"b":2}')

    def test_strings_are_utf8_and_escaped_like_serde_json(self):
        v = '{"é":"ü \\u20ac \\ud83d\\ude00 \\" \\\\ \\/ \\n\\r\\t\\b\\f \\u0001 \\u001f \x7f"}'.encode()
        self.assertEqual(run("{}", v), '{"é":"ü € 😀 \\" \\\\ / \\n\\r\\t\\b\\f \\u0001 \\u001f \x7f"}')

    def test_numbers_round_trip_like_serde_json(self):
        cases = {
            b"0": "0", b"-0": "-0.0", b"-1": "-1", b"1.0": "1.0", b"1e2": "100.0", b"1E+2": "100.0",
            b"1.5e300": "1.5e+300", b"1e16": "1e+16", b"1e15": "1000000000000000.0",
            b"0.0001": "0.0001", b"0.00001": "0.00001", b"0.000012345": "0.000012345",
            b"1e-6": "1e-6", b"-1.5e-7": "-1.5e-7", b"5e-324": "5e-324", b"1e-400": "0.0",
            b"18446744073709551615": "18446744073709551615",
            b"18446744073709551616": "1.8446744073709552e+19",
            b"-9223372036854775808": "-9223372036854775808",
            b"-9223372036854775809": "-9.223372036854776e+18",
        }
        for text, want in cases.items():
            with self.subTest(text=text):
                self.assertEqual(run("{}", b'{"n":' + text + b"}"), '{"n":%s}' % want)

    def test_surrogate_pairs_and_escaped_backslashes(self):
        self.assertEqual(run("{}", b'{"a":"\\ud83d\\ude00"}'), '{"a":"\U0001f600"}')
        self.assertEqual(run("{}", b'{"a":"\\\\ud800"}'), '{"a":"\\\\ud800"}')

    def test_float_text_inside_strings_is_untouched(self):
        self.assertEqual(run("{}", b'{"s":"1e+16 2e-07","n":1e16}'), '{"s":"1e+16 2e-07","n":1e+16}')

    def test_nesting_limit_matches_serde_json(self):
        ok = b'{"a":' + b"[" * 126 + b"]" * 126 + b"}"  # 127 levels
        self.assertEqual(run("{}", ok), ok.decode())
        deep = b'{"a":' + b"[" * 127 + b"]" * 127 + b"}"  # 128 levels
        self.assertTrue(reason("{}", deep).startswith("value is not valid JSON: "))
        # Brackets inside strings do not count.
        self.assertEqual(run("{}", b'{"a":"' + b"[" * 300 + b'"}'), '{"a":"' + "[" * 300 + '"}')


class FormatTest(unittest.TestCase):
    def test_format_float(self):
        cases = {6.0: "6.0", 10.2: "10.2", -0.0: "-0.0", 1e16: "1e+16", 1.5e16: "1.5e+16",
                 1e-5: "0.00001", -1.2e-5: "-0.000012", 1e-6: "1e-6", 1.7976931348623157e308:
                 "1.7976931348623157e+308", 2.2250738585072014e-308: "2.2250738585072014e-308",
                 123456789.125: "123456789.125", 0.1: "0.1"}
        for x, want in cases.items():
            self.assertEqual(format_float(x), want)

    def test_loads_and_dumps(self):
        self.assertEqual(loads('{"a":-0}'), {"a": -0.0})
        self.assertEqual(dumps({"a": [1e-7, "x"], "b": True}), b'{"a":[1e-7,"x"],"b":true}')
        with self.assertRaises(ValueError):
            loads(b"\xc3")


if __name__ == "__main__":
    unittest.main()
