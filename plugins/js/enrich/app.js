// The enrich plugin as a wasp component (wit/plugin.wit, world `plugin`):
// the logic in enrich.js behind the shared adapter.
// Built by scripts/build-js-plugins with componentize-js.
import { log } from 'wasp:plugin/log@0.1.0';
import { counterAdd } from 'wasp:plugin/metrics@0.1.0';
import { jsonProcessor } from '../_shared/adapter.js';
import { describe, enrich, parseConfig } from './enrich.js';

export const processor = jsonProcessor({
  info: {
    name: 'enrich',
    version: '0.1.0',
    description: 'adds fields computed from other fields of JSON records (JavaScript)',
  },
  parseConfig,
  transform: enrich,
  describe,
  counter: 'enriched',
  log,
  counterAdd,
});
