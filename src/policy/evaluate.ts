/**
 * The decision (SPEC §4): lockdown, then every matching rule, then deny > ask > allow, then rate
 * limits. Pure: no parsing, no regex compilation, no clock; it never throws.
 */
import type { Effect } from '../config/schema.js';
import type { CompiledAgent, CompiledLimit, CompiledPolicy, CompiledRule, Kind, RuleRef } from './compile.js';
import { findCandidates, literalPrefix, remember, rulesMatching, ruleSetOf } from './compile.js';
import { readArgument, type ConditionVerdictFn, type RefContext } from './conditions.js';
import { createUsageCounter, formatDuration, type UsageCounter, type UsageView } from './limits.js';
import { lockdownFor, lockdownReason, NO_LOCKDOWN, type ActiveLockdown, type LockdownState } from './lockdown.js';

export interface ToolFacts {
  readonly readOnlyHint?: boolean;
  readonly destructiveHint?: boolean;
  /** The tool's server has `annotations: trusted`; otherwise its hints never count. */
  readonly annotationsTrusted: boolean;
}

export interface PolicyInput {
  readonly agent: string;
  readonly kind: Kind;
  /** Exposed tool or prompt name, or resource URI. */
  readonly name: string;
  readonly args?: Readonly<Record<string, unknown>>;
  readonly tool?: ToolFacts;
  /** JWT claims of the caller, for `${claims.NAME}`. */
  readonly claims?: Readonly<Record<string, unknown>>;
}

export interface Decision {
  readonly effect: Effect;
  /** The deciding rule; absent for default deny, lockdown and rate-limit denials. */
  readonly rule?: RuleRef;
  readonly reasons: readonly string[];
  /** Counter keys to record (`UsageCounter.record`) if, and only if, the call executes. */
  readonly limitKeys?: readonly string[];
  /** The deciding rule's undo template, unrendered (`{{args.x}}`, `{{result.…}}`); frozen. */
  readonly undo?: { readonly tool: string; readonly args: Record<string, unknown> };
  /** Set when a rate limit denied the call. */
  readonly limit?: { readonly path: string; readonly index: number; readonly retryAfterMs: number };
  /** Set when a lockdown denied the call. */
  readonly lockdown?: ActiveLockdown;
}

/** The mutable runtime inputs the pipeline keeps beside the compiled policy. */
export interface RuntimeState {
  /** Replace with `setLockdown(...)`; persisting it is the caller's job. */
  lockdown: LockdownState;
  readonly usage: UsageCounter;
}

export function createRuntimeState(lockdown: LockdownState = NO_LOCKDOWN): RuntimeState {
  return { lockdown, usage: createUsageCounter() };
}

export interface EvaluateContext {
  /** Milliseconds since the epoch, for rate limits. */
  readonly now: number;
  readonly lockdown?: LockdownState;
  /** Without it, limits are not checked (the keys are still returned). */
  readonly usage?: UsageView;
}

function isTrustedReadOnly(input: PolicyInput): boolean {
  return input.kind === 'tool' && input.tool?.readOnlyHint === true && input.tool.annotationsTrusted === true;
}

/** What judging one rule against the input found. */
type Verdict = typeof NO_MATCH | typeof MATCH | typeof UNDECIDED | typeof ERROR;
const NO_MATCH = 0;
const MATCH = 1;
/** A condition could not judge the input (a path that does not canonicalise, a missing claim). */
const UNDECIDED = 2;
/** A condition threw. */
const ERROR = 3;

/** Per-evaluation state: the input, references for conditions, and the condition that was undecided or threw. */
interface Judge {
  readonly input: PolicyInput;
  readonly agent: CompiledAgent;
  readonly trustedReadOnly: boolean;
  readonly answers: Answers;
  refs: RefContext | undefined;
  /** Where the next rule's conditions start in `answers.ops`. */
  at: number;
  /** Path of the condition behind the last Undecided or Error verdict. */
  path: string;
  /** Message of the last Error verdict. */
  message: string;
}

/** Judges rule `index` of the answers, whose conditions start at `j.at` in `ops`, and moves `j.at` past them. */
function judge(j: Judge, index: number): Verdict {
  const ops = j.answers.ops;
  const at = j.at;
  const header = ops[at] as number;
  const n = header < 0 ? -1 - header : header;
  j.at = at + 1 + 2 * n;
  if (header < 0 && !j.trustedReadOnly) return NO_MATCH;
  let result: Verdict = MATCH;
  if (n === 0) return result;
  j.refs ??= { claims: j.input.claims, agent: j.agent.refs };
  for (let k = 0; k < n; k++) {
    let verdict: boolean | undefined;
    try {
      // Arguments come from outside: even reading one may throw (a getter), which fails closed.
      const value = readArgument(j.input.args, ops[at + 1 + 2 * k] as string);
      // A missing argument never satisfies a condition (the checks judge present values only).
      verdict = value === undefined ? false : (ops[at + 2 + 2 * k] as ConditionVerdictFn)(value, j.refs);
    } catch (err) {
      j.path = j.answers.rules[index]!.where[k]!.path;
      j.message = err instanceof Error ? err.message : String(err);
      return ERROR;
    }
    if (verdict === false) return NO_MATCH;
    if (verdict === undefined && result === MATCH) {
      result = UNDECIDED;
      j.path = j.answers.rules[index]!.where[k]!.path;
    }
  }
  return result;
}

/** A rule's decision when it matched outright: the same for every call, so built once (frozen). */
function ruleDecision(rule: CompiledRule, limitKeys: readonly string[] | undefined): Decision {
  return Object.freeze({
    effect: rule.effect,
    rule: rule.ref,
    reasons: Object.freeze([rule.reasonText]),
    ...(rule.undo ? { undo: rule.undo as Decision['undo'] } : {}),
    ...(limitKeys ? { limitKeys } : {}),
  });
}

/** A rule's decision when one of its conditions could not be judged (fail closed: it counts as matching). */
function undecidedDecision(rule: CompiledRule, undecidedPath: string, limitKeys: readonly string[] | undefined): Decision {
  const decided = ruleDecision(rule, limitKeys);
  return { ...decided, reasons: [...decided.reasons, `${undecidedPath} could not be judged for this input; treated as matching (fail closed)`] };
}

function defaultDeny(input: PolicyInput, near: readonly CompiledRule[] = []): Decision {
  // Rules that name the call but whose conditions did not hold: say what they need.
  const needs = near.slice(0, 3).map((r) => {
    const only = [...(r.readOnly ? ['the tool is trusted read-only'] : []), ...r.where.map((c) => c.description)].join(' and ');
    return `${r.path} ${r.effect === 'ask' ? 'asks for' : 'allows'} it only where ${only}`;
  });
  const why = needs.length > 0 ? `: ${needs.join('; ')}` : '';
  return Object.freeze({ effect: 'deny', reasons: Object.freeze([`no rule allows ${input.name} for agent ${input.agent}${why}`]) });
}

/**
 * One array for the conditions of every rule, in judging order, so that a call reads adjacent
 * memory rather than an object per rule: per rule a header, the number of its conditions (or
 * -1 minus that number for a `readOnly` rule), then the key and the check of each condition.
 */
type Op = number | string | ConditionVerdictFn;

/**
 * What is fixed for one (agent, kind, name): the candidate rules in the order they are judged,
 * the rate limits that apply, the decisions and the default-deny answer. Memoised in the rule
 * set and built on first use, so a repeated call walks a few adjacent objects and allocates
 * nothing for its decision.
 */
export interface Answers {
  /** Deny rules, then ask rules, then allow rules, each by index: the steps of judging. */
  readonly rules: readonly CompiledRule[];
  /** Each rule's decision when it matches outright, built on first use. */
  readonly decisions: Array<Decision | undefined>;
  readonly ops: readonly Op[];
  /** Where the ask and the allow rules start in `rules`. */
  readonly askFrom: number;
  readonly allowFrom: number;
  /** Rate limits whose pattern matches the name; resources and prompts are not counted. */
  readonly limits: readonly CompiledLimit[];
  /** Their counter keys, which ask and allow decisions carry; undefined without limits. */
  readonly limitKeys: readonly string[] | undefined;
  /** Rules that would allow or ask but for their conditions, for the default-deny reason. */
  readonly near: readonly CompiledRule[];
  defaultDeny: Decision | undefined;
}

function answersFor(agent: CompiledAgent, kind: Kind, name: string): Answers {
  const set = ruleSetOf(agent, kind);
  const known = set.answers.get(name);
  if (known) return known;
  const { deny, ask, allow } = findCandidates(set, name);
  const rules = [...deny, ...ask, ...allow];
  const ops: Op[] = [];
  for (const rule of rules) {
    ops.push(rule.readOnly ? -1 - rule.where.length : rule.where.length);
    for (const cond of rule.where) ops.push(cond.key, cond.check);
  }
  const limits = kind === 'tool' ? agent.limits.filter((l) => l.match(name)) : [];
  return remember(set, 'answers', name, {
    rules,
    decisions: new Array<Decision | undefined>(rules.length).fill(undefined),
    ops,
    askFrom: deny.length,
    allowFrom: deny.length + ask.length,
    limits,
    limitKeys: limits.length > 0 ? Object.freeze(limits.map((l) => l.key)) : undefined,
    near: [...ask, ...allow],
    defaultDeny: undefined,
  });
}

/** Rate limits apply to tool calls; `decision` already carries their keys. */
function checkLimits(answers: Answers, ctx: EvaluateContext, decision: Decision): Decision {
  const usage = ctx.usage;
  if (!usage) return decision;
  for (const limit of answers.limits) {
    if (usage.count(limit.key, ctx.now, limit.windowMs) < limit.max) continue;
    const retryAfterMs = usage.retryAfter(limit.key, ctx.now, limit.windowMs, limit.max);
    return {
      effect: 'deny',
      reasons: [
        `rate limit ${limit.path}: at most ${limit.max} calls to ${limit.pattern} per ${formatDuration(limit.windowMs)}; retry in ${formatDuration(retryAfterMs)}`,
      ],
      limit: { path: limit.path, index: limit.index, retryAfterMs },
    };
  }
  return decision;
}

/**
 * Decides one request. Never throws: a condition that fails to evaluate denies (fail closed).
 * When the call executes, the caller records `decision.limitKeys` in its usage counter; an `ask`
 * call is recorded only once approved and run. Decisions are frozen and may be shared.
 */
export function evaluate(policy: CompiledPolicy, input: PolicyInput, ctx: EvaluateContext): Decision {
  const trustedReadOnly = isTrustedReadOnly(input);
  const lock = lockdownFor(ctx.lockdown, input.agent);
  const locked = lockdownReason(lock, input.agent, input.kind, trustedReadOnly);
  if (locked && lock) return { effect: 'deny', reasons: [locked], lockdown: lock };

  const agent = policy.agents.get(input.agent);
  if (!agent) return defaultDeny(input);

  const answers = answersFor(agent, input.kind, input.name);
  const { rules, decisions, askFrom, allowFrom } = answers;
  const j: Judge = { input, agent, trustedReadOnly, answers, refs: undefined, at: 0, path: '', message: '' };
  // Effects are judged strictest first, each by index, so a call evaluates only the conditions
  // that can still change the outcome.
  let failed: { rule: CompiledRule; path: string; message: string } | undefined;
  let i = 0;
  for (; i < askFrom; i++) {
    const v = judge(j, i);
    // deny: the first deny rule that matches, or cannot be judged (fail closed), beats everything.
    if (v === MATCH) return (decisions[i] ??= ruleDecision(rules[i]!, undefined));
    if (v === UNDECIDED) return undecidedDecision(rules[i]!, j.path, undefined);
    if (v === ERROR) failed ??= { rule: rules[i]!, path: j.path, message: j.message };
  }
  let askUndecided: { rule: CompiledRule; path: string } | undefined;
  for (; !failed && i < allowFrom; i++) {
    const v = judge(j, i);
    // ask: a matching ask rule beats any allow rule.
    if (v === MATCH) return checkLimits(answers, ctx, (decisions[i] ??= ruleDecision(rules[i]!, answers.limitKeys)));
    if (v === UNDECIDED) askUndecided ??= { rule: rules[i]!, path: j.path };
    else if (v === ERROR) failed = { rule: rules[i]!, path: j.path, message: j.message };
  }
  for (; !failed && i < rules.length; i++) {
    const v = judge(j, i);
    if (v === MATCH) {
      // ask, undecided: an ask rule that could not be judged tightens the allow rather than let it through.
      if (askUndecided) return checkLimits(answers, ctx, undecidedDecision(askUndecided.rule, askUndecided.path, answers.limitKeys));
      // allow: only when nothing stricter matched.
      return checkLimits(answers, ctx, (decisions[i] ??= ruleDecision(rules[i]!, answers.limitKeys)));
    }
    if (v === ERROR) failed = { rule: rules[i]!, path: j.path, message: j.message };
  }
  if (failed) {
    // error: a condition threw; fail closed.
    return { effect: 'deny', rule: failed.rule.ref, reasons: [`could not evaluate ${failed.path}; denied to fail closed`, failed.message] };
  }
  // default deny: nothing allows it (an undecided ask rule never grants).
  return (answers.defaultDeny ??= defaultDeny(input, answers.near));
}

/**
 * The list path (`tools/list`, `resources/list`, `prompts/list`): listed iff some allow/ask rule
 * matches by name (ignoring `where`, honouring `readOnly`), no unconditional deny matches, and no
 * lockdown hides it. Calls are still decided by `evaluate`; hiding is never the only guard.
 */
export function isListed(policy: CompiledPolicy, input: Omit<PolicyInput, 'args'>, ctx: { readonly lockdown?: LockdownState }): boolean {
  const trustedReadOnly = isTrustedReadOnly(input);
  if (lockdownReason(lockdownFor(ctx.lockdown, input.agent), input.agent, input.kind, trustedReadOnly)) return false;
  const agent = policy.agents.get(input.agent);
  if (!agent) return false;
  let granted = false;
  for (const rule of rulesMatching(ruleSetOf(agent, input.kind), input.name)) {
    if (rule.readOnly && !trustedReadOnly) continue;
    if (rule.effect !== 'deny') granted = true;
    else if (rule.where.length === 0) return false;
  }
  return granted;
}

/**
 * Whether a resource template (`docs://pages/{id}`) is listed: some allow/ask resource rule could
 * match one of its expansions (their literal prefixes agree), and no lockdown hides resources.
 */
export function isTemplateListed(policy: CompiledPolicy, agent: string, uriTemplate: string, ctx: { readonly lockdown?: LockdownState }): boolean {
  if (lockdownReason(lockdownFor(ctx.lockdown, agent), agent, 'resource', false)) return false;
  const compiled = policy.agents.get(agent);
  if (!compiled) return false;
  const i = uriTemplate.indexOf('{');
  const templatePrefix = i < 0 ? uriTemplate : uriTemplate.slice(0, i);
  return compiled.resources.rules.some((rule) => {
    if (rule.effect === 'deny') return false;
    if (i < 0) return rule.match(uriTemplate);
    const rulePrefix = literalPrefix(rule.pattern);
    return rulePrefix.startsWith(templatePrefix) || templatePrefix.startsWith(rulePrefix);
  });
}

/** The text a client sees for a deny: `Denied by policy (rule agents.default.rules[5]): <reason>`. */
export function formatDenial(decision: Decision): string {
  const reason = decision.reasons[0] ?? 'denied';
  return decision.rule ? `Denied by policy (rule ${decision.rule.path}): ${reason}` : `Denied by policy: ${reason}`;
}
