import { generatePolicyConfig } from '../sections/policy.ts';
import { ConfigSchema } from '../../src/config/schema.ts';
import { compilePolicy, evaluate, NO_LOCKDOWN, createUsageCounter } from '../../src/policy/index.ts';
import { rulesMatching } from '../../src/policy/compile.ts';
const A = Number(process.argv[2] ?? 100);
const cfg = ConfigSchema.parse(generatePolicyConfig(A, 1000));
const policy = compilePolicy(cfg, { version: 'x' });
const agent0 = policy.agents.get('agent0000')!;
const names = [...agent0.tools.literal.keys()].slice(0, 30);
const inputs = [] as any[];
for (let i = 0; i < 30000; i++) { const agent = `agent${String(i % A).padStart(4,'0')}`; inputs.push({ agent, kind: 'tool', name: names[i % 30], args: { path: `/data/eng/p${i%60}/notes/${i}.md`, url: `https://api.example.net/page/${i}`, mode: i%2?'read':'write', text: 'hello' }, tool: { annotationsTrusted: false } }); }
const ctx = { now: Date.now(), lockdown: NO_LOCKDOWN, usage: createUsageCounter() };
for (const mode of ['all', 'noargs']) {
  const inp = mode === 'all' ? inputs : inputs.map((x) => ({ ...x, args: {} }));
  let n = 0; const t = performance.now();
  for (let r = 0; r < 10; r++) for (const x of inp) { evaluate(policy, x, ctx); n++; }
  console.log(mode, 'us/eval', (performance.now() - t) * 1000 / n);
}
const m = inputs.slice(0, 1000).map((x) => rulesMatching(policy.agents.get(x.agent)!.tools, x.name));
console.log('matching avg', m.reduce((a, b) => a + b.length, 0) / m.length, 'with where', m.reduce((a, b) => a + b.filter((r) => r.where.length).length, 0) / m.length);
const t2 = performance.now(); let k = 0; for (let r = 0; r < 10; r++) for (const x of inputs) { rulesMatching(policy.agents.get(x.agent)!.tools, x.name); k++; } console.log('rulesMatching us', (performance.now() - t2) * 1000 / k);
