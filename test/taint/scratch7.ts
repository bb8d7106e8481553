import { readFileSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { findInjectionMarkers } from '../../src/taint/index.js';
const files = execSync('find /tmp/ad -path "*important_instructions*" -name "*.json"').toString().trim().split('\n');
let missed = 0, surfaced = 0;
for (const f of files) {
  const d = JSON.parse(readFileSync(f, 'utf8'));
  const outs = d.messages.filter((m: any) => m.role === 'tool').map((m: any) => typeof m.content === 'string' ? m.content : JSON.stringify(m.content));
  const hi = outs.some((c: string) => findInjectionMarkers(c, { toolNames: [] }).some((m) => m.severity === 'high'));
  if (!hi) { missed++; if (outs.some((c: string) => c.includes('important message'))) { surfaced++; if (surfaced < 3) console.log(outs.find((c: string) => c.includes('important message'))?.slice(0, 600)); } }
}
console.log({ missed, surfacedAmongMissed: surfaced });
