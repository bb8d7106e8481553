import { describe, expect, it } from 'vitest';
import type { Condition } from '../../src/config/schema.js';
import {
  compileCondition,
  compileConditionVerdict,
  ConditionError,
  describeCondition,
  readArgument,
  usesClaims,
  type RefContext,
} from '../../src/policy/conditions.js';

const noRefs: RefContext = { agent: {} };

interface Case {
  name: string;
  cond: Condition;
  value: unknown;
  expected: boolean;
  refs?: RefContext;
}

function runTable(cases: Case[]): void {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(compileCondition(c.cond)(c.value, c.refs ?? noRefs)).toBe(c.expected);
  });
}

describe('equals', () => {
  runTable([
    { name: 'holds for the same string', cond: { equals: 'read' }, value: 'read', expected: true },
    { name: 'fails for another string', cond: { equals: 'read' }, value: 'write', expected: false },
    { name: 'is case-sensitive', cond: { equals: 'read' }, value: 'READ', expected: false },
    { name: 'holds for the same number', cond: { equals: 5 }, value: 5, expected: true },
    { name: 'fails for a numeric string against a number', cond: { equals: 5 }, value: '5', expected: false },
    { name: 'fails for a number against a numeric string', cond: { equals: '5' }, value: 5, expected: false },
    { name: 'holds for the same boolean', cond: { equals: false }, value: false, expected: true },
    { name: 'fails for a falsy non-boolean against false', cond: { equals: false }, value: 0, expected: false },
    { name: 'fails for null', cond: { equals: 'x' }, value: null, expected: false },
    { name: 'fails for an array holding the value', cond: { equals: 'x' }, value: ['x'], expected: false },
  ]);
});

describe('in', () => {
  runTable([
    { name: 'holds for a listed string', cond: { in: ['a', 'b'] }, value: 'b', expected: true },
    { name: 'fails for an unlisted string', cond: { in: ['a', 'b'] }, value: 'c', expected: false },
    { name: 'is case-sensitive', cond: { in: ['a', 'b'] }, value: 'A', expected: false },
    { name: 'holds for a listed number in a mixed list', cond: { in: ['a', 1, true] }, value: 1, expected: true },
    { name: 'fails for a numeric string when only numbers are listed', cond: { in: [1, 2] }, value: '1', expected: false },
    { name: 'fails for an object', cond: { in: ['a'] }, value: { a: 1 }, expected: false },
  ]);
});

describe('under', () => {
  runTable([
    { name: 'holds for the folder itself', cond: { under: '/marketing' }, value: '/marketing', expected: true },
    { name: 'holds for a file inside', cond: { under: '/marketing' }, value: '/marketing/plan.txt', expected: true },
    { name: 'ignores a trailing slash on the folder', cond: { under: '/marketing/' }, value: '/marketing/plan.txt', expected: true },
    { name: 'fails for a prefix-sharing sibling', cond: { under: '/marketing' }, value: '/marketing-evil/x', expected: false },
    { name: 'fails for a climb out', cond: { under: '/marketing' }, value: '/marketing/../etc', expected: false },
    { name: 'fails for a relative path against an absolute folder', cond: { under: '/marketing' }, value: 'marketing/x', expected: false },
    { name: 'holds for a relative path in a relative folder', cond: { under: 'reports' }, value: 'reports/q1.csv', expected: true },
    { name: 'fails for a non-string', cond: { under: '/marketing' }, value: 42, expected: false },
  ]);
});

describe('glob', () => {
  runTable([
    { name: 'holds when * matches within one segment', cond: { glob: '/docs/*.md' }, value: '/docs/a.md', expected: true },
    { name: 'fails when * would have to cross a /', cond: { glob: '/docs/*.md' }, value: '/docs/x/a.md', expected: false },
    { name: 'holds when ** crosses segments', cond: { glob: '/docs/**.md' }, value: '/docs/x/a.md', expected: true },
    { name: 'holds for one of the {a,b} alternatives', cond: { glob: '*.{md,txt}' }, value: 'a.txt', expected: true },
    { name: 'fails when ? meets a /', cond: { glob: 'a?b' }, value: 'a/b', expected: false },
    { name: 'is case-sensitive', cond: { glob: '*.md' }, value: 'A.MD', expected: false },
    { name: 'matches the whole value only', cond: { glob: 'a*' }, value: 'ba', expected: false },
    { name: 'lets ** match newlines', cond: { glob: 'rm **' }, value: 'rm -rf\n/', expected: true },
    { name: 'fails for a non-string', cond: { glob: '*' }, value: 1, expected: false },
    { name: 'fails for a value over 64 KiB', cond: { glob: '**' }, value: 'a'.repeat(65_537), expected: false },
  ]);

  it('matches a long value against many stars in linear time', () => {
    const fn = compileCondition({ glob: '*a*b*c*d*e' });
    const started = performance.now();
    expect(fn('a'.repeat(65_536), noRefs)).toBe(false);
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});

describe('regex', () => {
  runTable([
    { name: 'holds for a full match', cond: { regex: '[a-z]+' }, value: 'abc', expected: true },
    { name: 'is anchored at both ends', cond: { regex: 'abc' }, value: 'xabcx', expected: false },
    { name: 'stays anchored across a top-level alternation', cond: { regex: 'a|b' }, value: 'ab', expected: false },
    { name: 'lets . match a newline', cond: { regex: 'rm .*' }, value: 'rm -rf\n/', expected: true },
    { name: 'fails for a non-string', cond: { regex: '\\d+' }, value: 42, expected: false },
    { name: 'fails for a value over 64 KiB', cond: { regex: 'a*' }, value: 'a'.repeat(65_537), expected: false },
    { name: 'fails over 4 KiB with two unbounded quantifiers', cond: { regex: '.*a.*' }, value: 'a'.repeat(4_097), expected: false },
    { name: 'holds at 4 KiB with two unbounded quantifiers', cond: { regex: '.*a.*' }, value: 'a'.repeat(4_096), expected: true },
  ]);

  it.each([
    ['(a+)+', 'nested +'],
    ['(a*)*', 'nested *'],
    ['(a+)*', 'nested + under *'],
    ['(?:a{1,3}){2,}', 'counted repetition inside a repeated group'],
    ['(?:x(?:a|b)+)+', 'a quantifier two groups deep'],
    ['(a|ab)*', 'alternatives that start alike'],
    ['(?:(?:a|a))+', 'ambiguous alternatives in a nested group'],
    ['(?:|a)*', 'an empty alternative'],
    ['(a)\\1', 'a numbered back-reference'],
    ['(?<x>a)\\k<x>', 'a named back-reference'],
    ['a*b*c*d*', 'four unbounded quantifiers'],
    ['${claims.sub}', 'a reference'],
    ['(', 'a syntax error'],
    ['a'.repeat(513), 'a pattern over 512 characters'],
  ])('refuses %j at compile time (%s)', (regex) => {
    expect(() => compileCondition({ regex })).toThrow(ConditionError);
  });

  it.each([['(?:foo|bar)+'], ['[a-z]+(?:\\.[a-z]+)?'], ['(?:a|b)*c'], ['\\d{3}-\\d{4}'], ['(?<year>\\d{4})-(?:0[1-9]|1[0-2])']])('accepts the safe pattern %j', (regex) => {
    expect(() => compileCondition({ regex })).not.toThrow();
  });

  it('stays fast on a worst-case value for an accepted pattern', () => {
    const fn = compileCondition({ regex: '.*a.*b' });
    const started = performance.now();
    expect(fn('a'.repeat(4_096), noRefs)).toBe(false);
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});

describe('host', () => {
  runTable([
    { name: 'holds for the exact host', cond: { host: 'example.com' }, value: 'https://example.com/x', expected: true },
    { name: 'holds for upper case and a port', cond: { host: 'EXAMPLE.com' }, value: 'HTTPS://EXAMPLE.COM:8443/', expected: true },
    { name: 'fails for a subdomain of an exact pattern', cond: { host: 'example.com' }, value: 'https://a.example.com/', expected: false },
    { name: 'holds when * covers one label', cond: { host: '*.example.com' }, value: 'https://a.example.com/', expected: true },
    { name: 'holds when * covers several labels', cond: { host: '*.example.com' }, value: 'https://a.b.example.com/', expected: true },
    { name: 'fails for the apex under *.', cond: { host: '*.example.com' }, value: 'https://example.com/', expected: false },
    { name: 'holds for any listed host', cond: { host: ['a.com', 'example.com'] }, value: 'http://example.com/', expected: true },
    { name: 'fails for userinfo tricks', cond: { host: 'example.com' }, value: 'https://example.com@evil.com/', expected: false },
    { name: 'fails for ftp unless listed', cond: { host: 'example.com' }, value: 'ftp://example.com/', expected: false },
    { name: 'holds for ftp when listed', cond: { host: 'example.com', schemes: ['ftp'] }, value: 'ftp://example.com/', expected: true },
    { name: 'fails for http when only https is listed', cond: { host: 'example.com', schemes: ['https'] }, value: 'http://example.com/', expected: false },
    { name: 'matches an IDN pattern in punycode', cond: { host: '\u00e9xample.com' }, value: 'https://xn--xample-9ua.com/', expected: true },
    { name: 'matches a normalised IPv4 form', cond: { host: '127.0.0.1' }, value: 'http://2130706433/', expected: true },
    { name: 'fails for a value that is not a URL', cond: { host: 'example.com' }, value: 'example.com', expected: false },
    { name: 'fails for a non-string', cond: { host: 'example.com' }, value: { host: 'example.com' }, expected: false },
  ]);

  it.each<[Condition, string]>([
    [{ host: 'https://example.com' }, 'host'],
    [{ host: 'example.com:443' }, 'host'],
    [{ host: ['ok.com', 'a/b'] }, 'host[1]'],
    [{ host: 'ex?mple.com' }, 'host'],
    [{ host: 'a.**.com' }, 'host'],
    [{ host: 'example.com', schemes: ['ht tp'] }, 'schemes[0]'],
    [{ under: '/x', schemes: ['https'] }, 'schemes'],
    [{ not: { host: ['ok.com', 'bad host'] } }, 'not.host[1]'],
  ])('refuses %j with a ConditionError at %j', (cond, path) => {
    expect(() => compileCondition(cond)).toThrow(expect.objectContaining({ name: 'ConditionError', path }));
  });
});

describe('min, max and maxLength', () => {
  runTable([
    { name: 'min holds at the bound', cond: { min: 1 }, value: 1, expected: true },
    { name: 'min fails below the bound', cond: { min: 1 }, value: 0.5, expected: false },
    { name: 'max holds at the bound', cond: { max: 10 }, value: 10, expected: true },
    { name: 'max fails above the bound', cond: { max: 10 }, value: 11, expected: false },
    { name: 'min and max hold inside the range', cond: { min: 1, max: 10 }, value: 5, expected: true },
    { name: 'min fails for a numeric string', cond: { min: 1 }, value: '5', expected: false },
    { name: 'max fails for NaN', cond: { max: 10 }, value: Number.NaN, expected: false },
    { name: 'max fails for a boolean', cond: { max: 10 }, value: true, expected: false },
    { name: 'maxLength counts code points, not UTF-16 units', cond: { maxLength: 2 }, value: '\u{1F600}\u{1F600}', expected: true },
    { name: 'maxLength fails for a longer string', cond: { maxLength: 2 }, value: 'abc', expected: false },
    { name: 'maxLength counts array elements', cond: { maxLength: 2 }, value: [1, 2], expected: true },
    { name: 'maxLength fails for a longer array', cond: { maxLength: 2 }, value: [1, 2, 3], expected: false },
    { name: 'maxLength fails for an object', cond: { maxLength: 2 }, value: {}, expected: false },
  ]);

  it('refuses max below min', () => {
    expect(() => compileCondition({ min: 5, max: 1 })).toThrow(expect.objectContaining({ path: 'max' }));
  });
});

describe('combining and negating', () => {
  runTable([
    { name: 'holds when every operator holds', cond: { under: '/docs', glob: '**.md' }, value: '/docs/a.md', expected: true },
    { name: 'fails when one operator fails', cond: { under: '/docs', glob: '**.md' }, value: '/docs/a.sh', expected: false },
    { name: 'not holds when the inner condition fails', cond: { not: { under: '/etc' } }, value: '/home/a', expected: true },
    { name: 'not fails when the inner condition holds', cond: { not: { under: '/etc' } }, value: '/etc/passwd', expected: false },
    { name: 'not fails for a rejected path', cond: { not: { under: '/etc' } }, value: '/etc/passwd%00', expected: false },
    { name: 'not fails for a value of the wrong type', cond: { not: { equals: 'admin' } }, value: 5, expected: false },
    { name: 'not fails for a numeric string under not min', cond: { not: { min: 100 } }, value: '5', expected: false },
    { name: 'not fails for a URL it cannot parse', cond: { not: { host: 'evil.com' } }, value: 'evil.com/x', expected: false },
    { name: 'not not is the inner condition', cond: { not: { not: { equals: 'a' } } }, value: 'a', expected: true },
    { name: 'undecided wins over false inside not', cond: { not: { equals: 'x', under: '/etc' } }, value: '/etc/%00', expected: false },
    { name: 'inside plus not-inside scopes a subtree out', cond: { under: '/data', not: { under: '/data/secret' } }, value: '/data/secret/k', expected: false },
    { name: 'inside plus not-inside allows the rest', cond: { under: '/data', not: { under: '/data/secret' } }, value: '/data/public/k', expected: true },
  ]);

  it.each<[string, Condition]>([
    ['equals', { equals: 'x' }],
    ['in', { in: ['x'] }],
    ['under', { under: '/x' }],
    ['glob', { glob: '**' }],
    ['regex', { regex: '.*' }],
    ['host', { host: '*' }],
    ['min', { min: 0 }],
    ['maxLength', { maxLength: 10 }],
    ['not equals', { not: { equals: 'x' } }],
    ['not under', { not: { under: '/x' } }],
    ['not not', { not: { not: { equals: 'x' } } }],
  ])('a missing argument never satisfies %s', (_name, cond) => {
    expect(compileCondition(cond)(undefined, noRefs)).toBe(false);
  });
});

describe('references', () => {
  const refs: RefContext = { claims: { sub: 'alice', team: 'red', level: 3, roles: ['a'] }, agent: { name: 'bot', owner: 'ops' } };
  runTable([
    { name: 'equals holds for a whole-value claim', cond: { equals: '${claims.sub}' }, value: 'alice', refs, expected: true },
    { name: 'equals fails for another value', cond: { equals: '${claims.sub}' }, value: 'bob', refs, expected: false },
    { name: 'equals holds for an embedded claim', cond: { equals: 'user-${claims.sub}' }, value: 'user-alice', refs, expected: true },
    { name: 'equals holds for an agent reference', cond: { equals: '${agent.name}@${agent.owner}' }, value: 'bot@ops', refs, expected: true },
    { name: 'equals fails for a missing claim', cond: { equals: '${claims.email}' }, value: '', refs, expected: false },
    { name: 'equals fails for a numeric claim', cond: { equals: '${claims.level}' }, value: '3', refs, expected: false },
    { name: 'equals fails for an array claim', cond: { equals: '${claims.roles}' }, value: 'a', refs, expected: false },
    { name: 'equals fails when the caller has no claims', cond: { equals: '${claims.sub}' }, value: 'alice', refs: { agent: {} }, expected: false },
    { name: 'equals fails for an inherited property name', cond: { equals: '${claims.constructor}' }, value: 'x', refs, expected: false },
    { name: 'not fails for a missing claim', cond: { not: { equals: '${claims.email}' } }, value: 'x', refs, expected: false },
    { name: 'not fails for a non-string claim', cond: { not: { equals: '${claims.level}' } }, value: 'x', refs, expected: false },
    { name: 'in holds for a listed claim', cond: { in: ['blue', '${claims.team}'] }, value: 'red', refs, expected: true },
    { name: 'in fails when any listed claim is missing', cond: { in: ['blue', '${claims.email}'] }, value: 'blue', refs, expected: false },
    { name: 'under holds inside a per-user folder', cond: { under: '/home/${claims.sub}' }, value: '/home/alice/notes', refs, expected: true },
    { name: 'under fails in another user folder', cond: { under: '/home/${claims.sub}' }, value: '/home/bob/notes', refs, expected: false },
    { name: 'under fails when the claim would climb', cond: { under: '/home/${claims.sub}' }, value: '/etc/x', refs: { claims: { sub: '../../etc' }, agent: {} }, expected: false },
    { name: 'under fails when the claim holds a separator', cond: { under: '/home/${claims.sub}' }, value: '/home/a/b/x', refs: { claims: { sub: 'a/b' }, agent: {} }, expected: false },
    { name: 'under fails when the claim is encoded', cond: { under: '/home/${claims.sub}' }, value: '/x', refs: { claims: { sub: '%2e%2e' }, agent: {} }, expected: false },
    { name: 'under fails when the claim is ..', cond: { under: '/home/${claims.sub}' }, value: '/x', refs: { claims: { sub: '..' }, agent: {} }, expected: false },
    { name: 'under accepts a whole-value claim as a path', cond: { under: '${claims.home}' }, value: '/srv/alice/x', refs: { claims: { home: '/srv/alice/' }, agent: {} }, expected: true },
    { name: 'glob treats a claim literally', cond: { glob: '/home/${claims.sub}/*' }, value: '/home/alice/x', refs, expected: true },
    { name: 'glob does not widen on a * in the claim', cond: { glob: '/home/${claims.sub}/*' }, value: '/home/bob/x', refs: { claims: { sub: '*' }, agent: {} }, expected: false },
    { name: 'glob matches a * in the claim literally', cond: { glob: '/home/${claims.sub}/*' }, value: '/home/*/x', refs: { claims: { sub: '*' }, agent: {} }, expected: true },
    { name: 'glob with a claim inside alternatives', cond: { glob: '{${claims.sub},shared}/**' }, value: 'shared/a/b', refs, expected: true },
    { name: 'host holds for a tenant subdomain', cond: { host: '${claims.team}.example.com' }, value: 'https://red.example.com/', refs, expected: true },
    { name: 'host fails for another tenant', cond: { host: '${claims.team}.example.com' }, value: 'https://blue.example.com/', refs, expected: false },
    { name: 'host fails for a claim holding a wildcard', cond: { host: '${claims.team}.example.com' }, value: 'https://x.example.com/', refs: { claims: { team: '*' }, agent: {} }, expected: false },
  ]);

  it('refuses an unknown reference namespace', () => {
    expect(() => compileCondition({ equals: '${claim.sub}' })).toThrow(expect.objectContaining({ path: 'equals' }));
  });

  it('leaves other ${...} text literal', () => {
    expect(compileCondition({ equals: 'cost: ${5}' })('cost: ${5}', noRefs)).toBe(true);
  });
});

describe('compileConditionVerdict', () => {
  it('is false for a missing argument, undefined when undecided, and boolean otherwise', () => {
    const verdict = compileConditionVerdict({ under: '/etc' });
    expect(verdict(undefined, noRefs)).toBe(false);
    expect(verdict('/etc/%00', noRefs)).toBeUndefined();
    expect(verdict(42, noRefs)).toBeUndefined();
    expect(verdict('/etc/passwd', noRefs)).toBe(true);
    expect(verdict('/home', noRefs)).toBe(false);
  });

  it('keeps undecided through not', () => {
    expect(compileConditionVerdict({ not: { under: '/etc' } })('//etc/passwd', noRefs)).toBeUndefined();
  });
});

describe('compile-time errors', () => {
  it.each<[unknown, string]>([
    [{}, ''],
    [{ not: {} }, 'not'],
    [{ in: ['a', {}] }, 'in[1]'],
    [{ in: [] }, 'in'],
    [{ under: '/a/../..' }, 'under'],
    [{ glob: '{a,b' }, 'glob'],
    [{ regex: '(a+)+' }, 'regex'],
    [{ maxLength: -1 }, 'maxLength'],
    [{ min: Number.POSITIVE_INFINITY }, 'min'],
    [{ frobnicate: 1 }, 'frobnicate'],
    [{ not: { not: { regex: '(' } } }, 'not.not.regex'],
  ])('refuses %j at path %j', (cond, path) => {
    let error: unknown;
    try {
      compileCondition(cond as Condition);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConditionError);
    expect((error as ConditionError).path).toBe(path);
  });
});

describe('readArgument', () => {
  const args = {
    path: '/a',
    'a/b': 1,
    options: { path: '/nested', 'a/b': 'slash', 'm~n': 'tilde', '': 'empty', list: ['x', { deep: 'y' }] },
  };
  it.each<[string, unknown]>([
    ['path', '/a'],
    ['missing', undefined],
    ['a/b', 1],
    ['/options/path', '/nested'],
    ['/options/a~1b', 'slash'],
    ['/options/m~0n', 'tilde'],
    ['/options/', 'empty'],
    ['/options/list/0', 'x'],
    ['/options/list/1/deep', 'y'],
    ['/options/list/2', undefined],
    ['/options/list/01', undefined],
    ['/options/list/-', undefined],
    ['/options/missing/x', undefined],
    ['/options/path/x', undefined],
    ['/options/m~2n', undefined],
    ['/options/constructor', undefined],
    ['/__proto__', undefined],
    ['toString', undefined],
  ])('reads %j as %j', (key, expected) => {
    expect(readArgument(args, key)).toEqual(expected);
  });

  it('gives undefined without arguments', () => {
    expect(readArgument(undefined, 'path')).toBeUndefined();
    expect(readArgument(undefined, '/a')).toBeUndefined();
  });
});

describe('describeCondition', () => {
  it.each<[Condition, string]>([
    [{ under: '/marketing' }, 'path under /marketing'],
    [{ equals: 'read' }, 'path equals "read"'],
    [{ in: ['a', 1] }, 'path is one of "a", 1'],
    [{ glob: '*.md' }, 'path matches *.md'],
    [{ regex: '\\d+' }, 'path matches /\\d+/'],
    [{ host: ['example.com', '*.example.com'], schemes: ['https'] }, 'path host is example.com or *.example.com (https)'],
    [{ min: 1, max: 5 }, 'path between 1 and 5'],
    [{ min: 1 }, 'path at least 1'],
    [{ max: 5 }, 'path at most 5'],
    [{ maxLength: 64 }, 'path length at most 64'],
    [{ under: '/data', not: { under: '/data/secret' } }, 'path under /data and not (path under /data/secret)'],
  ])('describes %j as %j', (cond, text) => {
    expect(describeCondition('path', cond)).toBe(text);
  });
});

describe('usesClaims', () => {
  it.each<[Condition, boolean]>([
    [{ equals: '${claims.sub}' }, true],
    [{ in: ['a', 'x-${claims.team}'] }, true],
    [{ host: ['a.com', '${claims.t}.example.com'] }, true],
    [{ not: { not: { under: '/home/${claims.sub}' } } }, true],
    [{ equals: '${agent.name}' }, false],
    [{ equals: 5 }, false],
    [{ under: '/x' }, false],
  ])('usesClaims(%j) is %s', (cond, expected) => {
    expect(usesClaims(cond)).toBe(expected);
  });
});
