/**
 * The policy core's public surface (SPEC §4). Pure: plain data in, decisions out; no I/O, no
 * clock (time comes in as `now`, ms).
 *
 * Pipeline use:
 *   const policy = compilePolicy(config, { version: configHash });  // at load; throws PolicyCompileError
 *   const state = createRuntimeState();                             // lockdown + usage counter
 *   const d = evaluate(policy, input, { now, lockdown: state.lockdown, usage: state.usage });
 *   deny → an isError result with formatDenial(d); ask → approval hold; allow → call upstream.
 *   Only once the call actually ran (for ask: approved and run): if (d.limitKeys) state.usage.record(d.limitKeys, now).
 *   Lists: isListed(policy, { agent, kind, name, tool }, { lockdown }) with the same facts as the
 *   call path; resource templates: isTemplateListed. Lockdown: state.lockdown = setLockdown(...).
 *
 * Decisions: default deny; deny > ask > allow, the first rule (by index) of the winning effect
 * decides. A condition that throws denies. A condition that cannot judge its input (a path that
 * does not canonicalise, a missing claim) never makes an allow match, makes a deny match, and
 * lets an ask rule turn an allow into ask (never grant). Limits count tool calls only.
 */
export type { CompiledAgent, CompiledCondition, CompiledLimit, CompiledPolicy, CompiledRule, Kind, PolicyIssue, RuleRef, RuleSet } from './compile.js';
export { compilePolicy, PolicyCompileError, stableJson } from './compile.js';
export type { Decision, EvaluateContext, PolicyInput, RuntimeState, ToolFacts } from './evaluate.js';
export { createRuntimeState, evaluate, formatDenial, isListed, isTemplateListed } from './evaluate.js';
export type { UsageCounter, UsageView } from './limits.js';
export { createUsageCounter, formatDuration, limitKey } from './limits.js';
export type { ActiveLockdown, LockdownMode, LockdownState } from './lockdown.js';
export { lockdownFor, NO_LOCKDOWN, setLockdown } from './lockdown.js';
export type { CatalogTool, ExplainRow, PolicyCatalog } from './explain.js';
export { explainAgent, formatExplainTable } from './explain.js';
export type { AgentDiff, CapabilityChange, ConditionChange, Direction, LimitChange, PolicyDiff } from './diff.js';
export { diffPolicies, formatDiff } from './diff.js';
export type { LintIssue } from './lint.js';
export { lintPolicy } from './lint.js';
export type { GlobMatcher } from './glob.js';
export { compileGlob, GlobError } from './glob.js';
