import { stringify, parseDocument, LineCounter } from 'yaml';
import { generatePolicyConfig } from '../sections/policy.ts';
const n = Number(process.argv[2]);
const text = stringify(generatePolicyConfig(n, 1000));
for (const opts of [{}, { uniqueKeys: true }, { lineCounter: new LineCounter() }, { lineCounter: new LineCounter(), prettyErrors: false, uniqueKeys: true }]) {
  let t = performance.now();
  const doc = parseDocument(text, opts as never);
  const a = performance.now() - t; t = performance.now();
  doc.toJS({ maxAliasCount: 100 });
  console.log(JSON.stringify(opts).slice(0, 40), 'parse', a.toFixed(0), 'toJS', (performance.now() - t).toFixed(0));
}
