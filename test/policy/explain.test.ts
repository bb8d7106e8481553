import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ConfigSchema, type Config } from '../../src/config/schema.js';
import { describeCondition } from '../../src/policy/conditions.js';
import { compilePolicy, explainAgent, formatExplainTable, type PolicyCatalog } from '../../src/policy/index.js';

function fixture(name: string): Config {
  return ConfigSchema.parse(parse(readFileSync(new URL(`../fixtures/policies/${name}`, import.meta.url), 'utf8')));
}

function configOf(agents: Record<string, unknown>, extra: Record<string, unknown> = {}): Config {
  return ConfigSchema.parse({ version: 1, agents, ...extra });
}

const catalog: PolicyCatalog = {
  tools: [
    { name: 'docs__search', readOnlyHint: true, annotationsTrusted: true },
    { name: 'docs__read_page', readOnlyHint: true, annotationsTrusted: true },
    { name: 'docs__update_page', readOnlyHint: false, annotationsTrusted: true },
    { name: 'docs__create_page', annotationsTrusted: true },
    { name: 'docs__delete_page', annotationsTrusted: true },
    { name: 'web__fetch', readOnlyHint: true, annotationsTrusted: false },
  ],
  resources: ['docs://marketing/plan.md', 'docs://marketing/secret/pay.md', 'docs://hr/a.md'],
  prompts: ['docs__summarize', 'web__summarize'],
};

const policy = compilePolicy(fixture('docs-and-web.yaml'), { version: 't' });

describe('explainAgent with a catalog', () => {
  const rows = explainAgent(policy, 'default', catalog);
  const rowOf = (name: string) => rows.find((r) => r.name === name)!;

  it('has one row per catalog tool, resource and prompt', () => {
    expect(rows.map((r) => `${r.kind}:${r.name}`)).toEqual([
      ...catalog.tools.map((t) => `tool:${t.name}`),
      ...catalog.resources!.map((r) => `resource:${r}`),
      ...catalog.prompts!.map((p) => `prompt:${p}`),
    ]);
  });

  const cases = [
    { name: 'docs__search', effect: 'allow', rule: 'agents.default.rules[0]' },
    { name: 'docs__read_page', effect: 'allow', rule: 'agents.default.rules[2]' },
    { name: 'docs__update_page', effect: 'ask', rule: 'agents.default.rules[3]' },
    { name: 'docs__create_page', effect: 'deny', rule: undefined },
    { name: 'docs__delete_page', effect: 'deny', rule: 'agents.default.rules[5]' },
    { name: 'web__fetch', effect: 'allow', rule: 'agents.default.rules[4]' },
    { name: 'docs://marketing/plan.md', effect: 'allow', rule: 'agents.default.resources[0]' },
    { name: 'docs://marketing/secret/pay.md', effect: 'deny', rule: 'agents.default.resources[1]' },
    { name: 'docs://hr/a.md', effect: 'deny', rule: undefined },
    { name: 'docs__summarize', effect: 'allow', rule: 'agents.default.prompts[0]' },
    { name: 'web__summarize', effect: 'deny', rule: undefined },
  ];
  it.each(cases)('shows $name as $effect by $rule', ({ name, effect, rule }) => {
    expect(rowOf(name).effect).toBe(effect);
    expect(rowOf(name).rule?.path).toBe(rule);
  });

  it('prefers an unconditional rule of the same effect over a conditional one', () => {
    expect(rowOf('docs__read_page').conditions).toEqual([]);
  });

  it('lists the deciding rule\'s conditions', () => {
    expect(rowOf('docs__update_page').conditions).toEqual([describeCondition('path', { under: '/marketing/drafts' })]);
    expect(rowOf('web__fetch').conditions).toEqual([describeCondition('url', { host: ['*.example.com', 'example.org'] })]);
  });

  it('shows the limit on tools it applies to, and none on denied tools', () => {
    expect(rowOf('docs__update_page').limit).toBe('20 per 1h (agents.default.limits[0])');
    expect(rowOf('docs__search').limit).toBeUndefined();
  });

  it('shows the rule id in the rule ref', () => {
    expect(rowOf('docs__delete_page').rule).toEqual({ path: 'agents.default.rules[5]', index: 5, id: 'no-deletes' });
  });

  it('classifies external tools as sources and tools that are not trusted read-only as sinks', () => {
    expect(rowOf('web__fetch').taintClass).toBe('source, sink');
    expect(rowOf('docs__update_page').taintClass).toBe('sink');
    expect(rowOf('docs__search').taintClass).toBeUndefined();
    expect(rowOf('web__summarize').taintClass).toBe('source');
  });

  it('marks critical sinks from taint.classes.critical', () => {
    const p = compilePolicy(configOf({ default: { rules: [{ ask: 'docs__*' }] } }, { taint: { classes: { critical: ['*__delete_*'] } } }), { version: 't' });
    expect(explainAgent(p, 'default', catalog).find((r) => r.name === 'docs__delete_page')!.taintClass).toBe('critical sink');
  });

  it('lists stricter rules that apply under conditions', () => {
    const p = compilePolicy(configOf({ default: { rules: [{ allow: 'docs__*' }, { deny: 'docs__read_page', where: { path: { under: '/secret' } } }] } }), { version: 't' });
    const row = explainAgent(p, 'default', catalog).find((r) => r.name === 'docs__read_page')!;
    expect(row.effect).toBe('allow');
    expect(row.conditions).toEqual([`deny when ${describeCondition('path', { under: '/secret' })} (agents.default.rules[1])`]);
  });

  it('shows ask when an unconditional ask rule matches alongside an allow rule', () => {
    const p = compilePolicy(configOf({ default: { rules: [{ allow: 'docs__search' }, { ask: 'docs__*' }] } }), { version: 't' });
    expect(explainAgent(p, 'default', catalog).find((r) => r.name === 'docs__search')).toMatchObject({ effect: 'ask', rule: { index: 1 } });
  });
});

describe('explainAgent without a catalog', () => {
  const rows = explainAgent(policy, 'default');

  it('has one row per distinct rule pattern, per kind', () => {
    expect(rows.map((r) => `${r.kind}:${r.name}`)).toEqual([
      'tool:docs__search', 'tool:docs__read_page', 'tool:docs__*', 'tool:docs__update_page', 'tool:web__fetch', 'tool:*__delete_*',
      'resource:docs://marketing/**', 'resource:docs://marketing/secret/**',
      'prompt:docs__*',
    ]);
  });

  it('shows a readOnly rule as a condition', () => {
    expect(rows.find((r) => r.name === 'docs__*' && r.kind === 'tool')).toMatchObject({ effect: 'allow', conditions: ['read-only tools only'] });
  });

  it('judges a pattern as a write tool first, so an ask rule shows even where a readOnly allow also matches', () => {
    expect(rows.find((r) => r.name === 'docs__update_page')).toMatchObject({ effect: 'ask', rule: { path: 'agents.default.rules[3]' } });
  });

  it('leaves the sink class out for patterns (unknown annotations) but keeps sources', () => {
    expect(rows.find((r) => r.name === 'docs__search')!.taintClass).toBeUndefined();
    expect(rows.find((r) => r.name === 'web__fetch')!.taintClass).toBe('source');
  });

  it('returns no rows for an unknown agent', () => {
    expect(explainAgent(policy, 'mallory')).toEqual([]);
  });
});

describe('formatExplainTable', () => {
  it('prints a header and one padded line per row', () => {
    const text = formatExplainTable(explainAgent(policy, 'default', catalog));
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^KIND\s+NAME\s+EFFECT\s+RULE\s+CONDITIONS\s+LIMIT\s+TAINT$/);
    expect(lines).toHaveLength(1 + 11);
    expect(text).toContain('(default deny)');
    expect(lines.find((l) => l.includes('docs__delete_page'))).toMatch(/deny\s+agents\.default\.rules\[5\] \(no-deletes\)/);
    const effectColumn = lines[0]!.indexOf('EFFECT');
    expect(lines.every((l) => l.slice(effectColumn).match(/^(EFFECT|allow|ask|deny)/))).toBe(true);
  });

  it('says so when there are no rows', () => {
    expect(formatExplainTable([])).toBe('(no tools, resources or prompts)\n');
  });
});
