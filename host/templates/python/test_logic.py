"""Unit tests of logic.py: `python3 -m unittest`."""

import unittest

from logic import DROP, PASS, ConfigError, Filter, Reject


class FilterTest(unittest.TestCase):
    def setUp(self):
        self.f = Filter('{"field":"level","drop":["debug"]}')

    def test_drops_configured_values_and_passes_the_rest(self):
        self.assertEqual(self.f.decide(b'{"level":"debug"}'), DROP)
        self.assertEqual(self.f.decide(b'{"level":"info"}'), PASS)
        self.assertEqual(self.f.decide(b'{"msg":"x"}'), PASS)
        self.assertEqual(self.f.decide(b'{"level":1}'), PASS)

    def test_rejects_values_that_are_not_objects(self):
        for value in (b"not json", b"[1]", b"", None):
            with self.assertRaises(Reject):
                self.f.decide(value)

    def test_config(self):
        self.assertEqual(Filter("").field, "level")
        with self.assertRaises(ConfigError):
            Filter('{"feild":"x"}')
        with self.assertRaises(ConfigError):
            Filter('{"drop":"debug"}')


if __name__ == "__main__":
    unittest.main()
