// The enrich plugin as a wasp component: a thin adapter from the contract
// (wit/plugin.wit, world `plugin`) to the logic in enrich.js.
// Built by scripts/build-js-plugins with componentize-js.
import { log } from 'wasp:plugin/log@0.1.0';
import { counterAdd } from 'wasp:plugin/metrics@0.1.0';
import { ConfigError, Reject, describe, enrich, parseConfig } from './enrich.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

// The configured stage; the host calls init before anything else.
let cfg = null;

function processOne(message) {
  let text;
  try {
    text = message.value === undefined ? undefined : utf8.decode(message.value);
  } catch {
    return { tag: 'reject', val: 'value is not valid UTF-8' };
  }
  try {
    return { tag: 'value', val: encoder.encode(enrich(cfg, text)) };
  } catch (e) {
    if (e instanceof Reject) return { tag: 'reject', val: e.message };
    throw e;
  }
}

export const processor = {
  info() {
    return {
      name: 'enrich',
      version: '0.1.0',
      description: 'adds fields computed from other fields of JSON records (JavaScript)',
    };
  },
  init(config) {
    try {
      cfg = parseConfig(config);
    } catch (e) {
      // A thrown value becomes the `err` of result<_, string>.
      if (e instanceof ConfigError) throw e.message;
      throw e;
    }
    log('info', describe(cfg));
  },
  process(info, batch) {
    if (cfg === null) throw new Error('wasp host called the plugin before init');
    const verdicts = batch.map(processOne);
    counterAdd('enriched', BigInt(verdicts.filter((v) => v.tag === 'value').length));
    return verdicts;
  },
  learn(info, batch) {
    return batch.map(() => ({ tag: 'drop' }));
  },
};
