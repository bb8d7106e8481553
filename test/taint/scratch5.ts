import { readFileSync } from 'node:fs';
import { execSync } from 'node:child_process';
const files = execSync('find /tmp/ad/gpt-4o-2024-05-13 -name "*.json"').toString().trim().split('\n').slice(0, 400);
let text = '';
for (const f of files) { const d = JSON.parse(readFileSync(f, 'utf8')); for (const m of d.messages) if (m.role === 'tool') text += (typeof m.content === 'string' ? m.content : JSON.stringify(m.content)) + '\n'; if (text.length > 2e6) break; }
text = text.slice(0, 2e6);
function time(name: string, fn: () => unknown) { fn(); const t0 = performance.now(); for (let i = 0; i < 3; i++) fn(); console.log(name, ((performance.now() - t0) / 3).toFixed(1)); }
time('nfkc', () => text.normalize('NFKC'));
time('lower', () => text.toLowerCase());
time('replace u', () => text.replace(/[^\p{L}\p{M}\p{N}]+/gu, ' '));
time('replace ascii', () => text.replace(/[^a-z0-9]+/g, ' '));
time('ascii test', () => /^[\x00-\x7f]*$/.test(text));
time('tokens', () => { const re = /\S+/g; let n = 0; for (let m = re.exec(text); m; m = re.exec(text)) n++; return n; });
time('digits', () => { const re = /(?<![\w+/.-])(?:(\d{4}-\d{1,2}-\d{1,2}(?:[ T]\d{1,2}(?::\d{2}){1,2})?|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{1,3}(?:\.\d{1,3}){3})|(\+?\(?\d+(?:(?:[ .\-/]|\) ?| ?\()\d+)*\)?))/g; let n = 0; for (let m = re.exec(text); m; m = re.exec(text)) n++; return n; });
time('iban', () => { const re = /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}/gi; let n = 0; for (let m = re.exec(text); m; m = re.exec(text)) n++; return n; });
time('url', () => { const re = /\b(?:https?|ftp|wss?|file):\/\/[^\s<>"'`]{1,2048}/gi; let n = 0; for (let m = re.exec(text); m; m = re.exec(text)) n++; return n; });
console.log(/^[\x00-\x7f]*$/.test(text));
time('split join', () => text.split(/[^\p{L}\p{M}\p{N}]+/u).join(' '));
const table = new Uint8Array(65536);
const WORD = /^[\p{L}\p{M}\p{N}]$/u;
function cls(c: number) { let v = table[c]!; if (v === 0) { v = WORD.test(String.fromCharCode(c)) ? 1 : 2; table[c] = v; } return v; }
const dec = new TextDecoder('utf-16le');
function manual(s: string) {
  const n = s.length; const out = new Uint16Array(n); let o = 0; let space = false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    let word: boolean;
    if (c < 128) word = (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || (c >= 65 && c <= 90);
    else if (c >= 0xd800 && c <= 0xdfff) word = true; // astral: keep (approx)
    else word = cls(c) === 1;
    if (word) { if (space && o > 0) out[o++] = 32; space = false; out[o++] = c; } else space = true;
  }
  return dec.decode(out.subarray(0, o));
}
time('manual', () => manual(text.normalize('NFKC').toLowerCase()));
console.log(manual(text.normalize('NFKC').toLowerCase()) === text.normalize('NFKC').toLowerCase().replace(/[^\p{L}\p{M}\p{N}]+/gu, ' ').trim());
