import { readFileSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { createProvenanceIndex, labelResult, stripHidden, findInjectionMarkers, extractEntities, normalizeForWindows } from '../../src/taint/index.js';
const files = execSync('find /tmp/ad/gpt-4o-2024-05-13 -name "*.json"').toString().trim().split('\n').slice(0, 400);
let text = '';
for (const f of files) { const d = JSON.parse(readFileSync(f, 'utf8')); for (const m of d.messages) if (m.role === 'tool') text += (typeof m.content === 'string' ? m.content : JSON.stringify(m.content)) + '\n'; if (text.length > 2e6) break; }
text = text.slice(0, 2e6);
const MB = text.length / 1e6;
function time(name: string, fn: () => void) { fn(); const t0 = performance.now(); for (let i = 0; i < 3; i++) fn(); const ms = (performance.now() - t0) / 3; console.log(name, ms.toFixed(1), 'ms', (MB / (ms / 1000)).toFixed(1), 'MB/s'); }
time('stripHidden', () => stripHidden(text));
time('markers', () => findInjectionMarkers(text, { toolNames: ['send_money', 'x__send_email'] }));
time('entities', () => extractEntities(text));
time('normalize', () => normalizeForWindows(text));
time('index.add', () => { const idx = createProvenanceIndex({ maxEntries: 4096, maxWindows: 1 << 20, windowChars: 12 }); idx.add(text, { source: 's', callId: 'c' }); });
const idx = createProvenanceIndex({ maxEntries: 4096, maxWindows: 1 << 22, windowChars: 12 }); idx.add(text, { source: 's', callId: 'c' });
console.log('approxBytes', idx.approxBytes());
const arg = text.slice(500000, 600000);
time('match 100KB', () => idx.match({ body: arg }, { minCopiedChars: 12 }));
time('labelResult', () => labelResult({ content: [{ type: 'text', text }] }, { source: 's', callId: 'c', boundary: 'abcdefabcdef12', wrap: 'tag', secrets: ['supersecret-token-123'] }));
