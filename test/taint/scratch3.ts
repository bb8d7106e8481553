import { readFileSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { createProvenanceIndex } from '../../src/taint/index.js';
const files = execSync('find /tmp/ad -name "*.json"').toString().trim().split('\n');
const out: Record<string, { calls: number; hitCalls: number; runs: number; runsHit: number }> = {};
const samples = new Map<string, number>();
let t = 0, bytes = 0, maxBytes = 0;
for (const f of files) {
  const d = JSON.parse(readFileSync(f, 'utf8'));
  const key = d.attack_type;
  const s = (out[key] ??= { calls: 0, hitCalls: 0, runs: 0, runsHit: 0 });
  s.runs++;
  const idx = createProvenanceIndex({ maxEntries: 4096, maxWindows: 65536, windowChars: 12, seed: 1234 });
  let runHit = false;
  const t0 = performance.now();
  for (const m of d.messages) {
    if (m.role === 'tool') { const c = typeof m.content === 'string' ? m.content : JSON.stringify(m.content); bytes += c.length; idx.add(c, { source: 'x', callId: m.tool_call_id ?? '?' }); }
    if (m.role === 'assistant' && m.tool_calls) for (const tc of m.tool_calls) {
      if (/^(get|search|read|list|check)/.test(tc.function)) continue;
      s.calls++;
      const hits = idx.match(tc.args, { minCopiedChars: 12 });
      if (hits.length) { s.hitCalls++; runHit = true; if (key == null) for (const h of hits) { const k = `${tc.function} ${h.argPath} ${h.kind} ${h.value}`.slice(0, 120); samples.set(k, (samples.get(k) ?? 0) + 1); } }
    }
  }
  t += performance.now() - t0;
  maxBytes = Math.max(maxBytes, idx.approxBytes());
  if (runHit) s.runsHit++;
}
console.log(out, { ms: t.toFixed(0), MB: (bytes / 1e6).toFixed(1), maxBytes });
console.log([...samples.entries()].sort((a, b) => b[1] - a[1]).slice(0, 40));
