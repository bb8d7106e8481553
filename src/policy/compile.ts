/**
 * Compiles the `agents` section of a config into matchers, once, at load (SPEC §4). Every bad
 * glob, regex or condition is collected with its YAML path; evaluation never parses anything.
 */
import type { AgentConfig, Condition, Config, Effect, NameRule, ToolRule } from '../config/schema.js';
import { compileConditionCheck, describeCondition, type ConditionVerdictFn } from './conditions.js';
import { compileGlob, isLiteralGlob, type GlobMatcher } from './glob.js';
import type { Answers } from './evaluate.js';
import { limitKey } from './limits.js';

export type Kind = 'tool' | 'resource' | 'prompt';

export interface CompiledCondition {
  readonly key: string;
  readonly path: string;
  /**
   * true / false, or undefined when the input cannot be judged (malformed path, missing claim),
   * for a PRESENT value: a missing argument is false before any check runs (see compileConditionCheck).
   */
  readonly check: ConditionVerdictFn;
  readonly source: Condition;
  readonly description: string;
}

export interface RuleRef {
  /** e.g. `agents.default.rules[5]`. */
  readonly path: string;
  readonly index: number;
  readonly id?: string;
}

export interface CompiledRule {
  readonly kind: Kind;
  readonly index: number;
  /** YAML path, e.g. `agents.default.rules[5]`. */
  readonly path: string;
  readonly id: string | undefined;
  readonly effect: Effect;
  readonly pattern: string;
  readonly match: GlobMatcher;
  readonly readOnly: boolean;
  readonly where: readonly CompiledCondition[];
  readonly reason: string | undefined;
  readonly undo: { readonly tool: string; readonly args: Readonly<Record<string, unknown>> } | undefined;
  /** Shared, frozen: what decisions carry as `rule`. */
  readonly ref: RuleRef;
  /** The rule's `reason:`, or one generated from pattern and constraints (`allowed by agents.x.rules[1] (docs__read_page, path under /marketing)`). */
  readonly reasonText: string;
}

/**
 * Glob rules sharing a literal prefix. `matchers[i]` is `rules[i].match`, kept in a dense array
 * (shared between agents with the same patterns) so that a miss touches no rule object.
 */
export interface GlobBucket {
  readonly matchers: readonly GlobMatcher[];
  readonly rules: readonly CompiledRule[];
}

/** The rules of one kind, indexed for lookup by name. */
export interface RuleSet {
  /** All rules, by index. */
  readonly rules: readonly CompiledRule[];
  /** Rules whose pattern has no glob syntax, by that exact name. */
  readonly literal: ReadonlyMap<string, readonly CompiledRule[]>;
  /** Glob rules grouped by their literal prefix (the text before the first wildcard). */
  readonly byPrefix: ReadonlyMap<string, GlobBucket>;
  /** The distinct prefix lengths in `byPrefix`, ascending (0 = rules starting with a wildcard). */
  readonly prefixLengths: readonly number[];
  /** Memo of `candidatesFor` (bounded; see `remember`). */
  readonly memo: Map<string, Candidates>;
  /** Memo of `evaluate`'s fixed answers per name (bounded; see `remember`). */
  readonly answers: Map<string, Answers>;
  readonly memoBudget: MemoBudget;
}

/** The rules whose pattern matches one name: all of them, and per effect; each list by index. */
export interface Candidates {
  readonly all: readonly CompiledRule[];
  readonly deny: readonly CompiledRule[];
  readonly ask: readonly CompiledRule[];
  readonly allow: readonly CompiledRule[];
}

/** How many more names the whole policy may memoise in each kind of memo; shared by its rule sets. */
export interface MemoBudget {
  memo: number;
  answers: number;
}

const newMemoBudget = (): MemoBudget => ({ memo: MAX_MEMO_PER_POLICY, answers: MAX_MEMO_PER_POLICY });

/**
 * Names memoised per rule set, and in the whole policy, and the longest name memoised: the names
 * clients use are few and short, but a client sending random names must not grow memory unbounded.
 */
const MAX_MEMO_PER_SET = 1_024;
const MAX_MEMO_NAME_LENGTH = 512;
const MAX_MEMO_PER_POLICY = 200_000;
const NO_RULES: readonly CompiledRule[] = Object.freeze([]);
const NO_CANDIDATES: Candidates = Object.freeze({ all: NO_RULES, deny: NO_RULES, ask: NO_RULES, allow: NO_RULES });
const NO_CONDITIONS: readonly CompiledCondition[] = Object.freeze([]);

export interface CompiledLimit {
  readonly index: number;
  readonly path: string;
  readonly pattern: string;
  readonly match: GlobMatcher;
  readonly max: number;
  readonly windowMs: number;
  /** Counter key, stable across reloads while agent, pattern, window and max stay the same. */
  readonly key: string;
}

export interface CompiledAgent {
  readonly name: string;
  readonly owner?: string;
  /** Values for `${agent.NAME}` references. */
  readonly refs: Readonly<Record<string, unknown>>;
  readonly tools: RuleSet;
  readonly resources: RuleSet;
  readonly prompts: RuleSet;
  readonly limits: readonly CompiledLimit[];
}

export interface CompiledServer {
  readonly key: string;
  readonly prefix: string;
  readonly external: boolean;
  readonly annotationsTrusted: boolean;
  readonly taintSources: readonly GlobMatcher[];
}

export interface CompiledTaint {
  /** `undefined` = the default: every tool that is not trusted readOnly is a sink. */
  readonly sinks?: readonly GlobMatcher[];
  readonly critical: readonly GlobMatcher[];
}

export interface CompiledPolicy {
  /** Caller-provided, e.g. the config hash; approvals are bound to it. */
  readonly version: string;
  readonly agents: ReadonlyMap<string, CompiledAgent>;
  /** Upstream servers by exposed-name prefix (for explain's taint column). */
  readonly servers: ReadonlyMap<string, CompiledServer>;
  readonly taint: CompiledTaint;
}

export interface PolicyIssue {
  readonly path: string;
  readonly message: string;
}

/** Thrown by compilePolicy with every problem found, each with its YAML path. */
export class PolicyCompileError extends Error {
  readonly issues: readonly PolicyIssue[];
  constructor(issues: readonly PolicyIssue[]) {
    super(`invalid policy:\n${issues.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`);
    this.name = 'PolicyCompileError';
    this.issues = issues;
  }
}

export function ruleEffect(rule: ToolRule | NameRule): Effect {
  if ('allow' in rule) return 'allow';
  if ('ask' in rule) return 'ask';
  return 'deny';
}

export function rulePattern(rule: ToolRule | NameRule): string {
  if ('allow' in rule) return rule.allow;
  if ('ask' in rule) return rule.ask;
  return rule.deny;
}

/** `where.path`, or `where["/options/path"]` for keys that are not plain identifiers. */
export function wherePath(rulePath: string, key: string): string {
  return /^[A-Za-z_$][\w$-]*$/.test(key) ? `${rulePath}.where.${key}` : `${rulePath}.where[${JSON.stringify(key)}]`;
}

/** The text before a glob's first wildcard or alternative. */
export function literalPrefix(pattern: string): string {
  const i = pattern.search(/[*?{]/);
  return i < 0 ? pattern : pattern.slice(0, i);
}

const RULE_LISTS = { tool: 'rules', resource: 'resources', prompt: 'prompts' } as const;
/** Longer patterns go through compileGlob, which enforces its own length cap. */
const MAX_FAST_GLOB_LENGTH = 256;

/**
 * Compiled globs and conditions shared across the policy: 1,000 agents built from one template
 * hold one matcher per distinct pattern, which saves memory and keeps the hot code in cache.
 */
interface Interner {
  readonly globs: Map<string, GlobMatcher | Failure>;
  readonly buckets: Map<string, readonly GlobMatcher[]>;
  readonly memoBudget: MemoBudget;
  readonly conditions: Map<string, { check: ConditionVerdictFn; description: string } | Failure>;
}
interface Failure {
  readonly failure: unknown;
}

function newInterner(): Interner {
  return { globs: new Map(), buckets: new Map(), conditions: new Map(), memoBudget: newMemoBudget() };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function tryGlob(pattern: string, path: string, issues: PolicyIssue[], interner: Interner): GlobMatcher | undefined {
  let entry = interner.globs.get(pattern);
  if (!entry) {
    try {
      entry = compileNameGlob(pattern);
    } catch (failure) {
      entry = { failure };
    }
    interner.globs.set(pattern, entry);
  }
  if (typeof entry === 'function') return entry;
  issues.push({ path, message: `bad pattern ${JSON.stringify(pattern)}: ${errorMessage(entry.failure)}` });
  return undefined;
}

/**
 * compileGlob's semantics (`*` never crosses `/`, `**` does), with plain string tests instead of
 * a regex for the common shapes `P*`, `P**`, `*S`, `**S`, `*M*`, `P*S`. Throws GlobError.
 */
export function compileNameGlob(pattern: string): GlobMatcher {
  if (isLiteralGlob(pattern) || /[?{]/.test(pattern) || pattern.length > MAX_FAST_GLOB_LENGTH) return compileGlob(pattern);
  // Built on first use only: compiling a regex per pattern is most of the cost of a large policy.
  let regex: GlobMatcher | undefined;
  const general = (n: string): boolean => (regex ??= compileGlob(pattern))(n);
  const withSource = (test: (name: string) => boolean): GlobMatcher => Object.assign(test, { source: pattern });
  let m: RegExpExecArray | null;
  if ((m = /^([^*]*)(\*\*?)$/.exec(pattern))) {
    const p = m[1]!;
    return m[2] === '**' ? withSource((n) => n.startsWith(p)) : withSource((n) => n.startsWith(p) && n.indexOf('/', p.length) < 0);
  }
  if ((m = /^(\*\*?)([^*]+)$/.exec(pattern))) {
    const x = m[2]!;
    if (m[1] === '**') return withSource((n) => n.endsWith(x));
    return withSource((n) => {
      const end = n.length - x.length;
      return n.endsWith(x) && (end === 0 || n.lastIndexOf('/', end - 1) < 0);
    });
  }
  if ((m = /^\*([^*]+)\*$/.exec(pattern))) {
    const x = m[1]!;
    // Without a `/` in the name, `*` is unconstrained; with one, let the regex decide.
    return withSource((n) => (n.indexOf('/') < 0 ? n.includes(x) : general(n)));
  }
  if ((m = /^([^*]+)(\*\*?)([^*]+)$/.exec(pattern))) {
    const p = m[1]!;
    const x = m[3]!;
    const min = p.length + x.length;
    if (m[2] === '**') return withSource((n) => n.length >= min && n.startsWith(p) && n.endsWith(x));
    return withSource((n) => {
      if (n.length < min || !n.startsWith(p) || !n.endsWith(x)) return false;
      const slash = n.indexOf('/', p.length);
      return slash < 0 || slash >= n.length - x.length;
    });
  }
  return compileGlob(pattern);
}

function compileWhere(where: Record<string, Condition> | undefined, rulePath: string, issues: PolicyIssue[], interner: Interner): readonly CompiledCondition[] {
  const out: CompiledCondition[] = [];
  for (const [key, source] of Object.entries(where ?? {})) {
    const path = wherePath(rulePath, key);
    const cacheKey = `${key}\u0000${stableJson(source)}`;
    let entry = interner.conditions.get(cacheKey);
    if (!entry) {
      try {
        entry = { check: compileConditionCheck(source), description: describeCondition(key, source) };
      } catch (failure) {
        entry = { failure };
      }
      interner.conditions.set(cacheKey, entry);
    }
    if ('failure' in entry) {
      const err = entry.failure;
      const sub = typeof (err as { path?: unknown }).path === 'string' ? (err as { path: string }).path : '';
      issues.push({ path: sub ? `${path}.${sub}` : path, message: errorMessage(err) });
    } else {
      out.push(Object.freeze({ key, path, check: entry.check, source, description: entry.description }));
    }
  }
  return out.length > 0 ? Object.freeze(out) : NO_CONDITIONS;
}

/** JSON with object keys sorted, so equal values give equal text. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'undefined';
}

const VERBS: Record<Effect, string> = { allow: 'allowed by', ask: 'approval required by', deny: 'denied by' };

function compileRule(kind: Kind, rule: ToolRule | NameRule, index: number, agentPath: string, issues: PolicyIssue[], interner: Interner): CompiledRule | undefined {
  const path = `${agentPath}.${RULE_LISTS[kind]}[${index}]`;
  const effect = ruleEffect(rule);
  const pattern = rulePattern(rule);
  const before = issues.length;
  const match = tryGlob(pattern, `${path}.${effect}`, issues, interner);
  const toolRule = kind === 'tool' ? (rule as ToolRule) : undefined;
  const where = compileWhere(toolRule?.where, path, issues, interner);
  if (!match || issues.length > before) return undefined;
  const readOnly = toolRule?.readOnly === true;
  const summary = [pattern, ...(readOnly ? ['read-only tools only'] : []), ...where.map((c) => c.description)].join(', ');
  // Every rule has the same shape (absent fields are undefined), which keeps evaluation monomorphic.
  return Object.freeze({
    kind,
    index,
    path,
    id: rule.id,
    effect,
    pattern,
    match,
    readOnly,
    where,
    reason: rule.reason,
    undo: toolRule?.undo ? Object.freeze({ tool: toolRule.undo.tool, args: Object.freeze({ ...toolRule.undo.args }) }) : undefined,
    ref: Object.freeze(rule.id !== undefined ? { path, index, id: rule.id } : { path, index }),
    reasonText: rule.reason ?? `${VERBS[effect]} ${path} (${summary})`,
  });
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** Indexes compiled rules: literal names in a Map, globs bucketed by literal prefix. */
export function buildRuleSet(
  rules: readonly CompiledRule[],
  shared: Map<string, readonly GlobMatcher[]> = new Map(),
  memoBudget: MemoBudget = newMemoBudget(),
): RuleSet {
  const literal = new Map<string, CompiledRule[]>();
  const globs = new Map<string, CompiledRule[]>();
  for (const rule of rules) {
    const prefix = literalPrefix(rule.pattern);
    if (prefix === rule.pattern) push(literal, rule.pattern, rule);
    else push(globs, prefix, rule);
  }
  const byPrefix = new Map<string, GlobBucket>();
  for (const [prefix, list] of globs) {
    const key = list.map((r) => r.pattern).join('\u0000');
    let matchers = shared.get(key);
    if (!matchers) shared.set(key, (matchers = Object.freeze(list.map((r) => r.match))));
    byPrefix.set(prefix, Object.freeze({ matchers, rules: Object.freeze(list) }));
  }
  const prefixLengths = [...new Set([...byPrefix.keys()].map((p) => p.length))].sort((a, b) => a - b);
  return Object.freeze({ rules: Object.freeze([...rules]), literal, byPrefix, prefixLengths: Object.freeze(prefixLengths), memo: new Map(), answers: new Map(), memoBudget });
}

/** Every rule of the set whose pattern matches `name`, ordered by index. */
export function rulesMatching(set: RuleSet, name: string): readonly CompiledRule[] {
  return candidatesFor(set, name).all;
}

/**
 * Keeps `value` in one of the set's memos unless that would pass a bound: the names clients use
 * are few and short, but a client sending random names must not grow memory without limit.
 * Memos are invisible to callers: they hold what a pure function of the set and the name gives.
 */
export function remember<K extends 'memo' | 'answers'>(set: RuleSet, which: K, name: string, value: RuleSet[K] extends Map<string, infer V> ? V : never): typeof value {
  const memo = set[which] as Map<string, typeof value>;
  if (name.length <= MAX_MEMO_NAME_LENGTH && memo.size < MAX_MEMO_PER_SET && set.memoBudget[which] > 0) {
    set.memoBudget[which]--;
    memo.set(name, value);
  }
  return value;
}

/** The rules whose pattern matches `name`; memoised per name (see `remember`). */
export function candidatesFor(set: RuleSet, name: string): Candidates {
  return set.memo.get(name) ?? remember(set, 'memo', name, findCandidates(set, name));
}

/** `candidatesFor` without the memo. */
export function findCandidates(set: RuleSet, name: string): Candidates {
  let found: CompiledRule[] | undefined;
  const exact = set.literal.get(name);
  if (exact) found = [...exact];
  for (const len of set.prefixLengths) {
    if (len > name.length) break;
    const bucket = set.byPrefix.get(len === 0 ? '' : name.slice(0, len));
    if (!bucket) continue;
    const { matchers, rules } = bucket;
    for (let i = 0; i < matchers.length; i++) if (matchers[i]!(name)) (found ??= []).push(rules[i]!);
  }
  if (!found) return NO_CANDIDATES;
  const all = Object.freeze(found.sort((a, b) => a.index - b.index));
  const of = (effect: Effect) => {
    const list = all.filter((r) => r.effect === effect);
    return list.length > 0 ? Object.freeze(list) : NO_RULES;
  };
  return Object.freeze({ all, deny: of('deny'), ask: of('ask'), allow: of('allow') });
}

function compileRules(kind: Kind, rules: ReadonlyArray<ToolRule | NameRule>, agentPath: string, issues: PolicyIssue[], interner: Interner): RuleSet {
  const compiled: CompiledRule[] = [];
  rules.forEach((rule, index) => {
    const c = compileRule(kind, rule, index, agentPath, issues, interner);
    if (c) compiled.push(c);
  });
  return buildRuleSet(compiled, interner.buckets, interner.memoBudget);
}

function compileAgent(name: string, agent: AgentConfig, issues: PolicyIssue[], interner: Interner): CompiledAgent {
  const agentPath = `agents.${name}`;
  const limits: CompiledLimit[] = [];
  agent.limits.forEach((limit, index) => {
    const path = `${agentPath}.limits[${index}]`;
    const match = tryGlob(limit.match, `${path}.match`, issues, interner);
    if (!match) return;
    limits.push(Object.freeze({
      index,
      path,
      pattern: limit.match,
      match,
      max: limit.max,
      windowMs: limit.per,
      key: limitKey(name, limit.match, limit.per, limit.max),
    }));
  });
  return Object.freeze({
    name,
    ...(agent.owner !== undefined ? { owner: agent.owner } : {}),
    refs: Object.freeze({ name, ...(agent.owner !== undefined ? { owner: agent.owner } : {}) }),
    tools: compileRules('tool', agent.rules, agentPath, issues, interner),
    resources: compileRules('resource', agent.resources, agentPath, issues, interner),
    prompts: compileRules('prompt', agent.prompts, agentPath, issues, interner),
    limits: Object.freeze(limits),
  });
}

function compileGlobs(patterns: readonly string[], basePath: string, issues: PolicyIssue[], interner: Interner): GlobMatcher[] {
  const out: GlobMatcher[] = [];
  patterns.forEach((p, i) => {
    const m = tryGlob(p, `${basePath}[${i}]`, issues, interner);
    if (m) out.push(m);
  });
  return out;
}

/**
 * Compiles the policy part of a validated config. Throws PolicyCompileError listing every bad
 * pattern, regex or condition with its YAML path; never returns a partial policy.
 */
export function compilePolicy(config: Config, opts: { version: string }): CompiledPolicy {
  const { policy, issues } = compilePolicyLeniently(config, opts);
  if (issues.length > 0) throw new PolicyCompileError(issues);
  return policy;
}

/**
 * For lint: compiles what compiles, leaving out every rule, limit or pattern with an issue, and
 * returns the issues. Never use the result to decide requests.
 */
export function compilePolicyLeniently(config: Config, opts: { version: string }): { policy: CompiledPolicy; issues: PolicyIssue[] } {
  const issues: PolicyIssue[] = [];
  const interner = newInterner();
  const agents = new Map<string, CompiledAgent>();
  for (const [name, agent] of Object.entries(config.agents)) agents.set(name, compileAgent(name, agent, issues, interner));

  const servers = new Map<string, CompiledServer>();
  for (const [key, server] of Object.entries(config.servers)) {
    const prefix = server.prefix ?? key;
    servers.set(prefix, Object.freeze({
      key,
      prefix,
      external: server.trust === 'external',
      annotationsTrusted: server.annotations === 'trusted',
      taintSources: Object.freeze(compileGlobs(server.taintSources ?? [], `servers.${key}.taintSources`, issues, interner)),
    }));
  }
  const taint: CompiledTaint = Object.freeze({
    ...(config.taint.sinks === 'default' ? {} : { sinks: Object.freeze(compileGlobs(config.taint.sinks, 'taint.sinks', issues, interner)) }),
    critical: Object.freeze(compileGlobs(config.taint.classes.critical, 'taint.classes.critical', issues, interner)),
  });

  return { policy: Object.freeze({ version: opts.version, agents, servers, taint }), issues };
}

/** Which list of an agent holds rules of this kind. */
export function ruleSetOf(agent: CompiledAgent, kind: Kind): RuleSet {
  return kind === 'tool' ? agent.tools : kind === 'resource' ? agent.resources : agent.prompts;
}
