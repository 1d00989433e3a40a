// The scale plugin as a wasp component (wit/plugin.wit, world `plugin`):
// the logic in scale.js behind the shared adapter.
// Built by scripts/build-js-plugins with componentize-js.
import { log } from 'wasp:plugin/log@0.1.0';
import { counterAdd } from 'wasp:plugin/metrics@0.1.0';
import { jsonProcessor } from '../_shared/adapter.js';
import { parseConfig, scale } from './scale.js';

export const processor = jsonProcessor({
  info: {
    name: 'scale-js',
    version: '0.1.0',
    description: "multiply/offset numeric fields of JSON records (JavaScript twin of json-transform's scale)",
  },
  parseConfig,
  transform: scale,
  describe: (rules) => `scale-js configured: ${rules.length} scale fields`,
  counter: 'scaled',
  log,
  counterAdd,
});
