/**
 * The fast paths of canonicalPath / canonicalUrl (inputs that are canonical as written) must
 * agree exactly with the general algorithm, on generated inputs near the fast paths' edges; so
 * must the compiled host-pattern matchers with the general host matcher.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalPath, canonicalPathUncached, canonicalUrl, canonicalUrlUncached, hostPatternMatcher, matchHostPattern } from '../../src/policy/canonical.js';

const SEGMENT_CHARS = ['a', 'Z', '0', '9', '_', '-', '.', '%', '2', 'e', 'f', '\\', ' ', '~', 'é', '\u200b'];
const segment = fc.array(fc.constantFrom(...SEGMENT_CHARS), { minLength: 0, maxLength: 6 }).map((cs) => cs.join(''));
const path = fc.tuple(fc.boolean(), fc.array(segment, { minLength: 1, maxLength: 6 }), fc.boolean()).map(([abs, segs, trailing]) => `${abs ? '/' : ''}${segs.join('/')}${trailing ? '/' : ''}`);

const label = fc.array(fc.constantFrom('a', 'z', '0', '7', '-', 'x', 'n', 'A', '_'), { minLength: 0, maxLength: 6 }).map((cs) => cs.join(''));
const host = fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => ls.join('.'));
const url = fc
  .tuple(fc.constantFrom('http', 'https', 'HTTP', 'ftp'), host, fc.option(fc.constantFrom(':443', ':80', ':8080', ':0443'), { nil: '' }), path, fc.constantFrom('', '?q=1', '?a=b&c=d', '#x', '?x y'))
  .map(([scheme, h, port, p, rest]) => `${scheme}://${h}${port}${p.startsWith('/') ? p : `/${p}`}${rest}`);

describe('canonicalisation fast paths', () => {
  it('agree with the general path algorithm on generated paths', () => {
    fc.assert(fc.property(path, (p) => {
      expect(canonicalPath(p)).toBe(canonicalPathUncached(p));
    }), { numRuns: 20_000 });
  });

  it('agree with the general URL algorithm on generated URLs', () => {
    fc.assert(fc.property(url, (u) => {
      expect(canonicalUrl(u)).toEqual(canonicalUrlUncached(u, ['http', 'https']));
    }), { numRuns: 20_000 });
  });

  it.each([
    ['https://example.com', { scheme: 'https', host: 'example.com', port: 443, path: '/' }],
    ['http://a.b.example.org/x/y.md?q=1', { scheme: 'http', host: 'a.b.example.org', port: 80, path: '/x/y.md' }],
    ['https://0x7f.1/', { scheme: 'https', host: '127.0.0.1', port: 443, path: '/' }],
    ['https://example.com/a/../b', { scheme: 'https', host: 'example.com', port: 443, path: '/b' }],
  ])('canonicalises %s like the URL parser', (u, expected) => {
    expect(canonicalUrl(u)).toEqual(expected);
  });

  it('remember the last URL per scheme list, never across lists', () => {
    expect(canonicalUrl('ftp://files.example/x', ['ftp'])).toEqual({ scheme: 'ftp', host: 'files.example', port: 21, path: '/x' });
    expect(canonicalUrl('ftp://files.example/x')).toBeUndefined();
    expect(canonicalUrl('ftp://files.example/x', ['ftp'])?.host).toBe('files.example');
  });

  it('compiled host patterns agree with the general host matcher', () => {
    const patternLabel = fc.constantFrom('*', 'a', 'b', 'ab', 'a*', '*b', 'example', 'com');
    const hostLabel = fc.constantFrom('a', 'b', 'ab', 'aab', 'example', 'com', 'x');
    fc.assert(fc.property(fc.array(patternLabel, { minLength: 1, maxLength: 4 }), fc.array(hostLabel, { minLength: 1, maxLength: 5 }), (pattern, labels) => {
      const host = labels.join('.');
      expect(hostPatternMatcher(pattern)(host)).toBe(matchHostPattern(pattern, host));
    }), { numRuns: 20_000 });
  });
});
