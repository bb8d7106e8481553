import { describe, expect, it } from 'vitest';
import { ConfigSchema, type Config } from '../../src/config/schema.js';
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
    expect(tools.byPrefix.get('docs__')!.map((r) => r.index)).toEqual([1]);
    expect(tools.byPrefix.get('')!.map((r) => r.index)).toEqual([2]);
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
