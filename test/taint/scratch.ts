import { readFileSync } from 'node:fs';
import { stripHidden } from '../../src/taint/index.js';
const corpus = JSON.parse(readFileSync('test/fixtures/unicode-corpus.json', 'utf8'));
for (const { name, text } of corpus) { const r = stripHidden(text); if (r.text !== text) console.log('CHANGED', name, r); }
console.log('done');
