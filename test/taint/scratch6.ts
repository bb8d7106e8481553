import { readFileSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { createProvenanceIndex } from '../../src/taint/index.js';
const files = execSync('find /tmp/ad/gpt-4o-2024-05-13 -name "*.json"').toString().trim().split('\n').slice(0, 400);
let text = '';
for (const f of files) { const d = JSON.parse(readFileSync(f, 'utf8')); for (const m of d.messages) if (m.role === 'tool') text += (typeof m.content === 'string' ? m.content : JSON.stringify(m.content)) + '\n'; if (text.length > 2e6) break; }
text = text.slice(0, 2e6);
for (let i = 0; i < 6; i++) { const idx = createProvenanceIndex({ maxEntries: 4096, maxWindows: 1 << 18, windowChars: 12 }); idx.add(text, { source: 's', callId: 'c' }); }
