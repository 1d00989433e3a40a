// Native tests of the scale logic: `node --test` in this directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, Reject, parseConfig, scale } from './scale.js';

const CONFIG = '{"scale":{"temperature":{"multiply":2,"offset":0.5},"humidity":{"multiply":0.1}}}';
const run = (value, config = CONFIG) => scale(parseConfig(config), value);
const thrown = (kind, f) => {
  try {
    f();
  } catch (e) {
    if (e instanceof kind) return e.message;
    throw e;
  }
  assert.fail('expected a throw');
};

test('scales the configured fields in place and passes the others through', () => {
  assert.equal(
    run('{"id":1,"sensor":"boiler-1","temperature":21.5,"humidity":41.25,"ok":true}'),
    '{"id":1,"sensor":"boiler-1","temperature":43.5,"humidity":4.125,"ok":true}',
  );
  assert.equal(run('{"id":3,"humidity":50}'), '{"id":3,"humidity":5}');
});

test('defaults: multiply 1, offset 0; empty config is identity', () => {
  assert.equal(run('{"a":2}', '{"scale":{"a":{"offset":1}}}'), '{"a":3}');
  for (const cfg of ['', '{}', ' ']) assert.equal(run('{"b":1,"a":[true,null]}', cfg), '{"b":1,"a":[true,null]}');
});

test('bad records are rejected with the Rust twin\'s reasons', () => {
  assert.equal(thrown(Reject, () => run(undefined)), 'empty value: expected a JSON object');
  assert.equal(thrown(Reject, () => run('')), 'empty value: expected a JSON object');
  assert.match(thrown(Reject, () => run('{oops')), /^value is not valid JSON: /);
  for (const v of ['[1]', '"x"', '1', 'null']) assert.equal(thrown(Reject, () => run(v)), 'value is not a JSON object');
  assert.equal(thrown(Reject, () => run('{"temperature":"hot"}')), "field 'temperature' is not a number");
  assert.equal(thrown(Reject, () => run('{"temperature":null}')), "field 'temperature' is not a number");
  assert.equal(
    thrown(Reject, () => run('{"temperature":1e308}')),
    "field 'temperature' scaled to a non-finite number",
  );
});

test('bad configs are refused naming the key', () => {
  const refused = (cfg) => thrown(ConfigError, () => parseConfig(cfg));
  assert.match(refused('{oops'), /^config is not valid JSON: /);
  assert.equal(refused('[]'), 'config must be a table (JSON object)');
  assert.match(refused('{"select":["id"]}'), /^unknown config key 'select': the JS scale plugin implements only 'scale'/);
  assert.equal(refused('{"scale":[]}'), "'scale' must be a table of field names");
  assert.equal(refused('{"scale":{"a":2}}'), "'scale.a' must be a table with multiply and/or offset");
  assert.equal(refused('{"scale":{"a":{"multiply":"2"}}}'), "'scale.a.multiply' must be a number");
  assert.equal(refused('{"scale":{"a":{"times":2}}}'), "unknown key 'scale.a.times': expected multiply or offset");
});
