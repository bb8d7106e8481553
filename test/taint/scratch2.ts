import { readFileSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { findInjectionMarkers, stripHidden } from '../../src/taint/index.js';
const files = execSync('find /tmp/ad -name "*.json"').toString().trim().split('\n');
const stats: Record<string, { runs: number; high: number; low: number; hidden: number }> = {};
const highSamples = new Map<string, number>();
for (const f of files) {
  const d = JSON.parse(readFileSync(f, 'utf8'));
  const key = d.attack_type ?? 'none';
  const s = (stats[key] ??= { runs: 0, high: 0, low: 0, hidden: 0 });
  s.runs++;
  let hi = false, lo = false, hid = false;
  for (const m of d.messages) {
    if (m.role !== 'tool') continue;
    const c = typeof m.content === 'string' ? m.content : JSON.stringify(m.content);
    if (stripHidden(c).removed > 0) hid = true;
    const toolNames = ['send_money', 'send_email', 'get_most_recent_transactions', 'delete_email', 'create_calendar_event', 'send_direct_message', 'update_scheduled_transaction'];
    for (const mk of findInjectionMarkers(c, { toolNames })) {
      if (mk.severity === 'high') { hi = true; if (key === 'none') highSamples.set(mk.excerpt, (highSamples.get(mk.excerpt) ?? 0) + 1); }
      else lo = true;
      if (key === 'none' && mk.severity === 'low') highSamples.set('LOW ' + mk.kind + ' ' + mk.excerpt.slice(0, 100), (highSamples.get('LOW ' + mk.kind + ' ' + mk.excerpt.slice(0, 100)) ?? 0) + 1);
    }
  }
  if (hi) s.high++; if (lo) s.low++; if (hid) s.hidden++;
}
console.log(stats);
console.log([...highSamples.entries()].sort((a, b) => b[1] - a[1]).slice(0, 40));
