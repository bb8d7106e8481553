import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ConfigSchema, type Config } from '../../src/config/schema.js';
import { lintPolicy, type LintIssue, type PolicyCatalog } from '../../src/policy/index.js';

function fixture(name: string): Config {
  return ConfigSchema.parse(parse(readFileSync(new URL(`../fixtures/policies/${name}`, import.meta.url), 'utf8')));
}

function configOf(agents: Record<string, unknown>, extra: Record<string, unknown> = {}): Config {
  return ConfigSchema.parse({ version: 1, agents, ...extra });
}

const JWT = { gateway: { auth: { mode: 'jwt', jwt: { secret: 'x' } } } };
const EXTERNAL_WEB = { servers: { web: { url: 'http://127.0.0.1:9000/mcp', trust: 'external' }, docs: { command: 'node' } } };

const catalog: PolicyCatalog = {
  tools: [
    { name: 'docs__search', readOnlyHint: true, annotationsTrusted: true, inputProperties: ['query'] },
    { name: 'docs__read_page', readOnlyHint: true, annotationsTrusted: true, inputProperties: ['path'] },
    { name: 'docs__update_page', annotationsTrusted: true, inputProperties: ['path', 'content'] },
    { name: 'docs__create_page', annotationsTrusted: true, inputProperties: ['path', 'content'] },
    { name: 'docs__restore_page', annotationsTrusted: true, inputProperties: ['path', 'revision'] },
    { name: 'web__fetch', readOnlyHint: true, annotationsTrusted: false, inputProperties: ['url'] },
  ],
  resources: ['docs://marketing/a.md'],
  prompts: ['docs__summarize'],
};

function find(issues: readonly LintIssue[], path: string): LintIssue | undefined {
  return issues.find((i) => i.path === path);
}

describe('lintPolicy: compile problems', () => {
  it('reports bad patterns and regexes as errors with their paths instead of throwing', () => {
    const issues = lintPolicy(configOf({ default: { rules: [{ allow: 'a{' }, { allow: 'b', where: { p: { regex: '(' } } }] } }, JWT));
    expect(find(issues, 'agents.default.rules[0].allow')?.level).toBe('error');
    expect(issues.some((i) => i.level === 'error' && i.path.startsWith('agents.default.rules[1].where.p'))).toBe(true);
  });
});

describe('lintPolicy: allow patterns that cover write tools', () => {
  const cases = [
    { when: 'an allow glob with * has neither readOnly nor where', rule: { allow: 'docs__*' }, warns: true },
    { when: 'the allow glob is readOnly', rule: { allow: 'docs__*', readOnly: true }, warns: false },
    { when: 'the allow glob has conditions', rule: { allow: 'docs__*', where: { path: { under: '/a' } } }, warns: false },
    { when: 'the glob is an ask rule', rule: { ask: 'docs__*' }, warns: false },
    { when: 'the allow pattern is a literal name', rule: { allow: 'docs__update_page' }, warns: false },
  ];
  it.each(cases)('without a catalog, warns=$warns when $when', ({ rule, warns }) => {
    const issue = find(lintPolicy(configOf({ default: { rules: [rule] } }, JWT)), `agents.default.rules[0].${'allow' in rule ? 'allow' : 'ask'}`);
    expect(issue !== undefined).toBe(warns);
    if (warns) expect(issue).toMatchObject({ level: 'warning', message: expect.stringContaining('including tools that write') });
  });

  it('with a catalog, counts and names the write tools the agent may call without asking', () => {
    const issues = lintPolicy(configOf({ default: { rules: [{ allow: 'docs__*' }, { ask: 'docs__restore_page' }] } }, JWT), catalog);
    const issue = find(issues, 'agents.default.rules');
    expect(issue?.message).toBe('agent default may call 2 write tools without asking: docs__update_page, docs__create_page');
    expect(issue?.hint).toContain('rules[0]');
  });

  it('with a catalog, says nothing when every write tool needs asking', () => {
    const issues = lintPolicy(configOf({ default: { rules: [{ allow: 'docs__*', readOnly: true }, { ask: 'docs__*' }] } }, JWT), catalog);
    expect(find(issues, 'agents.default.rules')).toBeUndefined();
  });
});

describe('lintPolicy: lethal trifecta', () => {
  const trifecta = (issues: readonly LintIssue[]) => issues.filter((i) => i.message.startsWith('lethal trifecta'));

  it('warns when an agent reads an external server and may call a sink without asking', () => {
    const issues = lintPolicy(configOf({ default: { rules: [{ allow: 'web__fetch' }, { allow: 'docs__update_page' }] } }, { ...JWT, ...EXTERNAL_WEB }));
    const [issue] = trifecta(issues);
    expect(issue).toMatchObject({ level: 'warning', path: 'agents.default.rules[0]' });
    expect(issue!.message).toContain('external server web (web__fetch)');
    expect(issue!.message).toContain('docs__update_page via rules[1]');
  });

  it('says nothing is in the way when taint.onTaintedSink is allow', () => {
    const issues = lintPolicy(configOf({ default: { rules: [{ allow: 'web__fetch' }, { allow: 'docs__update_page' }] } }, { ...JWT, ...EXTERNAL_WEB, taint: { onTaintedSink: 'allow' } }));
    expect(trifecta(issues)[0]!.message).toContain('nothing stands between');
  });

  const quiet = [
    { when: 'no server is external', extra: JWT, rules: [{ allow: 'web__fetch' }, { allow: 'docs__update_page' }] },
    { when: 'every sink needs asking', extra: { ...JWT, ...EXTERNAL_WEB }, rules: [{ ask: 'web__fetch' }, { ask: 'docs__update_page' }] },
    { when: 'the agent cannot reach the external server', extra: { ...JWT, ...EXTERNAL_WEB }, rules: [{ allow: 'docs__update_page' }] },
    { when: 'the only allow rules are readOnly', extra: { ...JWT, ...EXTERNAL_WEB }, rules: [{ allow: '*', readOnly: true }] },
  ];
  it.each(quiet)('does not warn when $when', ({ extra, rules }) => {
    expect(trifecta(lintPolicy(configOf({ default: { rules } }, extra)))).toEqual([]);
  });

  it('with a catalog, treats untrusted read-only hints as sinks', () => {
    const issues = lintPolicy(configOf({ default: { rules: [{ allow: 'web__fetch' }] } }, { ...JWT, ...EXTERNAL_WEB }), catalog);
    expect(trifecta(issues)[0]!.message).toContain('web__fetch via rules[0]');
  });
});

describe('lintPolicy: shadowed and duplicate rules', () => {
  const cases = [
    { when: 'an allow follows a broader deny', rules: [{ deny: 'docs__*' }, { allow: 'docs__search' }], path: 'agents.default.rules[1]', message: /never takes effect: agents\.default\.rules\[0\] \(deny "docs__\*"\)/ },
    { when: 'an allow precedes a broader ask', rules: [{ allow: 'docs__search' }, { ask: '*' }], path: 'agents.default.rules[0]', message: /never takes effect/ },
    { when: 'an allow follows a broader allow', rules: [{ allow: 'docs__*' }, { allow: 'docs__search' }], path: 'agents.default.rules[1]', message: /^redundant: / },
    { when: 'a rule repeats an earlier one', rules: [{ ask: 'docs__x', where: { p: { equals: 1 } } }, { ask: 'docs__x', where: { p: { equals: 1 } } }], path: 'agents.default.rules[1]', message: /^duplicate of agents\.default\.rules\[0\]/ },
    { when: 'an allow follows a deny with the same conditions', rules: [{ deny: 'docs__x', where: { p: { equals: 1 } } }, { allow: 'docs__x', where: { p: { equals: 1 } } }], path: 'agents.default.rules[1]', message: /never takes effect/ },
    { when: 'a resource rule follows a broader deny', rules: [], resources: [{ deny: 'docs://**' }, { allow: 'docs://a/**' }], path: 'agents.default.resources[1]', message: /never takes effect/ },
  ];
  it.each(cases)('warns at $path when $when', ({ rules, resources, path, message }) => {
    const issue = find(lintPolicy(configOf({ default: { rules, resources: resources ?? [] } }, JWT)), path);
    expect(issue?.level).toBe('warning');
    expect(issue?.message).toMatch(message);
  });

  const quiet = [
    { when: 'the deny has conditions', rules: [{ deny: 'docs__*', where: { p: { equals: 1 } } }, { allow: 'docs__search' }] },
    { when: 'the deny is readOnly and the allow is not', rules: [{ deny: 'docs__*', readOnly: true }, { allow: 'docs__search' }] },
    { when: 'the broader pattern does not cover a ** pattern', rules: [{ deny: 'docs:*' }, { allow: 'docs:**' }] },
    { when: 'a ? pattern does not cover a * pattern', rules: [{ deny: 'docs__?' }, { allow: 'docs__*' }] },
    { when: 'the earlier same-effect rule is narrower', rules: [{ allow: 'docs__search' }, { allow: 'docs__*', readOnly: true }] },
  ];
  it.each(quiet)('does not warn when $when', ({ rules }) => {
    const issues = lintPolicy(configOf({ default: { rules } }, JWT));
    expect(issues.filter((i) => /never takes effect|redundant|duplicate/.test(i.message))).toEqual([]);
  });
});

describe('lintPolicy: patterns matching nothing (catalog only)', () => {
  const config = configOf({
    default: {
      rules: [{ allow: 'dcos__search' }, { allow: 'web__*', readOnly: true }, { allow: 'docs__search' }],
      resources: [{ allow: 'docs://hr/**' }],
      prompts: [{ allow: 'nope__*' }],
      limits: [{ match: 'doc__update_*', max: 1, per: '1m' }],
    },
  }, JWT);

  it('warns for each rule and limit that matches nothing the upstreams expose', () => {
    const issues = lintPolicy(config, catalog);
    expect(find(issues, 'agents.default.rules[0].allow')?.message).toBe('"dcos__search" matches no tool the upstreams expose');
    expect(find(issues, 'agents.default.rules[1].readOnly')?.message).toContain('none with trusted read-only annotations');
    expect(find(issues, 'agents.default.rules[2].allow')).toBeUndefined();
    expect(find(issues, 'agents.default.resources[0].allow')?.message).toContain('matches no resource');
    expect(find(issues, 'agents.default.prompts[0].allow')?.message).toContain('matches no prompt');
    expect(find(issues, 'agents.default.limits[0].match')?.level).toBe('warning');
  });

  it('warns for a literal deny matching nothing (likely a typo) but not for a glob deny', () => {
    const issues = lintPolicy(configOf({ default: { rules: [{ allow: 'docs__search' }, { deny: 'docs__delet_page' }, { deny: '*__delete_*' }] } }, JWT), catalog);
    expect(find(issues, 'agents.default.rules[1].deny')?.level).toBe('warning');
    expect(find(issues, 'agents.default.rules[2].deny')).toBeUndefined();
  });

  it('does not check without a catalog', () => {
    expect(lintPolicy(config).some((i) => i.message.includes('matches no'))).toBe(false);
  });
});

describe('lintPolicy: where keys the tool lacks (catalog with input schemas)', () => {
  const cases = [
    { when: 'a literal rule names a missing argument', rule: { allow: 'docs__read_page', where: { pth: { under: '/a' } } }, path: 'agents.default.rules[0].where.pth', error: /tool docs__read_page has no argument "pth"/ },
    { when: 'no tool a glob matches has the argument', rule: { ask: 'docs__*', where: { url: { host: 'a.com' } } }, path: 'agents.default.rules[0].where.url', error: /none of the \d+ tools matching "docs__\*" has an argument "url"/ },
    { when: 'a JSON pointer starts at a missing argument', rule: { ask: 'docs__update_page', where: { '/opts/path': { under: '/a' } } }, path: 'agents.default.rules[0].where["/opts/path"]', error: /no argument "opts"/ },
    { when: 'the argument exists', rule: { allow: 'docs__read_page', where: { path: { under: '/a' } } }, path: 'agents.default.rules[0].where.path', error: undefined },
    { when: 'some tools the glob matches have the argument', rule: { ask: 'docs__*', where: { path: { under: '/a' } } }, path: 'agents.default.rules[0].where.path', error: undefined },
  ];
  it.each(cases)('reports an error=$error when $when', ({ rule, path, error }) => {
    const issue = find(lintPolicy(configOf({ default: { rules: [rule] } }, JWT), catalog), path);
    if (error) {
      expect(issue?.level).toBe('error');
      expect(issue?.message).toMatch(error);
    } else {
      expect(issue).toBeUndefined();
    }
  });
});

describe('lintPolicy: undo templates', () => {
  const rule = (undo: unknown, effect = 'ask') => configOf({ default: { rules: [{ [effect]: 'docs__update_page', undo }] } }, JWT);

  it('accepts the SPEC example template', () => {
    const issues = lintPolicy(rule({ tool: 'docs__restore_page', args: { path: '{{args.path}}', revision: '{{result.structured.previousRevision}}' } }), catalog);
    expect(issues.filter((i) => i.path.includes('undo'))).toEqual([]);
  });

  const cases = [
    { when: 'a template references an argument the tool lacks', undo: { tool: 'docs__restore_page', args: { path: '{{args.pth}}' } }, path: 'agents.default.rules[0].undo.args', message: /argument "pth"/ },
    { when: 'a template root is neither args nor result', undo: { tool: 'docs__restore_page', args: { path: '{{ path }}' } }, path: 'agents.default.rules[0].undo.args', message: /neither args\.\* nor result/ },
    { when: 'the undo tool is not exposed', undo: { tool: 'docs__undelete', args: {} }, path: 'agents.default.rules[0].undo.tool', message: /not exposed/ },
    { when: 'the undo tool lacks an argument', undo: { tool: 'docs__restore_page', args: { page: '{{args.path}}' } }, path: 'agents.default.rules[0].undo.args.page', message: /has no argument "page"/ },
  ];
  it.each(cases)('reports an error when $when', ({ undo, path, message }) => {
    const issue = find(lintPolicy(rule(undo), catalog), path);
    expect(issue?.level).toBe('error');
    expect(issue?.message).toMatch(message);
  });

  it('checks template roots without a catalog', () => {
    expect(find(lintPolicy(rule({ tool: 'x', args: { a: ['{{resul.text}}'] } })), 'agents.default.rules[0].undo.args')?.level).toBe('error');
  });

  it('warns about undo on a deny rule', () => {
    expect(find(lintPolicy(rule({ tool: 'x', args: {} }, 'deny')), 'agents.default.rules[0].undo')?.level).toBe('warning');
  });
});

describe('lintPolicy: claims and taint settings', () => {
  it('reports ${claims.X} as an error when auth mode is none', () => {
    const rules = [{ ask: 'slack__reply', where: { channel: { equals: '${claims.channel}' } } }];
    expect(find(lintPolicy(configOf({ default: { rules } })), 'agents.default.rules[0].where.channel')?.level).toBe('error');
    expect(find(lintPolicy(configOf({ default: { rules } }, JWT)), 'agents.default.rules[0].where.channel')).toBeUndefined();
  });

  it('warns when taint.onTaintedSink is allow', () => {
    const issue = find(lintPolicy(configOf({}, { taint: { onTaintedSink: 'allow' } })), 'taint.onTaintedSink');
    expect(issue).toMatchObject({ level: 'warning', hint: 'set taint.onTaintedSink: ask (or deny)' });
  });

  it('lists errors before warnings', () => {
    const issues = lintPolicy(configOf({ default: { rules: [{ allow: 'docs__*' }, { allow: 'a{' }] } }, { taint: { onTaintedSink: 'allow' } }));
    const firstWarning = issues.findIndex((i) => i.level === 'warning');
    expect(issues.slice(firstWarning).every((i) => i.level === 'warning')).toBe(true);
    expect(firstWarning).toBeGreaterThan(0);
  });
});

describe('lintPolicy on the example policy', () => {
  it('finds no errors, and warns about the trifecta through web__fetch', () => {
    const issues = lintPolicy(fixture('docs-and-web.yaml'));
    expect(issues.filter((i) => i.level === 'error')).toEqual([]);
    expect(issues.some((i) => i.message.startsWith('lethal trifecta: agent default reads content from external server web'))).toBe(true);
  });
});

describe('lintPolicy: what a load runs (errorsOnly)', () => {
  const config = configOf({
    default: {
      rules: [
        { allow: 'docs__*' },
        { allow: 'docs__read_page' },
        { allow: 'docs__update_page', undo: { tool: 'docs__restore_page', args: { path: '{{args.path}}', revision: '{{previous.revision}}' } } },
      ],
    },
  });

  it('finds the same errors as the full lint, and none of its warnings', () => {
    const full = lintPolicy(config);
    const onLoad = lintPolicy(config, undefined, { errorsOnly: true });
    expect(full.some((i) => i.level === 'warning')).toBe(true);
    expect(onLoad).toEqual(full.filter((i) => i.level === 'error'));
    expect(onLoad.map((i) => i.path)).toEqual(['agents.default.rules[2].undo.args']);
  });
});
