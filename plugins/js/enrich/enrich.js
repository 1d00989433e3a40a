// JSON enrichment: adds fields computed from other fields of a JSON object
// record. Pure logic, no WIT imports, so it runs under plain `node --test`
// as well as inside the component (app.js).
//
// Config (the stage's [stage.config] table, as JSON), every key optional:
//   concat    = { full_name = { fields = ["first_name", "last_name"], separator = " " } }
//               joins the string fields that are present (missing or empty
//               ones are skipped; nothing is added when none is present)
//   domain    = { email_domain = "email" }
//               the lower-cased part after the last '@' of a string field
//   lowercase = ["email"]    lower-cases these string fields in place
//   set       = { ingested = true }   constant fields, added or overwritten
// Steps run in that order; new fields are appended after existing ones.

import { ConfigError, Reject, configTable, isTable, recordObject } from '../_shared/adapter.js';

export { ConfigError, Reject };

const KEYS = ['concat', 'domain', 'lowercase', 'set'];
const isNames = (v) => Array.isArray(v) && v.every((s) => typeof s === 'string');

/** Parse and check the stage config; throws ConfigError naming the key. */
export function parseConfig(text) {
  const root = configTable(text);
  const cfg = { concat: [], domain: [], lowercase: [], set: [] };
  for (const [key, v] of Object.entries(root)) {
    switch (key) {
      case 'concat':
        if (!isTable(v)) throw new ConfigError("'concat' must be a table of new field names");
        for (const [name, spec] of Object.entries(v)) {
          if (!isTable(spec) || !isNames(spec.fields)) {
            throw new ConfigError(`'concat.${name}' must be a table with fields = [names] and an optional separator`);
          }
          for (const k of Object.keys(spec)) {
            if (k !== 'fields' && k !== 'separator') {
              throw new ConfigError(`unknown key 'concat.${name}.${k}': expected fields or separator`);
            }
          }
          const sep = spec.separator ?? ' ';
          if (typeof sep !== 'string') throw new ConfigError(`'concat.${name}.separator' must be a string`);
          cfg.concat.push([name, spec.fields, sep]);
        }
        break;
      case 'domain':
        if (!isTable(v)) throw new ConfigError("'domain' must be a table of new field = source field");
        for (const [name, from] of Object.entries(v)) {
          if (typeof from !== 'string') throw new ConfigError(`'domain.${name}' must be a field name`);
          cfg.domain.push([name, from]);
        }
        break;
      case 'lowercase':
        if (!isNames(v)) throw new ConfigError("'lowercase' must be a list of field names");
        cfg.lowercase = v;
        break;
      case 'set':
        if (!isTable(v)) throw new ConfigError("'set' must be a table of field names");
        cfg.set = Object.entries(v);
        break;
      default:
        throw new ConfigError(`unknown config key '${key}': expected one of ${KEYS.join(', ')}`);
    }
  }
  return cfg;
}

/** One sentence for the log. */
export function describe(cfg) {
  const n = cfg.concat.length + cfg.domain.length + cfg.set.length;
  return `enrich configured: ${n} computed fields, ${cfg.lowercase.length} lower-cased`;
}

/** Enrich one record value (a JSON string); returns the new JSON string or throws Reject. */
export function enrich(cfg, text) {
  const rec = recordObject(text);
  for (const [name, fields, sep] of cfg.concat) {
    const parts = fields.map((f) => rec[f]).filter((p) => typeof p === 'string' && p !== '');
    if (parts.length) rec[name] = parts.join(sep);
  }
  for (const [name, from] of cfg.domain) {
    const v = rec[from];
    if (typeof v !== 'string') continue;
    const at = v.lastIndexOf('@');
    if (at >= 0 && at < v.length - 1) rec[name] = v.slice(at + 1).toLowerCase();
  }
  for (const f of cfg.lowercase) {
    if (typeof rec[f] === 'string') rec[f] = rec[f].toLowerCase();
  }
  for (const [k, v] of cfg.set) rec[k] = v;
  return JSON.stringify(rec);
}
