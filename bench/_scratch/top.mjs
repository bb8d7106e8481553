// Summarise a .cpuprofile: self time and inclusive time per function (file:line).
import { readFileSync } from 'node:fs';
const prof = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = prof.timeDeltas; let total = 0;
const counts = new Map();
for (let i = 0; i < prof.samples.length; i++) { counts.set(prof.samples[i], (counts.get(prof.samples[i]) ?? 0) + (dt[i] ?? 0)); total += dt[i] ?? 0; }
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const key = (n) => `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/.*\/work\/main\//, '')}:${n.callFrame.lineNumber + 1}`;
const incl = new Map();
for (const [id, t] of counts) {
  const n = byId.get(id); const k = key(n); self.set(k, (self.get(k) ?? 0) + t);
  const seen = new Set(); let cur = id;
  while (cur !== undefined) { const kk = key(byId.get(cur)); if (!seen.has(kk)) { seen.add(kk); incl.set(kk, (incl.get(kk) ?? 0) + t); } cur = parent.get(cur); }
}
const filt = process.argv[3] ? new RegExp(process.argv[3]) : null;
const show = (m, title) => { console.log(`-- ${title} (total ${(total/1000).toFixed(0)} ms)`); [...m].filter(([k]) => !filt || filt.test(k)).sort((a, b) => b[1] - a[1]).slice(0, Number(process.argv[4] ?? 25)).forEach(([k, t]) => console.log(`${(100 * t / total).toFixed(1).padStart(5)}%  ${k}`)); };
show(self, 'self'); show(incl, 'inclusive');
