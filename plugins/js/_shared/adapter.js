// What every JSON-record plugin in plugins/js does around its own logic:
// the error classes, reading the config and a record as JSON objects with
// the reasons the Rust json-transform gives, and the contract's
// `processor` export. No WIT imports (app.js passes `log` and
// `counterAdd` in), so the plugins' logic runs under plain `node --test`.

/** A config the plugin refuses; its message goes back to the host. */
export class ConfigError extends Error {}
/** A record the plugin rejects; its message is the dead-letter reason. */
export class Reject extends Error {}

export const isTable = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The stage config (JSON text, empty meaning `{}`) as an object; throws ConfigError. */
export function configTable(text) {
  const src = text && text.trim() ? text : '{}';
  let root;
  try {
    root = JSON.parse(src);
  } catch (e) {
    throw new ConfigError(`config is not valid JSON: ${e.message}`);
  }
  if (!isTable(root)) throw new ConfigError('config must be a table (JSON object)');
  return root;
}

/** A record value (JSON text) as an object; throws Reject. */
export function recordObject(text) {
  if (text === undefined || text === null || text === '') {
    throw new Reject('empty value: expected a JSON object');
  }
  let rec;
  try {
    rec = JSON.parse(text);
  } catch (e) {
    throw new Reject(`value is not valid JSON: ${e.message}`);
  }
  if (!isTable(rec)) throw new Reject('value is not a JSON object');
  return rec;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

/**
 * The `processor` export of a plugin that maps each record value to a new
 * one: `parseConfig(text)` → cfg (throws ConfigError), `transform(cfg, text)`
 * → new JSON text (throws Reject), `describe(cfg)` → the log line after
 * init; `counter` counts the records transformed in each batch.
 */
export function jsonProcessor({ info, parseConfig, transform, describe, counter, log, counterAdd }) {
  // The configured stage; the host calls init before anything else, and a
  // refused config keeps the previous one.
  let cfg = null;
  const verdict = (message) => {
    let text;
    try {
      text = message.value === undefined ? undefined : utf8.decode(message.value);
    } catch {
      return { tag: 'reject', val: 'value is not valid UTF-8' };
    }
    try {
      return { tag: 'value', val: encoder.encode(transform(cfg, text)) };
    } catch (e) {
      if (e instanceof Reject) return { tag: 'reject', val: e.message };
      throw e;
    }
  };
  return {
    info: () => info,
    init(config) {
      try {
        cfg = parseConfig(config);
      } catch (e) {
        // A thrown string becomes the `err` of result<_, string>.
        if (e instanceof ConfigError) throw e.message;
        throw e;
      }
      log('info', describe(cfg));
    },
    process(batchInfo, batch) {
      if (cfg === null) throw new Error('wasp host called the plugin before init');
      const verdicts = batch.map(verdict);
      const n = verdicts.filter((v) => v.tag === 'value').length;
      if (n) counterAdd(counter, BigInt(n));
      return verdicts;
    },
    learn(batchInfo, batch) {
      return batch.map(() => ({ tag: 'drop' }));
    },
  };
}
