// The scale plugin as a wasp component: the contract (wit/plugin.wit,
// world `plugin`) adapted to the logic in scale.js.
// Built by scripts/build-js-plugins with componentize-js.
import { log } from 'wasp:plugin/log@0.1.0';
import { counterAdd } from 'wasp:plugin/metrics@0.1.0';
import { ConfigError, Reject, parseConfig, scale } from './scale.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

// The configured rules; the host calls init before anything else, and a
// refused config keeps the previous rules.
let rules = null;

function verdict(message) {
  let text;
  try {
    text = message.value === undefined ? undefined : utf8.decode(message.value);
  } catch {
    return { tag: 'reject', val: 'value is not valid UTF-8' };
  }
  try {
    return { tag: 'value', val: encoder.encode(scale(rules, text)) };
  } catch (e) {
    if (e instanceof Reject) return { tag: 'reject', val: e.message };
    throw e;
  }
}

export const processor = {
  info() {
    return {
      name: 'scale-js',
      version: '0.1.0',
      description: "multiply/offset numeric fields of JSON records (JavaScript twin of json-transform's scale)",
    };
  },
  init(config) {
    try {
      rules = parseConfig(config);
    } catch (e) {
      // A thrown string becomes the `err` of result<_, string>.
      if (e instanceof ConfigError) throw e.message;
      throw e;
    }
    log('info', `scale-js configured: ${rules.length} scale fields`);
  },
  process(info, batch) {
    if (rules === null) throw new Error('wasp host called the plugin before init');
    const verdicts = batch.map(verdict);
    const scaled = verdicts.filter((v) => v.tag === 'value').length;
    if (scaled) counterAdd('scaled', BigInt(scaled));
    return verdicts;
  },
  learn(info, batch) {
    return batch.map(() => ({ tag: 'drop' }));
  },
};
