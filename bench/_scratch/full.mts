import { generatePolicyConfig } from '../sections/policy.ts';
import { parseConfigText } from '../../src/config/index.ts';
import { ConfigSchema } from '../../src/config/schema.ts';
import { compilePolicy } from '../../src/policy/index.ts';
const n = Number(process.argv[2]);
let t = performance.now();
const cfg = generatePolicyConfig(n, 1000);
console.log('gen', performance.now() - t); t = performance.now();
const json = JSON.stringify(cfg, null, 1);
console.log('json', json.length, performance.now() - t); t = performance.now();
const z = ConfigSchema.parse(cfg);
console.log('zod', performance.now() - t); t = performance.now();
const p = compilePolicy(z, { version: 'x' });
console.log('compile', performance.now() - t, process.memoryUsage().rss / 1e6); t = performance.now();
if (process.argv[3]) { await parseConfigText(json, 'x.yaml', {}, () => Promise.reject(new Error('x'))); console.log('parseConfigText(json)', performance.now() - t, process.memoryUsage().rss / 1e6); }
void p;
