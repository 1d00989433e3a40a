// The {{name}} logic, in plain JavaScript: no WIT imports, so it runs under
// `node --test` as well as inside the component (app.js).
//
// Drops records whose JSON field `field` holds one of the strings in `drop`,
// forwards every other JSON object unchanged and rejects values that are not
// JSON objects.

export class ConfigError extends Error {}
export class Reject extends Error {}

export function parseConfig(text) {
  let root;
  try {
    root = JSON.parse(text && text.trim() ? text : '{}');
  } catch (e) {
    throw new ConfigError(`config is not valid JSON: ${e.message}`);
  }
  if (root === null || typeof root !== 'object' || Array.isArray(root)) {
    throw new ConfigError('config must be a table (JSON object)');
  }
  for (const key of Object.keys(root)) {
    if (key !== 'field' && key !== 'drop') throw new ConfigError(`unknown config key '${key}': expected field or drop`);
  }
  const field = root.field ?? 'level';
  const drop = root.drop ?? [];
  if (typeof field !== 'string') throw new ConfigError("'field' must be a field name");
  if (!Array.isArray(drop) || !drop.every((d) => typeof d === 'string')) {
    throw new ConfigError("'drop' must be a list of strings");
  }
  return { field, drop };
}

/** 'pass' or 'drop' for one record value (a string, or undefined); throws Reject. */
export function decide(cfg, text) {
  let record;
  try {
    record = text ? JSON.parse(text) : undefined;
  } catch {
    record = undefined;
  }
  if (record === null || typeof record !== 'object' || Array.isArray(record)) {
    throw new Reject('value is not a JSON object');
  }
  const v = record[cfg.field];
  return typeof v === 'string' && cfg.drop.includes(v) ? 'drop' : 'pass';
}
