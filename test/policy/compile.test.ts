import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigSchema, type Config } from '../../src/config/schema.js';
import { compileNameGlob } from '../../src/policy/compile.js';
import { compileGlob } from '../../src/policy/glob.js';
import { compilePolicy, PolicyCompileError } from '../../src/policy/index.js';

function configOf(agents: Record<string, unknown>, extra: Record<string, unknown> = {}): Config {
  return ConfigSchema.parse({ version: 1, agents, ...extra });
}

function issuesOf(config: Config): Array<{ path: string; message: string }> {
  try {
    compilePolicy(config, { version: 't' });
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyCompileError);
    return [...(err as PolicyCompileError).issues];
  }
  throw new Error('expected compilePolicy to throw');
}

describe('compilePolicy', () => {
  it('keeps the caller-provided version and every agent', () => {
    const policy = compilePolicy(configOf({ default: {}, 'release-bot': { rules: [{ allow: 'x' }] } }), { version: 'sha256:abc' });
    expect(policy.version).toBe('sha256:abc');
    expect([...policy.agents.keys()]).toEqual(['default', 'release-bot']);
  });

  it('indexes literal patterns by name and groups glob patterns by literal prefix', () => {
    const policy = compilePolicy(configOf({ default: { rules: [{ allow: 'docs__search' }, { allow: 'docs__*' }, { deny: '*__delete_*' }, { ask: 'docs__search' }] } }), { version: 't' });
    const tools = policy.agents.get('default')!.tools;
    expect(tools.literal.get('docs__search')!.map((r) => r.index)).toEqual([0, 3]);
    expect(tools.byPrefix.get('docs__')!.rules.map((r) => r.index)).toEqual([1]);
    expect(tools.byPrefix.get('')!.rules.map((r) => r.index)).toEqual([2]);
    expect(tools.prefixLengths).toEqual([0, 6]);
  });

  it('accepts an agent named like an Object.prototype property', () => {
    const policy = compilePolicy(configOf({ constructor: { rules: [{ allow: 'x' }] } }), { version: 't' });
    expect(policy.agents.get('constructor')?.tools.rules).toHaveLength(1);
  });

  it('reports every bad pattern, regex and condition at once, each with its YAML path', () => {
    const issues = issuesOf(configOf(
      {
        default: {
          rules: [
            { allow: 'docs__{read,write' },
            { allow: 'docs__read_page', where: { path: { regex: '([a-z' } } },
            { allow: 'docs__ok' },
            { ask: 'docs__{a', where: { '/options/name': { regex: '(' } } },
          ],
          resources: [{ allow: 'docs://{x' }],
          prompts: [{ deny: '{' }],
          limits: [{ match: 'docs__{', max: 1, per: '1m' }],
        },
        other: { rules: [{ deny: 'a{b' }] },
      },
      { taint: { classes: { critical: ['*__{send'] } } },
    ));
    const paths = issues.map((i) => i.path);
    expect(paths).toContain('agents.default.rules[0].allow');
    expect(paths.some((p) => p.startsWith('agents.default.rules[1].where.path'))).toBe(true);
    expect(paths).toContain('agents.default.rules[3].ask');
    expect(paths.some((p) => p.startsWith('agents.default.rules[3].where["/options/name"]'))).toBe(true);
    expect(paths).toContain('agents.default.resources[0].allow');
    expect(paths).toContain('agents.default.prompts[0].deny');
    expect(paths).toContain('agents.default.limits[0].match');
    expect(paths).toContain('agents.other.rules[0].deny');
    expect(paths).toContain('taint.classes.critical[0]');
    expect(paths.some((p) => p.startsWith('agents.default.rules[2]'))).toBe(false);
    expect(issues.find((i) => i.path === 'agents.default.rules[0].allow')!.message).toMatch(/docs__\{read,write/);
  });

  it('puts every issue in the error message, one per line', () => {
    const err = (() => {
      try {
        compilePolicy(configOf({ default: { rules: [{ allow: 'a{' }, { deny: 'b{' }] } }), { version: 't' });
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(err?.message).toContain('agents.default.rules[0].allow');
    expect(err?.message).toContain('agents.default.rules[1].deny');
  });
});

describe('compileNameGlob', () => {
  const shapes = [
    ['docs__*', 'docs__read', true], ['docs__*', 'docs__a/b', false], ['docs__**', 'docs__a/b', true],
    ['*__read', 'docs__read', true], ['*__read', 'a/docs__read', false], ['**__read', 'a/docs__read', true],
    ['*__delete_*', 'docs__delete_page', true], ['*__delete_*', 'a/x__delete_y', false], ['*/__delete_*', 'a/__delete_y', true],
    ['docs__*_page', 'docs__read_page', true], ['docs__*_page', 'docs__a/b_page', false], ['docs__**_page', 'docs__a/b_page', true],
    ['ab*ba', 'aba', false], ['ab**ba', 'aba', false], ['ab*ba', 'abba', true],
  ] as const;
  it.each(shapes)('matches %s against %s as %s, like compileGlob', (pattern, name, expected) => {
    expect(compileNameGlob(pattern)(name)).toBe(expected);
    expect(compileGlob(pattern)(name)).toBe(expected);
  });

  it('agrees with compileGlob on random patterns and names', () => {
    const pattern = fc.stringMatching(/^[ab_/*?]{0,8}$/);
    const name = fc.stringMatching(/^[ab_/]{0,10}$/);
    fc.assert(fc.property(pattern, name, (p, n) => compileNameGlob(p)(n) === compileGlob(p)(n)), { numRuns: 20_000 });
  });
});
