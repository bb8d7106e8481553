import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ConfigSchema, type Config } from '../../src/config/schema.js';
import { describeCondition } from '../../src/policy/conditions.js';
import {
  compilePolicy,
  createUsageCounter,
  evaluate,
  formatDenial,
  isListed,
  isTemplateListed,
  NO_LOCKDOWN,
  setLockdown,
  type Kind,
  type PolicyInput,
  type ToolFacts,
} from '../../src/policy/index.js';

function fixture(name: string): Config {
  return ConfigSchema.parse(parse(readFileSync(new URL(`../fixtures/policies/${name}`, import.meta.url), 'utf8')));
}

function configOf(agents: Record<string, unknown>, extra: Record<string, unknown> = {}): Config {
  return ConfigSchema.parse({ version: 1, agents, ...extra });
}

const NOW = 1_700_000_000_000;
const TRUSTED_RO: ToolFacts = { readOnlyHint: true, annotationsTrusted: true };
const UNTRUSTED_RO: ToolFacts = { readOnlyHint: true, annotationsTrusted: false };
const WRITE: ToolFacts = { readOnlyHint: false, annotationsTrusted: true };

const specPolicy = compilePolicy(fixture('docs-and-web.yaml'), { version: 'v1' });

function call(name: string, more: Partial<PolicyInput> = {}): PolicyInput {
  return { agent: 'default', kind: 'tool', name, tool: WRITE, ...more };
}

describe('precedence (deny > ask > allow; first rule of the winning effect decides)', () => {
  const cases: Array<{ when: string; rules: unknown[]; effect: string; index?: number }> = [
    { when: 'only an allow rule matches', rules: [{ allow: 'x__t' }], effect: 'allow', index: 0 },
    { when: 'only an ask rule matches', rules: [{ ask: 'x__t' }], effect: 'ask', index: 0 },
    { when: 'only a deny rule matches', rules: [{ deny: 'x__t' }], effect: 'deny', index: 0 },
    { when: 'allow then ask match', rules: [{ allow: 'x__t' }, { ask: 'x__*' }], effect: 'ask', index: 1 },
    { when: 'ask then allow match', rules: [{ ask: 'x__*' }, { allow: 'x__t' }], effect: 'ask', index: 0 },
    { when: 'allow then deny match', rules: [{ allow: 'x__t' }, { deny: 'x__*' }], effect: 'deny', index: 1 },
    { when: 'deny then allow match', rules: [{ deny: 'x__*' }, { allow: 'x__t' }], effect: 'deny', index: 0 },
    { when: 'ask then deny match', rules: [{ ask: 'x__t' }, { deny: '*__t' }], effect: 'deny', index: 1 },
    { when: 'allow, ask and deny all match', rules: [{ allow: 'x__t' }, { ask: 'x__t' }, { deny: 'x__t' }], effect: 'deny', index: 2 },
    { when: 'two allow rules match', rules: [{ allow: 'x__*' }, { allow: 'x__t' }], effect: 'allow', index: 0 },
    { when: 'two deny rules match, the literal one later', rules: [{ deny: '*' }, { deny: 'x__t' }], effect: 'deny', index: 0 },
    { when: 'two ask rules match, the glob one later', rules: [{ ask: 'x__t' }, { ask: '{x,y}__t' }], effect: 'ask', index: 0 },
    { when: 'a deny rule matches another name only', rules: [{ allow: 'x__t' }, { deny: 'x__u' }], effect: 'allow', index: 0 },
    { when: 'an allow rule with failing conditions and an ask rule match', rules: [{ allow: 'x__t', where: { p: { equals: 'no' } } }, { ask: 'x__t' }], effect: 'ask', index: 1 },
    { when: 'a deny rule with failing conditions and an allow rule match', rules: [{ deny: 'x__t', where: { p: { equals: 'no' } } }, { allow: 'x__t' }], effect: 'allow', index: 1 },
    { when: 'a deny rule with holding conditions and an allow rule match', rules: [{ deny: 'x__t', where: { p: { equals: 'yes' } } }, { allow: 'x__t' }], effect: 'deny', index: 0 },
    { when: 'no rule matches the name', rules: [{ allow: 'y__*' }], effect: 'deny' },
    { when: 'the only allow rule has failing conditions', rules: [{ allow: 'x__t', where: { p: { equals: 'no' } } }], effect: 'deny' },
  ];
  it.each(cases)('decides $effect when $when', ({ rules, effect, index }) => {
    const policy = compilePolicy(configOf({ default: { rules } }), { version: 't' });
    const d = evaluate(policy, call('x__t', { args: { p: 'yes' } }), { now: NOW });
    expect(d.effect).toBe(effect);
    expect(d.rule?.index).toBe(index);
    if (index !== undefined) expect(d.rule?.path).toBe(`agents.default.rules[${index}]`);
  });
});

describe('default deny and unknown agents', () => {
  it('denies with "no rule allows" and no rule ref when nothing matches', () => {
    const d = evaluate(specPolicy, call('docs__frobnicate'), { now: NOW });
    // docs__* read-only rule names it, so the reason says what that rule needs.
    const reason = 'no rule allows docs__frobnicate for agent default: agents.default.rules[2] allows it only where the tool is trusted read-only';
    expect(d).toEqual({ effect: 'deny', reasons: [reason] });
    expect(formatDenial(d)).toBe(`Denied by policy: ${reason}`);
  });

  it('denies every kind for an agent that has no profile', () => {
    for (const kind of ['tool', 'resource', 'prompt'] as const) {
      const d = evaluate(specPolicy, { agent: 'mallory', kind, name: kind === 'resource' ? 'docs://marketing/a' : 'docs__search' }, { now: NOW });
      expect(d.effect).toBe('deny');
      expect(d.rule).toBeUndefined();
    }
  });

  it('does not treat an inherited object property as an agent profile', () => {
    const d = evaluate(specPolicy, call('docs__search', { agent: 'constructor' }), { now: NOW });
    expect(d.effect).toBe('deny');
  });
});

describe('reasons and the deny message', () => {
  it('uses the rule reason and id, and formats the client message', () => {
    const d = evaluate(specPolicy, call('docs__delete_page'), { now: NOW });
    expect(d.effect).toBe('deny');
    expect(d.rule).toEqual({ path: 'agents.default.rules[5]', index: 5, id: 'no-deletes' });
    expect(formatDenial(d)).toBe('Denied by policy (rule agents.default.rules[5]): Deleting is never done by agents.');
  });

  it('generates a reason naming the rule, its pattern and its conditions when the rule has none', () => {
    const d = evaluate(specPolicy, call('docs__read_page', { args: { path: '/marketing/plan.md' } }), { now: NOW });
    expect(d.effect).toBe('allow');
    expect(d.reasons).toEqual([`allowed by agents.default.rules[1] (docs__read_page, ${describeCondition('path', { under: '/marketing' })})`]);
  });

  it('returns the undo template of the deciding rule, unrendered', () => {
    const d = evaluate(specPolicy, call('docs__update_page', { args: { path: '/marketing/drafts/a.md' } }), { now: NOW });
    expect(d.effect).toBe('ask');
    expect(d.undo).toEqual({ tool: 'docs__restore_page', args: { path: '{{args.path}}', revision: '{{result.structured.previousRevision}}' } });
    expect(d.reasons[0]).toMatch(/^approval required by agents\.default\.rules\[3\] \(docs__update_page, /);
  });

  it('never mentions another agent\'s rules in a denial', () => {
    const d = evaluate(specPolicy, call('slack__reply_to_thread'), { now: NOW });
    expect(formatDenial(d)).not.toMatch(/release-bot|channel|claims/);
  });

  it('lets a matching deny rule decide even when another rule\'s condition throws', () => {
    const policy = compilePolicy(
      configOf({ default: { rules: [{ deny: 'x__t', where: { path: { under: '/a' } } }, { deny: 'x__t', reason: 'never' }, { allow: 'x__t' }] } }),
      { version: 't' },
    );
    const args = Object.defineProperty({}, 'path', { enumerable: true, get: () => { throw new Error('boom'); } });
    expect(evaluate(policy, call('x__t', { args }), { now: NOW })).toEqual({ effect: 'deny', rule: { path: 'agents.default.rules[1]', index: 1 }, reasons: ['never'] });
  });

  it('denies, naming the condition, when evaluating a condition throws (fail closed)', () => {
    const args = Object.defineProperty({}, 'path', { enumerable: true, get: () => { throw new Error('boom'); } });
    const d = evaluate(specPolicy, call('docs__read_page', { args }), { now: NOW });
    expect(d.effect).toBe('deny');
    expect(d.rule?.path).toBe('agents.default.rules[1]');
    expect(d.reasons[0]).toBe('could not evaluate agents.default.rules[1].where.path; denied to fail closed');
  });
});

describe('conditions that cannot be judged for the input (fail closed)', () => {
  const policy = compilePolicy(
    configOf({
      default: {
        rules: [
          { allow: 'docs__*' },
          { deny: 'docs__read_page', where: { path: { under: '/secret' } } },
          { ask: 'docs__update_page', where: { path: { under: '/published' } } },
          { ask: 'docs__publish', where: { path: { under: '/published' } } },
          { allow: 'web__fetch', where: { path: { under: '/public' } } },
        ],
      },
    }),
    { version: 't' },
  );
  const cases = [
    { when: 'a deny rule\'s path does not canonicalise', name: 'docs__read_page', path: '/secret/%zz', effect: 'deny', index: 1 },
    { when: 'a deny rule\'s path escapes the root', name: 'docs__read_page', path: '/../secret/x', effect: 'deny', index: 1 },
    { when: 'a deny rule\'s path is clearly elsewhere', name: 'docs__read_page', path: '/public/x', effect: 'allow', index: 0 },
    { when: 'an ask rule that tightens an allow cannot judge the path', name: 'docs__update_page', path: '/published/%zz', effect: 'ask', index: 2 },
    { when: 'an ask rule that tightens an allow sees a path elsewhere', name: 'docs__update_page', path: '/drafts/a', effect: 'allow', index: 0 },
    { when: 'an allow rule cannot judge the path', name: 'web__fetch', path: '/public/%zz', effect: 'deny', index: undefined },
  ];
  it.each(cases)('decides $effect when $when', ({ name, path, effect, index }) => {
    const d = evaluate(policy, call(name, { args: { path } }), { now: NOW });
    expect(d.effect).toBe(effect);
    expect(d.rule?.index).toBe(index);
  });

  it('explains in the reasons that a condition could not be judged', () => {
    const d = evaluate(policy, call('docs__read_page', { args: { path: '/secret/%zz' } }), { now: NOW });
    expect(d.reasons[1]).toBe('agents.default.rules[1].where.path could not be judged for this input; treated as matching (fail closed)');
  });

  it('never lets an ask rule that cannot be judged grant a call nothing else allows', () => {
    const p = compilePolicy(configOf({ default: { rules: [{ ask: 'x__t', where: { path: { under: '/a' } } }] } }), { version: 't' });
    expect(evaluate(p, call('x__t', { args: { path: '/a/%zz' } }), { now: NOW })).toEqual({ effect: 'deny', reasons: ['no rule allows x__t for agent default: agents.default.rules[0] asks for it only where path under /a'] });
  });
});

describe('readOnly rules', () => {
  const cases: Array<{ when: string; tool: ToolFacts | undefined; effect: string }> = [
    { when: 'annotations say readOnly and the server is trusted', tool: TRUSTED_RO, effect: 'allow' },
    { when: 'annotations say readOnly but the server is not trusted', tool: UNTRUSTED_RO, effect: 'deny' },
    { when: 'trusted annotations say not readOnly', tool: WRITE, effect: 'deny' },
    { when: 'trusted annotations carry no readOnlyHint', tool: { annotationsTrusted: true }, effect: 'deny' },
    { when: 'no tool facts are given', tool: undefined, effect: 'deny' },
  ];
  it.each(cases)('decides $effect for docs__get_page when $when', ({ tool, effect }) => {
    const input: PolicyInput = { agent: 'default', kind: 'tool', name: 'docs__get_page', ...(tool ? { tool } : {}) };
    expect(evaluate(specPolicy, input, { now: NOW }).effect).toBe(effect);
  });
});

describe('references to claims and agent values', () => {
  const reply = (claims: Record<string, unknown> | undefined, args: Record<string, unknown>): PolicyInput => ({
    agent: 'release-bot', kind: 'tool', name: 'slack__reply_to_thread', tool: WRITE, args, ...(claims ? { claims } : {}),
  });
  const cases: Array<{ when: string; input: PolicyInput; effect: string }> = [
    { when: 'arguments equal the caller\'s claims', input: reply({ channel: 'C1', thread_ts: '17.5' }, { channel_id: 'C1', thread_ts: '17.5' }), effect: 'ask' },
    { when: 'the channel differs from the claim', input: reply({ channel: 'C1', thread_ts: '17.5' }, { channel_id: 'C2', thread_ts: '17.5' }), effect: 'deny' },
    { when: 'a referenced claim is missing', input: reply({ channel: 'C1' }, { channel_id: 'C1', thread_ts: '17.5' }), effect: 'deny' },
    { when: 'there are no claims at all', input: reply(undefined, { channel_id: 'C1', thread_ts: '17.5' }), effect: 'deny' },
    { when: 'the argument is missing', input: reply({ channel: 'C1', thread_ts: '17.5' }, { channel_id: 'C1' }), effect: 'deny' },
    { when: 'an argument equals ${agent.owner}', input: { agent: 'release-bot', kind: 'tool', name: 'slack__post_message', tool: WRITE, args: { author: 'bob@example.com' } }, effect: 'allow' },
    { when: 'an argument differs from ${agent.owner}', input: { agent: 'release-bot', kind: 'tool', name: 'slack__post_message', tool: WRITE, args: { author: 'alice@example.com' } }, effect: 'deny' },
  ];
  it.each(cases)('decides $effect when $when', ({ input, effect }) => {
    expect(evaluate(specPolicy, input, { now: NOW }).effect).toBe(effect);
  });
});

describe('rate limits', () => {
  const policy = compilePolicy(
    configOf({ default: { rules: [{ allow: 'docs__update_*' }, { allow: 'docs__search' }, { ask: 'docs__publish' }], limits: [{ match: 'docs__{update,publish}*', max: 2, per: '1h' }] } }),
    { version: 't' },
  );

  it('returns the limit keys to record, and allows while under the limit', () => {
    const usage = createUsageCounter();
    const d = evaluate(policy, call('docs__update_page'), { now: NOW, usage });
    expect(d.effect).toBe('allow');
    expect(d.limitKeys).toHaveLength(1);
    usage.record(d.limitKeys!, NOW);
    expect(evaluate(policy, call('docs__update_page'), { now: NOW + 1_000, usage }).effect).toBe('allow');
  });

  it('returns limit keys for ask decisions too, and none for calls no limit matches', () => {
    expect(evaluate(policy, call('docs__publish'), { now: NOW }).limitKeys).toHaveLength(1);
    expect(evaluate(policy, call('docs__search'), { now: NOW }).limitKeys).toBeUndefined();
  });

  it('denies at the limit with the limit, its window and the retry time in the message', () => {
    const usage = createUsageCounter();
    const key = evaluate(policy, call('docs__update_page'), { now: NOW }).limitKeys!;
    usage.record(key, NOW);
    usage.record(key, NOW + 10_000);
    const d = evaluate(policy, call('docs__update_title'), { now: NOW + 10_000, usage });
    expect(d.effect).toBe('deny');
    expect(d.limitKeys).toBeUndefined();
    expect(d.reasons).toEqual(['rate limit agents.default.limits[0]: at most 2 calls to docs__{update,publish}* per 1h; retry in 59m 50s']);
    expect(d.limit).toEqual({ path: 'agents.default.limits[0]', index: 0, retryAfterMs: 3_590_000 });
    expect(formatDenial(d)).toBe(`Denied by policy: ${d.reasons[0]}`);
  });

  it('allows again once the oldest call slides out of the window', () => {
    const usage = createUsageCounter();
    const key = evaluate(policy, call('docs__update_page'), { now: NOW }).limitKeys!;
    usage.record(key, NOW);
    usage.record(key, NOW + 10_000);
    expect(evaluate(policy, call('docs__update_page'), { now: NOW + 3_600_000, usage }).effect).toBe('allow');
  });

  it('does not count against the limit when no usage view is given', () => {
    expect(evaluate(policy, call('docs__update_page'), { now: NOW }).effect).toBe('allow');
  });

  it('keeps a denial by rule a denial without consulting limits', () => {
    const usage = createUsageCounter();
    const d = evaluate(policy, call('docs__delete'), { now: NOW, usage });
    expect(d).toEqual({ effect: 'deny', reasons: ['no rule allows docs__delete for agent default'] });
  });
});

describe('lockdown', () => {
  const agentReadOnly = setLockdown(NO_LOCKDOWN, 'default', 'read-only');
  const agentDenyAll = setLockdown(NO_LOCKDOWN, 'default', 'deny-all');
  const globalDenyAll = setLockdown(NO_LOCKDOWN, undefined, 'deny-all');
  const globalReadOnly = setLockdown(NO_LOCKDOWN, undefined, 'read-only');
  const writeCall = call('docs__search');
  const readCall = call('docs__get_page', { tool: TRUSTED_RO });
  const resource: PolicyInput = { agent: 'default', kind: 'resource', name: 'docs://marketing/a.md' };
  const prompt: PolicyInput = { agent: 'default', kind: 'prompt', name: 'docs__summarize' };
  const otherAgent: PolicyInput = { agent: 'release-bot', kind: 'tool', name: 'slack__post_message', tool: WRITE, args: { author: 'bob@example.com' } };

  const cases = [
    { when: 'agent deny-all, trusted read-only tool', lockdown: agentDenyAll, input: readCall, effect: 'deny' },
    { when: 'agent deny-all, resource', lockdown: agentDenyAll, input: resource, effect: 'deny' },
    { when: 'agent deny-all, prompt', lockdown: agentDenyAll, input: prompt, effect: 'deny' },
    { when: 'agent deny-all, another agent', lockdown: agentDenyAll, input: otherAgent, effect: 'allow' },
    { when: 'agent read-only, allowed tool that is not read-only', lockdown: agentReadOnly, input: writeCall, effect: 'deny' },
    { when: 'agent read-only, trusted read-only tool', lockdown: agentReadOnly, input: readCall, effect: 'allow' },
    { when: 'agent read-only, untrusted read-only tool', lockdown: agentReadOnly, input: call('docs__search', { tool: UNTRUSTED_RO }), effect: 'deny' },
    { when: 'agent read-only, resource read', lockdown: agentReadOnly, input: resource, effect: 'allow' },
    { when: 'agent read-only, prompt', lockdown: agentReadOnly, input: prompt, effect: 'allow' },
    { when: 'global deny-all, another agent', lockdown: globalDenyAll, input: otherAgent, effect: 'deny' },
    { when: 'global read-only, another agent\'s write tool', lockdown: globalReadOnly, input: otherAgent, effect: 'deny' },
    { when: 'global read-only plus agent deny-all, trusted read-only tool', lockdown: setLockdown(globalReadOnly, 'default', 'deny-all'), input: readCall, effect: 'deny' },
    { when: 'agent lockdown lifted', lockdown: setLockdown(agentDenyAll, 'default', 'off'), input: writeCall, effect: 'allow' },
    { when: 'global lockdown lifted', lockdown: setLockdown(globalDenyAll, undefined, 'off'), input: writeCall, effect: 'allow' },
  ];
  it.each(cases)('decides $effect when $when', ({ lockdown, input, effect }) => {
    const d = evaluate(specPolicy, input, { now: NOW, lockdown });
    expect(d.effect).toBe(effect);
    if (effect === 'deny') expect(d.reasons[0]).toMatch(/^lockdown: /);
  });

  it('names the scope and mode of the lockdown in the reason', () => {
    expect(evaluate(specPolicy, writeCall, { now: NOW, lockdown: agentDenyAll }).reasons[0]).toContain('agent default is locked down (deny-all)');
    expect(evaluate(specPolicy, writeCall, { now: NOW, lockdown: globalReadOnly }).reasons[0]).toContain('all agents are locked down (read-only)');
  });

  it('returns new state objects and leaves the old ones unchanged', () => {
    const a = setLockdown(NO_LOCKDOWN, 'default', 'deny-all');
    const b = setLockdown(a, 'release-bot', 'read-only');
    expect(a).toEqual({ agents: { default: 'deny-all' } });
    expect(b).toEqual({ agents: { default: 'deny-all', 'release-bot': 'read-only' } });
    expect(setLockdown(b, undefined, 'read-only')).toEqual({ global: 'read-only', agents: b.agents });
    expect(NO_LOCKDOWN).toEqual({ agents: {} });
  });
});

describe('listing versus calling', () => {
  const listed = (name: string, tool: ToolFacts | undefined = WRITE, kind: Kind = 'tool', agent = 'default') =>
    isListed(specPolicy, { agent, kind, name, ...(tool ? { tool } : {}) }, {});

  it('hides a tool an unconditional deny matches, and still denies it when called by name', () => {
    expect(listed('docs__delete_page')).toBe(false);
    expect(evaluate(specPolicy, call('docs__delete_page'), { now: NOW }).effect).toBe('deny');
  });

  it('hides a tool no rule allows, and still denies it when called by name', () => {
    expect(listed('docs__admin')).toBe(false);
    expect(evaluate(specPolicy, call('docs__admin'), { now: NOW }).effect).toBe('deny');
  });

  it('lists a tool whose allow rule has conditions, and denies calls outside them', () => {
    expect(listed('docs__read_page')).toBe(true);
    expect(evaluate(specPolicy, call('docs__read_page', { args: { path: '/hr/salaries.md' } }), { now: NOW }).effect).toBe('deny');
  });

  it('lists a tool whose only deny rule has conditions', () => {
    const policy = compilePolicy(configOf({ default: { rules: [{ allow: 'x__t' }, { deny: 'x__t', where: { p: { equals: 'bad' } } }] } }), { version: 't' });
    expect(isListed(policy, { agent: 'default', kind: 'tool', name: 'x__t' }, {})).toBe(true);
  });

  const readOnlyCases = [
    { when: 'trusted read-only annotations', tool: TRUSTED_RO, expected: true },
    { when: 'untrusted read-only annotations', tool: UNTRUSTED_RO, expected: false },
    { when: 'no tool facts', tool: undefined, expected: false },
  ];
  it.each(readOnlyCases)('lists a tool allowed only by a readOnly rule iff it has $when ($expected)', ({ tool, expected }) => {
    expect(listed('docs__get_page', tool)).toBe(expected);
  });

  it('hides everything under deny-all and non-read-only tools under read-only', () => {
    expect(isListed(specPolicy, { agent: 'default', kind: 'tool', name: 'docs__search', tool: WRITE }, { lockdown: setLockdown(NO_LOCKDOWN, 'default', 'read-only') })).toBe(false);
    expect(isListed(specPolicy, { agent: 'default', kind: 'tool', name: 'docs__get_page', tool: TRUSTED_RO }, { lockdown: setLockdown(NO_LOCKDOWN, 'default', 'read-only') })).toBe(true);
    expect(isListed(specPolicy, { agent: 'default', kind: 'resource', name: 'docs://marketing/a' }, { lockdown: setLockdown(NO_LOCKDOWN, undefined, 'deny-all') })).toBe(false);
  });

  it('lists nothing for an unknown agent', () => {
    expect(listed('docs__search', WRITE, 'tool', 'mallory')).toBe(false);
  });
});

describe('resources and prompts', () => {
  const cases: Array<{ kind: Kind; name: string; effect: string; listed: boolean }> = [
    { kind: 'resource', name: 'docs://marketing/plan.md', effect: 'allow', listed: true },
    { kind: 'resource', name: 'docs://marketing/2024/q1/plan.md', effect: 'allow', listed: true },
    { kind: 'resource', name: 'docs://marketing/secret/salaries.md', effect: 'deny', listed: false },
    { kind: 'resource', name: 'docs://hr/salaries.md', effect: 'deny', listed: false },
    { kind: 'prompt', name: 'docs__summarize', effect: 'allow', listed: true },
    { kind: 'prompt', name: 'web__summarize', effect: 'deny', listed: false },
    { kind: 'tool', name: 'docs://marketing/plan.md', effect: 'deny', listed: false },
  ];
  it.each(cases)('decides $effect for $kind $name (listed: $listed)', ({ kind, name, effect, listed }) => {
    expect(evaluate(specPolicy, { agent: 'default', kind, name }, { now: NOW }).effect).toBe(effect);
    expect(isListed(specPolicy, { agent: 'default', kind, name }, {})).toBe(listed);
  });

  it('names the resource rule that decided', () => {
    const d = evaluate(specPolicy, { agent: 'default', kind: 'resource', name: 'docs://marketing/secret/x' }, { now: NOW });
    expect(d.rule?.path).toBe('agents.default.resources[1]');
  });

  it('lists a resource template when an allow rule can match its expansions', () => {
    expect(isTemplateListed(specPolicy, 'default', 'docs://marketing/{slug}', {})).toBe(true);
    expect(isTemplateListed(specPolicy, 'default', 'docs://{area}/{slug}', {})).toBe(true);
    expect(isTemplateListed(specPolicy, 'default', 'docs://hr/{slug}', {})).toBe(false);
    expect(isTemplateListed(specPolicy, 'default', 'docs://marketing/{slug}', { lockdown: setLockdown(NO_LOCKDOWN, 'default', 'deny-all') })).toBe(false);
  });
});

describe('indexing', () => {
  it('keeps deciding correctly, with bounded memory, when a client sends thousands of distinct names', () => {
    const policy = compilePolicy(configOf({ default: { rules: [{ allow: 'x__*' }, { deny: '*__bad*' }] } }), { version: 't' });
    for (let i = 0; i < 5_000; i++) {
      expect(evaluate(policy, call(`x__t${i}`), { now: NOW }).effect).toBe('allow');
      expect(evaluate(policy, call(`x__bad${i}`), { now: NOW }).effect).toBe('deny');
    }
    const tools = policy.agents.get('default')!.tools;
    expect(tools.answers.size).toBeLessThanOrEqual(1_024);
    expect(tools.memo.size).toBeLessThanOrEqual(1_024);
  });

  it('never lets two rules share conditions they do not both have, whatever their argument names', () => {
    const tricky = 'a\u0000{"equals":"x"}\u0001b';
    const policy = compilePolicy(
      configOf({ default: { rules: [{ allow: 't', where: { a: { equals: 'x' }, b: { equals: 'y' } } }, { deny: 't', where: { [tricky]: { equals: 'y' } } }, { allow: 't' }] } }),
      { version: 't' },
    );
    expect(evaluate(policy, call('t', { args: { [tricky]: 'y' } }), { now: NOW })).toMatchObject({ effect: 'deny', rule: { index: 1 } });
    expect(evaluate(policy, call('t', { args: { a: 'x', b: 'y' } }), { now: NOW })).toMatchObject({ effect: 'allow', rule: { index: 0 } });
  });

  it('reuses what is fixed per name, never what depends on the arguments, and shares only frozen decisions', () => {
    const policy = compilePolicy(
      configOf({ default: { rules: [{ allow: 'docs__read', where: { path: { under: '/a' } } }, { ask: 'docs__read', where: { path: { under: '/b' } } }], limits: [{ match: 'docs__*', max: 2, per: '1m' }] } }),
      { version: 't' },
    );
    const usage = createUsageCounter();
    const at = (path: string, now = NOW) => evaluate(policy, call('docs__read', { args: { path } }), { now, usage });
    const allowed = at('/a/x');
    expect(allowed).toMatchObject({ effect: 'allow', rule: { index: 0 }, limitKeys: [expect.any(String)] });
    expect(Object.isFrozen(allowed) && Object.isFrozen(allowed.reasons)).toBe(true);
    expect(at('/b/x')).toMatchObject({ effect: 'ask', rule: { index: 1 } });
    expect(at('/c/x').reasons).toEqual([
      'no rule allows docs__read for agent default: agents.default.rules[1] asks for it only where path under /b; agents.default.rules[0] allows it only where path under /a',
    ]);
    expect(at('/a/y')).toBe(allowed);
    usage.record(allowed.limitKeys!, NOW);
    usage.record(allowed.limitKeys!, NOW);
    expect(at('/a/x')).toMatchObject({ effect: 'deny', limit: { index: 0 } });
    expect(at('/a/x', NOW + 61_000)).toBe(allowed);
  });

  it('decides the same with literal, prefixed and leading-wildcard patterns mixed over many rules', () => {
    const rules: unknown[] = [];
    for (let i = 0; i < 300; i++) rules.push({ allow: `s${i % 7}__tool${i}` }, { ask: `s${i % 7}__w${i}_*` });
    rules.push({ deny: '*__tool13' }, { allow: '**' });
    const policy = compilePolicy(configOf({ default: { rules } }), { version: 't' });
    expect(evaluate(policy, call('s6__tool13'), { now: NOW }).rule?.path).toBe('agents.default.rules[600]');
    expect(evaluate(policy, call('s1__tool1'), { now: NOW }).rule?.index).toBe(2);
    expect(evaluate(policy, call('s2__w2_x'), { now: NOW }).rule?.index).toBe(5);
    expect(evaluate(policy, call('s2__w2_x'), { now: NOW }).effect).toBe('ask');
    expect(evaluate(policy, call('zzz'), { now: NOW }).rule?.index).toBe(601);
  });
});
