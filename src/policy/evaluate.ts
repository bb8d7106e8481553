/**
 * The decision (SPEC §4): lockdown, then every matching rule, then deny > ask > allow, then rate
 * limits. Pure: no parsing, no regex compilation, no clock; it never throws.
 */
import type { Effect } from '../config/schema.js';
import type { CompiledAgent, CompiledPolicy, CompiledRule, Kind, RuleRef } from './compile.js';
import { candidatesFor, literalPrefix, rulesMatching, ruleSetOf } from './compile.js';
import { readArgument, type RefContext } from './conditions.js';
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
  readonly reasons: string[];
  /** Counter keys to record (`UsageCounter.record`) if, and only if, the call executes. */
  readonly limitKeys?: string[];
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
  refs: RefContext | undefined;
  /** Path of the condition behind the last Undecided or Error verdict. */
  path: string;
  /** Message of the last Error verdict. */
  message: string;
}

function judge(j: Judge, rule: CompiledRule): Verdict {
  if (rule.readOnly && !j.trustedReadOnly) return NO_MATCH;
  let result: Verdict = MATCH;
  if (rule.where.length === 0) return result;
  j.refs ??= { claims: j.input.claims, agent: j.agent.refs };
  for (const cond of rule.where) {
    let verdict: boolean | undefined;
    try {
      verdict = cond.verdict(readArgument(j.input.args, cond.key), j.refs);
    } catch (err) {
      j.path = cond.path;
      j.message = err instanceof Error ? err.message : String(err);
      return ERROR;
    }
    if (verdict === false) return NO_MATCH;
    if (verdict === undefined && result === MATCH) {
      result = UNDECIDED;
      j.path = cond.path;
    }
  }
  return result;
}

function ruleDecision(rule: CompiledRule, undecidedPath?: string): Decision {
  const reasons = [rule.reasonText];
  if (undecidedPath) reasons.push(`${undecidedPath} could not be judged for this input; treated as matching (fail closed)`);
  return {
    effect: rule.effect,
    rule: rule.ref,
    reasons,
    ...(rule.undo ? { undo: rule.undo as Decision['undo'] } : {}),
  };
}

function defaultDeny(input: PolicyInput, near: readonly CompiledRule[] = []): Decision {
  // Rules that name the call but whose conditions did not hold: say what they need.
  const needs = near.slice(0, 3).map((r) => {
    const only = [...(r.readOnly ? ['the tool is trusted read-only'] : []), ...r.where.map((c) => c.description)].join(' and ');
    return `${r.path} ${r.effect === 'ask' ? 'asks for' : 'allows'} it only where ${only}`;
  });
  const why = needs.length > 0 ? `: ${needs.join('; ')}` : '';
  return { effect: 'deny', reasons: [`no rule allows ${input.name} for agent ${input.agent}${why}`] };
}

/** Rate limits apply to tool calls; resources and prompts are not counted. */
function checkLimits(agent: CompiledAgent, input: PolicyInput, ctx: EvaluateContext, decision: Decision): Decision {
  if (input.kind !== 'tool') return decision;
  let keys: string[] | undefined;
  for (const limit of agent.limits) {
    if (!limit.match(input.name)) continue;
    if (ctx.usage && ctx.usage.count(limit.key, ctx.now, limit.windowMs) >= limit.max) {
      const retryAfterMs = ctx.usage.retryAfter(limit.key, ctx.now, limit.windowMs, limit.max);
      return {
        effect: 'deny',
        reasons: [
          `rate limit ${limit.path}: at most ${limit.max} calls to ${limit.pattern} per ${formatDuration(limit.windowMs)}; retry in ${formatDuration(retryAfterMs)}`,
        ],
        limit: { path: limit.path, index: limit.index, retryAfterMs },
      };
    }
    (keys ??= []).push(limit.key);
  }
  return keys ? { ...decision, limitKeys: keys } : decision;
}

/**
 * Decides one request. Never throws: a condition that fails to evaluate denies (fail closed).
 * When the call executes, the caller records `decision.limitKeys` in its usage counter; an `ask`
 * call is recorded only once approved and run.
 */
export function evaluate(policy: CompiledPolicy, input: PolicyInput, ctx: EvaluateContext): Decision {
  const trustedReadOnly = isTrustedReadOnly(input);
  const lock = lockdownFor(ctx.lockdown, input.agent);
  const locked = lockdownReason(lock, input.agent, input.kind, trustedReadOnly);
  if (locked && lock) return { effect: 'deny', reasons: [locked], lockdown: lock };

  const agent = policy.agents.get(input.agent);
  if (!agent) return defaultDeny(input);

  const candidates = candidatesFor(ruleSetOf(agent, input.kind), input.name);
  const j: Judge = { input, agent, trustedReadOnly, refs: undefined, path: '', message: '' };
  // Effects are judged strictest first, each list by index, so a call evaluates only the
  // conditions that can still change the outcome.
  let deny: { rule: CompiledRule; undecided?: string } | undefined;
  let failed: { rule: CompiledRule; path: string; message: string } | undefined;
  for (const rule of candidates.deny) {
    const v = judge(j, rule);
    if (v === MATCH || v === UNDECIDED) {
      deny = v === MATCH ? { rule } : { rule, undecided: j.path };
      break;
    }
    if (v === ERROR) failed ??= { rule, path: j.path, message: j.message };
  }
  let ask: CompiledRule | undefined;
  let askUndecided: { rule: CompiledRule; path: string } | undefined;
  for (let i = 0; !deny && !failed && i < candidates.ask.length; i++) {
    const rule = candidates.ask[i]!;
    const v = judge(j, rule);
    if (v === MATCH) ask = rule;
    else if (v === UNDECIDED) askUndecided ??= { rule, path: j.path };
    else if (v === ERROR) failed = { rule, path: j.path, message: j.message };
    if (ask) break;
  }
  let allow: CompiledRule | undefined;
  for (let i = 0; !deny && !failed && !ask && !allow && i < candidates.allow.length; i++) {
    const rule = candidates.allow[i]!;
    const v = judge(j, rule);
    if (v === MATCH) allow = rule;
    else if (v === ERROR) failed = { rule, path: j.path, message: j.message };
  }

  if (deny) {
    // deny: the first deny rule that matches, or cannot be judged (fail closed), beats everything.
    return ruleDecision(deny.rule, deny.undecided);
  } else if (failed) {
    // error: a condition threw; fail closed.
    return { effect: 'deny', rule: failed.rule.ref, reasons: [`could not evaluate ${failed.path}; denied to fail closed`, failed.message] };
  } else if (ask) {
    // ask: a matching ask rule beats any allow rule.
    return checkLimits(agent, input, ctx, ruleDecision(ask));
  } else if (allow && askUndecided) {
    // ask, undecided: an ask rule that could not be judged tightens the allow rather than let it through.
    return checkLimits(agent, input, ctx, ruleDecision(askUndecided.rule, askUndecided.path));
  } else if (allow) {
    // allow: only when nothing stricter matched.
    return checkLimits(agent, input, ctx, ruleDecision(allow));
  } else {
    // default deny: nothing allows it (an undecided ask rule never grants).
    return defaultDeny(input, [...candidates.ask, ...candidates.allow]);
  }
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
