import { stringify, parseDocument } from 'yaml';
import { generatePolicyConfig } from '../sections/policy.ts';
for (const n of [5, 10, 20, 40]) {
  const text = stringify(generatePolicyConfig(n, 1000));
  let t = performance.now();
  const doc = parseDocument(text);
  const a = performance.now() - t; t = performance.now();
  doc.toJS();
  const b = performance.now() - t; t = performance.now();
  doc.toJS({ maxAliasCount: 100 });
  console.log(n, text.length, 'parse', a.toFixed(0), 'toJS', b.toFixed(0), 'toJS+max', (performance.now() - t).toFixed(0));
}
