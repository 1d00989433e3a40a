// Numeric scaling of JSON object records: the JavaScript twin of the Rust
// json-transform plugin restricted to its `scale` step (and of the C
// `scale` plugin). Pure logic, no WIT imports, so it runs under plain
// `node --test` as well as inside the component (app.js).
//
// Config (the stage's [stage.config] table, as JSON):
//   scale = { temperature = { multiply = 2, offset = 0.5 }, humidity = { multiply = 0.1 } }
// For each configured field present in a record, in config order,
// `value * multiply + offset` (defaults 1 and 0) replaces the value. Every
// other field passes through.
//
// Outputs are the same JSON values as the Rust plugin's, not always the same
// bytes: JSON.stringify prints a whole float as `4`, serde_json as `4.0`,
// and JavaScript objects list integer-like keys first.

import { ConfigError, Reject, configTable, isTable, recordObject } from '../_shared/adapter.js';

export { ConfigError, Reject };

function rule(field, spec) {
  if (!isTable(spec)) throw new ConfigError(`'scale.${field}' must be a table with multiply and/or offset`);
  const r = { field, multiply: 1, offset: 0 };
  for (const [k, x] of Object.entries(spec)) {
    if (typeof x !== 'number') throw new ConfigError(`'scale.${field}.${k}' must be a number`);
    if (k === 'multiply' || k === 'offset') r[k] = x;
    else throw new ConfigError(`unknown key 'scale.${field}.${k}': expected multiply or offset`);
  }
  return r;
}

/** Parse and check the stage config; throws ConfigError naming the key. */
export function parseConfig(text) {
  const root = configTable(text);
  const rules = [];
  for (const [key, v] of Object.entries(root)) {
    if (key !== 'scale') {
      throw new ConfigError(
        `unknown config key '${key}': the JS scale plugin implements only 'scale' ` +
          '(json-transform has require, select, rename and set too)',
      );
    }
    if (!isTable(v)) throw new ConfigError("'scale' must be a table of field names");
    for (const [field, spec] of Object.entries(v)) rules.push(rule(field, spec));
  }
  return rules;
}

/** Scale one record value (a JSON string); returns the new JSON string or throws Reject. */
export function scale(rules, text) {
  const rec = recordObject(text);
  for (const { field, multiply, offset } of rules) {
    if (!Object.hasOwn(rec, field)) continue;
    const x = rec[field];
    if (typeof x !== 'number') throw new Reject(`field '${field}' is not a number`);
    const y = x * multiply + offset;
    if (!Number.isFinite(y)) throw new Reject(`field '${field}' scaled to a non-finite number`);
    rec[field] = y;
  }
  return JSON.stringify(rec);
}
