// {{name}} as a wasp plugin component: a thin adapter from the contract
// (wit/plugin.wit, world `plugin`) to the logic in logic.js. Built by
// ./build.sh with componentize-js.
//
// WIT types in JavaScript: list<u8> is a Uint8Array, option<T> is T or
// undefined, s64 is a BigInt, a variant is { tag, val }, an enum a string;
// throwing from init returns the thrown value as the error.
import { log } from 'wasp:plugin/log@0.1.0';
import { ConfigError, Reject, decide, parseConfig } from './logic.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });
let cfg = null;

export const processor = {
  info() {
    return { name: '{{name}}', version: '0.1.0', description: 'drops records by the value of a field' };
  },
  init(config) {
    try {
      cfg = parseConfig(config);
    } catch (e) {
      if (e instanceof ConfigError) throw e.message; // refuses the config
      throw e;
    }
    log('info', `{{name}}: dropping ${cfg.drop.length} values of '${cfg.field}'`);
  },
  process(info, batch) {
    return batch.map((message) => {
      let text;
      try {
        text = message.value === undefined ? undefined : utf8.decode(message.value);
      } catch {
        return { tag: 'reject', val: 'value is not a JSON object' };
      }
      try {
        return { tag: decide(cfg, text) };
      } catch (e) {
        if (e instanceof Reject) return { tag: 'reject', val: e.message };
        throw e;
      }
    });
  },
  learn(info, batch) {
    return batch.map(() => ({ tag: 'drop' }));
  },
};
