// Unit tests of logic.js: `node --test`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, Reject, decide, parseConfig } from './logic.js';

const cfg = parseConfig('{"field":"level","drop":["debug"]}');

test('drops configured values and passes the rest', () => {
  assert.equal(decide(cfg, '{"level":"debug"}'), 'drop');
  assert.equal(decide(cfg, '{"level":"info"}'), 'pass');
  assert.equal(decide(cfg, '{"msg":"x"}'), 'pass');
  assert.equal(decide(cfg, '{"level":1}'), 'pass');
});

test('rejects values that are not objects', () => {
  for (const v of ['not json', '[1]', '', undefined]) assert.throws(() => decide(cfg, v), Reject);
});

test('config', () => {
  assert.equal(parseConfig('').field, 'level');
  assert.throws(() => parseConfig('{"feild":"x"}'), ConfigError);
  assert.throws(() => parseConfig('{"drop":"debug"}'), ConfigError);
});
