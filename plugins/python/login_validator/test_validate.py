"""Native tests of the login-validator logic (no Wasm needed).

Run from this directory with `python3 -m unittest`.
"""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from validate import ConfigError, Invalid, LoginValidator, Reject, check_password, check_username  # noqa: E402


def feedback(value, config="{}"):
    out = LoginValidator(config).check(value)
    return None if out is None else json.loads(out)


class UsernameTest(unittest.TestCase):
    def test_valid(self):
        for name in ("abcd", "Ada1815", "a" * 15, "0000"):
            self.assertEqual(check_username(name), [], name)

    def test_length(self):
        for name in ("abc", "a" * 16, ""):
            self.assertIn("username must be 4 to 15 characters", check_username(name), name)

    def test_alphanumerics_only(self):
        for name in ("ada_l", "ada l", "ada-1", "adé123", "ada١٢٣"):
            self.assertEqual(check_username(name), ["username must hold only letters and digits"], name)

    def test_missing(self):
        self.assertEqual(check_username(None), ["username is missing or not a string"])
        self.assertEqual(check_username(42), ["username is missing or not a string"])


class PasswordTest(unittest.TestCase):
    def test_valid(self):
        for pw in ("Passw0rd!", "aB3aB3aB3#", "Zz9!!!!!", "Spa ce1-x"):
            self.assertEqual(check_password(pw), [], pw)

    def test_each_rule(self):
        self.assertEqual(check_password("Pas0rd!"), ["password must be at least 8 characters"])
        self.assertEqual(check_password("password1!"), ["password needs an uppercase letter"])
        self.assertEqual(check_password("PASSWORD1!"), ["password needs a lowercase letter"])
        self.assertEqual(check_password("Password!"), ["password needs a digit"])
        self.assertEqual(check_password("Password1"), ["password needs a special character"])
        # White space is not a special character; non-ASCII letters are letters.
        self.assertEqual(check_password("Pass word1"), ["password needs a special character"])
        self.assertEqual(check_password("ÄÖÜäöü12!"), ["password needs an uppercase letter",
                                                        "password needs a lowercase letter"])

    def test_all_rules_at_once(self):
        self.assertEqual(len(check_password("")), 5)
        self.assertEqual(check_password(None), ["password is missing or not a string"])


class EventTest(unittest.TestCase):
    def test_valid_event_has_no_feedback(self):
        self.assertIsNone(feedback(b'{"username":"ada1815","password":"Analytical1!"}'))

    def test_invalid_event_gets_every_reason_in_its_field(self):
        out = feedback(b'{"username":"al","password":"short","ts":1}')
        self.assertEqual(out, {"username": "al", "password": "short", "ts": 1,
                               "invalid_reason": "username must be 4 to 15 characters; "
                               "password must be at least 8 characters; "
                               "password needs an uppercase letter; password needs a digit; "
                               "password needs a special character"})

    def test_reject_mode_dead_letters_with_the_broken_rules(self):
        v = LoginValidator('{"invalid":"reject"}')
        self.assertIsNone(v.check(b'{"username":"ada1815","password":"Analytical1!"}'))
        with self.assertRaises(Invalid) as r:
            v.check(b'{"username":"ada_1815","password":"Analytical1"}')
        self.assertEqual(r.exception.reason, "username must hold only letters and digits; "
                         "password needs a special character")

    def test_password_optional_checks_events_without_one_on_the_username(self):
        v = LoginValidator('{"invalid":"reject","password_required":false}')
        self.assertIsNone(v.check(b'{"username":"ada1815","event_type":"incorrect_password"}'))
        with self.assertRaises(Invalid) as r:
            v.check(b'{"username":"ada","event_type":"incorrect_password"}')
        self.assertEqual(r.exception.reason, "username must be 4 to 15 characters")
        # A password that is there is checked all the same.
        with self.assertRaises(Invalid):
            v.check(b'{"username":"ada1815","password":"weak"}')
        with self.assertRaises(Invalid) as r:
            LoginValidator('{"invalid":"reject"}').check(b'{"username":"ada1815"}')
        self.assertEqual(r.exception.reason, "password is missing or not a string")

    def test_output_is_compact_utf8_json_in_input_order(self):
        out = LoginValidator().check('{"b":1,"username":"jürgen","password":"x"}'.encode())
        self.assertTrue(out.decode().startswith('{"b":1,"username":"jürgen","password":"x","invalid_reason":'))

    def test_configured_fields(self):
        cfg = '{"username_field":"user","password_field":"pw","reason_field":"why"}'
        self.assertIsNone(feedback(b'{"user":"grace","pw":"C0b0lRules!"}', cfg))
        self.assertEqual(feedback(b'{"user":"grace","pw":"c0b0lrules!"}', cfg)["why"],
                         "password needs an uppercase letter")

    def test_bad_input_is_rejected(self):
        v = LoginValidator()
        for value, want in ((None, "empty value"), (b"", "empty value"), (b"{oops", "value is not valid JSON"),
                            (b"\xff", "value is not valid JSON"), (b"[1]", "value is not a JSON object")):
            with self.assertRaises(Reject) as r:
                v.check(value)
            self.assertTrue(r.exception.reason.startswith(want), r.exception.reason)


class ConfigTest(unittest.TestCase):
    def refused(self, config):
        with self.assertRaises(ConfigError) as e:
            LoginValidator(config)
        return str(e.exception)

    def test_empty_config_is_the_default(self):
        for cfg in ("", "{}", " "):
            self.assertEqual(LoginValidator(cfg).reason_field, "invalid_reason")

    def test_bad_configs_name_the_key(self):
        self.assertTrue(self.refused("{oops").startswith("config is not valid JSON"))
        self.assertEqual(self.refused("[]"), "config must be a table (JSON object)")
        self.assertEqual(self.refused('{"user":"u"}'),
                         "unknown config key 'user': expected one of username_field, password_field, "
                         "reason_field, invalid, password_required")
        self.assertEqual(self.refused('{"reason_field":1}'), "'reason_field' must be a field name")
        self.assertEqual(self.refused('{"invalid":"drop"}'), "'invalid' must be one of feedback, reject, not 'drop'")
        self.assertEqual(self.refused('{"password_required":"no"}'), "'password_required' must be true or false")


if __name__ == "__main__":
    unittest.main()
