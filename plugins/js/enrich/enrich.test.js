// Native tests of the enrich logic: `node --test` in this directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, Reject, enrich, parseConfig } from './enrich.js';

const run = (config, value) => enrich(parseConfig(config), value);
const reason = (config, value) => {
  try {
    run(config, value);
  } catch (e) {
    if (e instanceof Reject) return e.message;
    throw e;
  }
  assert.fail(`expected ${value} to be rejected`);
};
const configError = (config) => {
  try {
    parseConfig(config);
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  assert.fail(`expected config ${config} to be refused`);
};

const FULL = JSON.stringify({
  concat: { full_name: { fields: ['first_name', 'last_name'] } },
  domain: { email_domain: 'email' },
  lowercase: ['email'],
  set: { ingested: true },
});

test('empty config is identity (up to JSON re-serialisation)', () => {
  for (const cfg of ['', '{}', '  ']) assert.equal(run(cfg, '{"b":1, "a":[true,null]}'), '{"b":1,"a":[true,null]}');
});

test('every step, in order, new fields appended', () => {
  assert.equal(
    run(FULL, '{"id":1,"first_name":"Ada","last_name":"Lovelace","email":"Ada@Example.COM"}'),
    '{"id":1,"first_name":"Ada","last_name":"Lovelace","email":"ada@example.com",' +
      '"full_name":"Ada Lovelace","email_domain":"example.com","ingested":true}',
  );
});

test('concat skips missing and empty parts, adds nothing when none is present', () => {
  const cfg = '{"concat":{"n":{"fields":["a","b","c"],"separator":"-"}}}';
  assert.equal(run(cfg, '{"a":"x","b":"","c":"z"}'), '{"a":"x","b":"","c":"z","n":"x-z"}');
  assert.equal(run(cfg, '{"a":1}'), '{"a":1}');
});

test('domain needs a string with something after the last @', () => {
  const cfg = '{"domain":{"d":"e"}}';
  assert.equal(run(cfg, '{"e":"a@b@Mail.Org"}'), '{"e":"a@b@Mail.Org","d":"mail.org"}');
  assert.equal(run(cfg, '{"e":"nobody"}'), '{"e":"nobody"}');
  assert.equal(run(cfg, '{"e":"x@"}'), '{"e":"x@"}');
  assert.equal(run(cfg, '{"e":7}'), '{"e":7}');
});

test('set overwrites in place', () => {
  assert.equal(run('{"set":{"a":0,"z":[1]}}', '{"a":1,"b":2}'), '{"a":0,"b":2,"z":[1]}');
});

test('bad records are rejected with a reason', () => {
  assert.equal(reason(FULL, undefined), 'empty value: expected a JSON object');
  assert.equal(reason(FULL, ''), 'empty value: expected a JSON object');
  assert.match(reason(FULL, '{oops'), /^value is not valid JSON: /);
  for (const v of ['[1]', '"x"', '1', 'null']) assert.equal(reason(FULL, v), 'value is not a JSON object');
});

test('bad configs are refused naming the key', () => {
  assert.match(configError('{oops'), /^config is not valid JSON: /);
  assert.equal(configError('[]'), 'config must be a table (JSON object)');
  assert.equal(configError('{"bogus":1}'), "unknown config key 'bogus': expected one of concat, domain, lowercase, set");
  assert.equal(configError('{"lowercase":"a"}'), "'lowercase' must be a list of field names");
  assert.equal(configError('{"domain":{"d":1}}'), "'domain.d' must be a field name");
  assert.equal(
    configError('{"concat":{"n":["a"]}}'),
    "'concat.n' must be a table with fields = [names] and an optional separator",
  );
  assert.equal(configError('{"concat":{"n":{"fields":["a"],"sep":"-"}}}'), "unknown key 'concat.n.sep': expected fields or separator");
  assert.equal(configError('{"concat":{"n":{"fields":["a"],"separator":1}}}'), "'concat.n.separator' must be a string");
  assert.equal(configError('{"set":[]}'), "'set' must be a table of field names");
});
