import { generatePolicyConfig } from '../sections/policy.ts';
import { ConfigSchema } from '../../src/config/schema.ts';
import { compilePolicy, evaluate, NO_LOCKDOWN, createUsageCounter } from '../../src/policy/index.ts';
const cfg = ConfigSchema.parse(generatePolicyConfig(Number(process.argv[2] ?? 50), 1000));
const policy = compilePolicy(cfg, { version: 'x' });
const names = ['files__read_file','web__fetch','mail__send_message','db__query','crm__update_record'];
const inputs = [] as any[];
for (let i = 0; i < 5000; i++) { const agent = `agent${String(i % 50).padStart(4,'0')}`; inputs.push({ agent, kind: 'tool', name: names[i % 5], args: { path: `/data/eng/p${i%60}/notes/${i}.md`, url: `https://api.example.net/page/${i}`, mode: i%2?'read':'write', text: 'hello' }, tool: { annotationsTrusted: false } }); }
const ctx = { now: Date.now(), lockdown: NO_LOCKDOWN, usage: createUsageCounter() };
let n = 0; const t = performance.now();
for (let r = 0; r < 60; r++) for (const inp of inputs) { evaluate(policy, inp, ctx); n++; }
console.log('us/eval', (performance.now() - t) * 1000 / n);
const set = policy.agents.get('agent0001')!.tools;
for (const nm of names) console.log(nm, (await import('../../src/policy/compile.ts')).rulesMatching(set, nm).length);
