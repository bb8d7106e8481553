/**
 * Property tests for path scoping: whatever a generated path does, `isUnder` never places it in
 * a folder that a simple, independent reference model says it escapes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalPath, isUnder } from '../../src/policy/canonical.js';

/**
 * Path pieces, each with its meaning under two readings: `plain` is the documented one (decode
 * once, only `/` and `\` separate) and `worst` the most lenient any consumer might apply (look-
 * alikes folded to ASCII, overlong UTF-8 accepted, Windows trimming, ignorable characters
 * dropped, NUL ignored). null means the piece has no meaning in that reading.
 */
const PIECES: ReadonlyArray<{ raw: string; plain: string | null; worst: string }> = [
  { raw: 'marketing', plain: 'marketing', worst: 'marketing' },
  { raw: 'marketing-evil', plain: 'marketing-evil', worst: 'marketing-evil' },
  { raw: 'a', plain: 'a', worst: 'a' },
  { raw: '..hidden', plain: '..hidden', worst: '..hidden' },
  { raw: '/', plain: '/', worst: '/' },
  { raw: '\\', plain: '/', worst: '/' },
  { raw: '.', plain: '.', worst: '.' },
  { raw: '..', plain: '..', worst: '..' },
  { raw: '%2e', plain: '.', worst: '.' },
  { raw: '%2E%2e', plain: '..', worst: '..' },
  { raw: '%2f', plain: '/', worst: '/' },
  { raw: '%5c', plain: '/', worst: '/' },
  { raw: '%252e', plain: '%2e', worst: '%2e' },
  { raw: '%25', plain: '%', worst: '%' },
  { raw: '%c0%ae', plain: null, worst: '.' },
  { raw: '%c0%af', plain: null, worst: '/' },
  { raw: '\u2215', plain: '\u2215', worst: '/' },
  { raw: '\uff0f', plain: '\uff0f', worst: '/' },
  { raw: '\u29f8', plain: '\u29f8', worst: '/' },
  { raw: '\uff3c', plain: '\uff3c', worst: '/' },
  { raw: '\uff0e', plain: '\uff0e', worst: '.' },
  { raw: '\u2024', plain: '\u2024', worst: '.' },
  { raw: '\u2025', plain: '\u2025', worst: '..' },
  { raw: '\u200b', plain: '\u200b', worst: '' },
  { raw: '%00', plain: '\u0000', worst: '' },
  { raw: ' ', plain: ' ', worst: ' ' },
  { raw: '...', plain: '...', worst: '..' },
  { raw: '%', plain: null, worst: '%' },
];

/**
 * Resolves a decoded path the POSIX way (`..` at root stays at root, `//` is `/`), and, for the
 * worst reading, trims trailing dots and spaces from each segment as Windows does.
 */
function resolve(text: string, trimWindows: boolean): string[] {
  const out: string[] = [];
  for (let segment of text.split('/')) {
    if (trimWindows && segment !== '.' && segment !== '..') {
      const trimmed = segment.replace(/[. ]+$/, '');
      segment = trimmed === '' && /^\.+ *$/.test(segment) && segment.length > 1 ? '..' : trimmed;
    }
    if (segment === '' || segment === '.') continue;
    if (segment === '..') out.pop();
    else out.push(segment);
  }
  return out;
}

function inside(segments: string[], folder: string[]): boolean {
  return folder.every((f, i) => segments[i] === f);
}

const pathArbitrary = fc
  .tuple(fc.constantFrom('/marketing/', '/', '', '\\marketing\\', '/marketing'), fc.array(fc.constantFrom(...PIECES), { maxLength: 14 }))
  .map(([prefix, pieces]) => ({ prefix, pieces, raw: prefix + pieces.map((p) => p.raw).join('') }));

describe('path scoping properties', () => {
  it('never puts a path under /marketing when either reference reading says it escapes', () => {
    fc.assert(
      fc.property(pathArbitrary, ({ prefix, pieces, raw }) => {
        if (!isUnder(raw, '/marketing')) return;
        const start = prefix.replaceAll('\\', '/');
        expect(pieces.every((p) => p.plain !== null)).toBe(true);
        const plain = start + pieces.map((p) => p.plain).join('');
        const worst = start + pieces.map((p) => p.worst).join('');
        expect(inside(resolve(plain, false), ['marketing'])).toBe(true);
        expect(inside(resolve(worst, true), ['marketing'])).toBe(true);
      }),
      { numRuns: 20_000 },
    );
  });

  it('puts every plain path that stays inside under /marketing', () => {
    const benign = PIECES.filter((p) => ['marketing', 'a', '..hidden', '/', '\\', '.', '..', '%2e', '%2E%2e', '%2f', '%5c'].includes(p.raw));
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...benign), { maxLength: 14 }), (pieces) => {
        const raw = `/marketing/${pieces.map((p) => p.raw).join('')}`;
        const decoded = `/marketing/${pieces.map((p) => p.plain).join('')}`;
        // A climb above root is refused rather than clamped, so only judge paths that never climb past it.
        const segments = decoded.split('/').filter((s) => s !== '' && s !== '.');
        let depth = 0;
        let climbsAboveRoot = false;
        for (const s of segments) {
          depth += s === '..' ? -1 : 1;
          if (depth < 0) climbsAboveRoot = true;
        }
        // Dots-only names other than . and .. are refused on purpose (Windows trims them).
        const dotsOnlyName = segments.some((s) => s !== '..' && /^\.+$/.test(s));
        if (climbsAboveRoot || dotsOnlyName) return;
        expect(isUnder(raw, '/marketing')).toBe(inside(resolve(decoded, false), ['marketing']));
      }),
      { numRuns: 5_000 },
    );
  });

  it('canonicalPath is idempotent on its outputs (generated pieces)', () => {
    fc.assert(
      fc.property(pathArbitrary, ({ raw }) => {
        const once = canonicalPath(raw);
        if (once !== undefined) expect(canonicalPath(once)).toBe(once);
      }),
      { numRuns: 10_000 },
    );
  });

  it('canonicalPath is idempotent on its outputs (arbitrary strings)', () => {
    const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: fc.constantFrom('/', '\\', '.', '%', '2', 'e', '5', 'c', 'a', ' ', ':'), maxLength: 40 }));
    fc.assert(
      fc.property(text, (raw) => {
        const once = canonicalPath(raw);
        if (once !== undefined) {
          expect(canonicalPath(once)).toBe(once);
          expect(once === '/' || once === '.' || !once.endsWith('/')).toBe(true);
          expect(once.split('/').slice(1)).not.toContain('..');
        }
      }),
      { numRuns: 5_000 },
    );
  });

  it('isUnder agrees with a prefix test on canonical forms, so siblings sharing a prefix stay out', () => {
    const name = fc.string({ unit: fc.constantFrom('a', 'b', '-', '.', 'x'), minLength: 1, maxLength: 6 });
    fc.assert(
      fc.property(fc.array(name, { minLength: 1, maxLength: 4 }), fc.array(name, { minLength: 1, maxLength: 4 }), (folderSegments, pathSegments) => {
        const folder = canonicalPath(`/${folderSegments.join('/')}`);
        const path = canonicalPath(`/${pathSegments.join('/')}`);
        if (folder === undefined || path === undefined) return;
        expect(isUnder(path, folder)).toBe(folder === '/' || path === folder || path.startsWith(`${folder}/`));
      }),
      { numRuns: 5_000 },
    );
  });
});
