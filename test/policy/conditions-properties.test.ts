/**
 * Property tests for conditions: the linear-time glob matcher agrees with the name-glob compiler,
 * and host patterns never match outside their domain.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hostMatches } from '../../src/policy/canonical.js';
import { compileCondition } from '../../src/policy/conditions.js';
import { compileGlob, GlobError } from '../../src/policy/glob.js';

const noRefs = { agent: {} };

describe('glob condition properties', () => {
  it('matches exactly what compileGlob matches', () => {
    const pattern = fc.string({ unit: fc.constantFrom('a', 'b', '/', '*', '?', '{', '}', ',', '.'), minLength: 1, maxLength: 12 });
    const value = fc.string({ unit: fc.constantFrom('a', 'b', '/', '.', ','), maxLength: 12 });
    fc.assert(
      fc.property(pattern, fc.array(value, { minLength: 1, maxLength: 8 }), (glob, values) => {
        let reference: (name: string) => boolean;
        try {
          reference = compileGlob(glob);
        } catch (e) {
          if (!(e instanceof GlobError)) throw e;
          expect(() => compileCondition({ glob })).toThrow();
          return;
        }
        const fn = compileCondition({ glob });
        for (const v of values) expect(fn(v, noRefs), `${glob} vs ${v}`).toBe(reference(v));
      }),
      { numRuns: 5_000 },
    );
  });

  it('matches a reference substituted literally, as if its text were written without glob characters', () => {
    const text = fc.string({ unit: fc.constantFrom('a', 'b', '*', '?', '{', ',', '}'), maxLength: 6 });
    fc.assert(
      fc.property(text, text, (claim, suffix) => {
        const fn = compileCondition({ glob: 'x/${claims.v}/**' });
        const refs = { claims: { v: claim }, agent: {} };
        expect(fn(`x/${claim}/${suffix}`, refs)).toBe(true);
        if (claim !== suffix) expect(fn(`x/${suffix}/y`, refs)).toBe(false);
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('host pattern properties', () => {
  it('never matches *.example.com outside example.com', () => {
    const label = fc.string({ unit: fc.constantFrom('a', 'e', 'x', 'm', 'p', 'l', 'c', 'o', '-', '.', '@', '%', '\\', '/', '#', '\u3002', '\uff0e'), minLength: 1, maxLength: 20 });
    fc.assert(
      fc.property(label, fc.constantFrom('https://', 'http://', 'https:', '//', 'HTTPS://'), fc.constantFrom('', '/', '/x', ':8080/'), (host, scheme, tail) => {
        const url = `${scheme}${host}${tail}`;
        const holds = compileCondition({ host: '*.example.com' })(url, noRefs);
        if (holds) {
          const parsed = new URL(url);
          expect(parsed.hostname.replace(/\.$/, '').endsWith('.example.com')).toBe(true);
          expect(parsed.username).toBe('');
        }
      }),
      { numRuns: 10_000 },
    );
  });

  it('treats host matching as case-insensitive', () => {
    const host = fc.string({ unit: fc.constantFrom('a', 'B', 'c', 'D', '.'), minLength: 1, maxLength: 12 }).filter((h) => !h.startsWith('.') && !h.endsWith('.') && !h.includes('..'));
    fc.assert(
      fc.property(host, (h) => {
        expect(hostMatches(h.toUpperCase(), h.toLowerCase())).toBe(true);
      }),
    );
  });
});
