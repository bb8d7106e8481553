import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ConfigSchema, type Condition, type Config } from '../../src/config/schema.js';
import { compareCondition } from '../../src/policy/diff.js';
import { diffPolicies, formatDiff, type AgentDiff, type PolicyCatalog } from '../../src/policy/index.js';

function fixture(name: string): Config {
  return ConfigSchema.parse(parse(readFileSync(new URL(`../fixtures/policies/${name}`, import.meta.url), 'utf8')));
}

function configOf(agents: Record<string, unknown>, extra: Record<string, unknown> = {}): Config {
  return ConfigSchema.parse({ version: 1, agents, ...extra });
}

const base = fixture('docs-and-web.yaml');
const widened = fixture('docs-and-web-widened.yaml');

const catalog: PolicyCatalog = {
  tools: [
    { name: 'docs__search', readOnlyHint: true, annotationsTrusted: true },
    { name: 'docs__read_page', readOnlyHint: true, annotationsTrusted: true },
    { name: 'docs__update_page', annotationsTrusted: true },
    { name: 'docs__create_page', annotationsTrusted: true },
    { name: 'docs__delete_page', annotationsTrusted: true },
    { name: 'web__fetch', readOnlyHint: true, annotationsTrusted: false },
  ],
};

function agent(diff: { agents: readonly AgentDiff[] }, name: string): AgentDiff {
  const a = diff.agents.find((x) => x.agent === name);
  if (!a) throw new Error(`no diff for agent ${name}`);
  return a;
}

describe('diffPolicies', () => {
  it('reports no change and hasChanges false for identical policies', () => {
    const d = diffPolicies(base, fixture('docs-and-web.yaml'));
    expect(d).toEqual({ addedAgents: [], removedAgents: [], agents: [], global: [], hasChanges: false });
    expect(diffPolicies(base, base, catalog).hasChanges).toBe(false);
    expect(formatDiff(d)).toBe('No capability changes.\n');
  });

  it('reports no change when rules are only reordered in a way that keeps every decision', () => {
    const a = configOf({ default: { rules: [{ allow: 'x__a' }, { allow: 'x__b' }] } });
    const b = configOf({ default: { rules: [{ allow: 'x__b' }, { allow: 'x__a' }] } });
    expect(diffPolicies(a, b).hasChanges).toBe(false);
  });

  describe('with a catalog, a widening change', () => {
    const d = diffPolicies(base, widened, catalog);
    const def = agent(d, 'default');

    it('lists a tool that went from deny to allow as became possible', () => {
      expect(def.becamePossible).toEqual([{ kind: 'tool', name: 'docs__create_page', from: 'deny', to: 'allow', rule: 'agents.default.rules[5]', conditions: [] }]);
    });

    it('lists a tool that went from ask to allow as moved', () => {
      expect(def.moved.map((m) => [m.name, m.from, m.to])).toEqual([['docs__update_page', 'ask', 'allow']]);
    });

    it('reports a folder changed to its parent and a removed condition as widened', () => {
      expect(def.conditions.map((c) => [c.name, c.direction])).toEqual([['web__fetch', 'widened']]);
      expect(def.conditions[0]!.details[0]).toMatch(/^condition removed: /);
    });

    it('reports a looser limit as widened', () => {
      expect(def.limits).toEqual([{ pattern: 'docs__update_*', direction: 'widened', text: 'limit on docs__update_*: 20 per 1h → 50 per 1h' }]);
    });

    it('reports added agents and leaves unchanged agents out', () => {
      expect(d.addedAgents).toEqual(['intern']);
      expect(agent(d, 'intern').status).toBe('added');
      expect(d.agents.some((a) => a.agent === 'release-bot')).toBe(false);
      expect(d.hasChanges).toBe(true);
    });
  });

  describe('with a catalog, the reverse (narrowing) change', () => {
    const d = diffPolicies(widened, base, catalog);
    const def = agent(d, 'default');

    it('lists a tool that went from allow to deny as removed, naming the old rule', () => {
      expect(def.removed).toEqual([{ kind: 'tool', name: 'docs__create_page', from: 'allow', to: 'deny', rule: 'agents.default.rules[5]', conditions: [] }]);
    });

    it('reports an added condition as narrowed', () => {
      expect(def.conditions.map((c) => [c.name, c.direction])).toEqual([['web__fetch', 'narrowed']]);
    });

    it('reports removed agents with everything they could do as removed', () => {
      expect(d.removedAgents).toEqual(['intern']);
      expect(agent(d, 'intern')).toMatchObject({ status: 'removed', removed: [{ name: 'docs__search', from: 'allow', to: 'deny' }] });
    });
  });

  describe('without a catalog, rules are compared by pattern', () => {
    const d = diffPolicies(base, widened);
    const def = agent(d, 'default');

    it('reports a folder widened to its parent', () => {
      const c = def.conditions.find((x) => x.name === 'docs__read_page');
      expect(c?.direction).toBe('widened');
    });

    it('judges patterns as write tools: a newly allowed name became possible', () => {
      expect(def.becamePossible.map((c) => [c.name, c.from, c.to])).toEqual([['docs__create_page', 'deny', 'allow']]);
    });

    it('reports ask → allow as moved', () => {
      expect(def.moved.map((m) => m.name)).toEqual(['docs__update_page']);
    });
  });

  it('reports a new readOnly rule as became possible for read-only tools only', () => {
    const d = diffPolicies(configOf({ default: { rules: [] } }), configOf({ default: { rules: [{ allow: 'docs__*', readOnly: true }] } }));
    expect(agent(d, 'default').becamePossible).toEqual([{ kind: 'tool', name: 'docs__*', from: 'deny', to: 'allow', rule: 'agents.default.rules[0]', conditions: ['read-only tools only'] }]);
  });

  it('reports a new pattern nothing allowed before as became possible', () => {
    const d = diffPolicies(configOf({ default: { rules: [] } }), configOf({ default: { rules: [{ ask: 'mail__send' }] } }));
    expect(agent(d, 'default').becamePossible).toEqual([{ kind: 'tool', name: 'mail__send', from: 'deny', to: 'ask', rule: 'agents.default.rules[0]', conditions: [] }]);
  });

  it('reports a new conditional deny as narrowing an allowed tool', () => {
    const a = configOf({ default: { rules: [{ allow: 'docs__*' }] } });
    const b = configOf({ default: { rules: [{ allow: 'docs__*' }, { deny: 'docs__*', where: { path: { under: '/secret' } } }] } });
    const c = agent(diffPolicies(a, b), 'default').conditions[0]!;
    expect(c.direction).toBe('narrowed');
    expect(c.details[0]).toMatch(/^now: deny when /);
  });

  it('reports resource and prompt changes', () => {
    const a = configOf({ default: { resources: [{ allow: 'docs://a/**' }], prompts: [{ allow: 'p__x' }] } });
    const b = configOf({ default: { resources: [{ allow: 'docs://a/**' }, { deny: 'docs://a/**' }], prompts: [] } });
    const def = agent(diffPolicies(a, b), 'default');
    expect(def.removed.map((r) => `${r.kind}:${r.name}`)).toEqual(['resource:docs://a/**', 'prompt:p__x']);
  });

  it('compares resource patterns when the catalog lists tools only', () => {
    const a = configOf({ default: { resources: [{ allow: 'docs://a/**' }] } });
    const b = configOf({ default: { resources: [{ allow: 'docs://a/**' }, { allow: 'docs://hr/**' }] } });
    expect(agent(diffPolicies(a, b, catalog), 'default').becamePossible.map((c) => `${c.kind}:${c.name}`)).toEqual(['resource:docs://hr/**']);
  });

  it('reports added and removed limits', () => {
    const a = configOf({ default: { rules: [{ allow: 'x' }], limits: [{ match: 'a', max: 1, per: '1m' }] } });
    const b = configOf({ default: { rules: [{ allow: 'x' }], limits: [{ match: 'b', max: 1, per: '1m' }] } });
    expect(agent(diffPolicies(a, b), 'default').limits.map((l) => [l.pattern, l.direction])).toEqual([['a', 'widened'], ['b', 'narrowed']]);
  });

  it('reports taint and server trust changes globally', () => {
    const servers = (trust: string) => ({ web: { url: 'http://127.0.0.1:9000/mcp', trust } });
    const a = configOf({}, { servers: servers('external') });
    const b = configOf({}, { servers: servers('internal'), taint: { onTaintedSink: 'allow' } });
    const d = diffPolicies(a, b);
    expect(d.hasChanges).toBe(true);
    expect(d.global).toEqual(['taint.onTaintedSink: ask → allow (widened)', 'servers.web.trust: external → internal (widened: results no longer tainted)']);
  });
});

describe('compareCondition', () => {
  const cases: Array<{ when: string; before: Condition; after: Condition; expected: string | undefined }> = [
    { when: 'identical', before: { under: '/a' }, after: { under: '/a' }, expected: undefined },
    { when: 'folder changed to its parent', before: { under: '/marketing/drafts' }, after: { under: '/marketing' }, expected: 'widened' },
    { when: 'folder changed to the root', before: { under: '/marketing' }, after: { under: '/' }, expected: 'widened' },
    { when: 'folder changed to a child', before: { under: '/marketing' }, after: { under: '/marketing/drafts/' }, expected: 'narrowed' },
    { when: 'folder changed to a sibling', before: { under: '/marketing' }, after: { under: '/sales' }, expected: 'changed' },
    { when: 'folder with a common string prefix', before: { under: '/market' }, after: { under: '/marketing' }, expected: 'changed' },
    { when: 'in list gained a value', before: { in: ['a'] }, after: { in: ['a', 'b'] }, expected: 'widened' },
    { when: 'in list lost a value', before: { in: ['a', 'b'] }, after: { in: ['b'] }, expected: 'narrowed' },
    { when: 'hosts swapped', before: { host: 'a.com' }, after: { host: 'b.com' }, expected: 'changed' },
    { when: 'host list gained a host', before: { host: 'a.com' }, after: { host: ['a.com', 'b.com'] }, expected: 'widened' },
    { when: 'max raised', before: { max: 10 }, after: { max: 20 }, expected: 'widened' },
    { when: 'min raised', before: { min: 1 }, after: { min: 5 }, expected: 'narrowed' },
    { when: 'maxLength lowered', before: { maxLength: 100 }, after: { maxLength: 10 }, expected: 'narrowed' },
    { when: 'an operator removed', before: { under: '/a', maxLength: 10 }, after: { under: '/a' }, expected: 'widened' },
    { when: 'an operator added', before: { under: '/a' }, after: { under: '/a', maxLength: 10 }, expected: 'narrowed' },
    { when: 'a scheme allowed', before: { host: 'a.com' }, after: { host: 'a.com', schemes: ['ftp'] }, expected: 'widened' },
    { when: 'equals changed', before: { equals: 'a' }, after: { equals: 'b' }, expected: 'changed' },
    { when: 'one operator widened and another narrowed', before: { min: 1, max: 5 }, after: { min: 2, max: 9 }, expected: 'changed' },
  ];
  it.each(cases)('returns $expected when $when', ({ before, after, expected }) => {
    expect(compareCondition(before, after)).toBe(expected);
  });
});

describe('formatDiff', () => {
  it('renders sections per agent for a pull request', () => {
    const text = formatDiff(diffPolicies(base, widened, catalog));
    expect(text).toContain('## Policy capability diff');
    expect(text).toContain('### Agent `default`');
    expect(text).toContain('**Became possible**');
    expect(text).toContain('- tool `docs__create_page`: deny → allow (agents.default.rules[5])');
    expect(text).toContain('**Moved between allow / ask / deny**');
    expect(text).toContain('**Conditions changed**');
    expect(text).toContain('**widened**');
    expect(text).toContain('**Limits changed**');
    expect(text).toContain('### Agent `intern` (new agent)');
    expect(text).not.toContain('release-bot');
  });
});
