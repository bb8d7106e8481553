/**
 * Compiles the `agents` section of a config into matchers, once, at load (SPEC §4). Every bad
 * glob, regex or condition is collected with its YAML path; evaluation never parses anything.
 */
import type { AgentConfig, Condition, Config, Effect, NameRule, ToolRule } from '../config/schema.js';
import { compileConditionVerdict, describeCondition, type ConditionVerdictFn } from './conditions.js';
import { compileGlob, type GlobMatcher } from './glob.js';
import { limitKey } from './limits.js';

export type Kind = 'tool' | 'resource' | 'prompt';

export interface CompiledCondition {
  readonly key: string;
  readonly path: string;
  /** true / false, or undefined when the input cannot be judged (malformed path, missing claim). */
  readonly verdict: ConditionVerdictFn;
  readonly source: Condition;
  readonly description: string;
}

export interface CompiledRule {
  readonly kind: Kind;
  readonly index: number;
  /** YAML path, e.g. `agents.default.rules[5]`. */
  readonly path: string;
  readonly id?: string;
  readonly effect: Effect;
  readonly pattern: string;
  readonly match: GlobMatcher;
  readonly readOnly: boolean;
  readonly where: readonly CompiledCondition[];
  readonly reason?: string;
  readonly undo?: { readonly tool: string; readonly args: Readonly<Record<string, unknown>> };
  /** Pattern plus constraints, e.g. `docs__read_page, path under /marketing`. */
  readonly summary: string;
}

/** The rules of one kind, indexed for lookup by name. */
export interface RuleSet {
  /** All rules, by index. */
  readonly rules: readonly CompiledRule[];
  /** Rules whose pattern has no glob syntax, by that exact name. */
  readonly literal: ReadonlyMap<string, readonly CompiledRule[]>;
  /** Glob rules grouped by their literal prefix (the text before the first wildcard). */
  readonly byPrefix: ReadonlyMap<string, readonly CompiledRule[]>;
  /** The distinct prefix lengths in `byPrefix`, ascending (0 = rules starting with a wildcard). */
  readonly prefixLengths: readonly number[];
}

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

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function tryGlob(pattern: string, path: string, issues: PolicyIssue[]): GlobMatcher | undefined {
  try {
    return compileGlob(pattern);
  } catch (err) {
    issues.push({ path, message: `bad pattern ${JSON.stringify(pattern)}: ${errorMessage(err)}` });
    return undefined;
  }
}

function compileWhere(where: Record<string, Condition> | undefined, rulePath: string, issues: PolicyIssue[]): CompiledCondition[] {
  const out: CompiledCondition[] = [];
  for (const [key, source] of Object.entries(where ?? {})) {
    const path = wherePath(rulePath, key);
    try {
      out.push({ key, path, verdict: compileConditionVerdict(source), source, description: describeCondition(key, source) });
    } catch (err) {
      const sub = typeof (err as { path?: unknown }).path === 'string' ? (err as { path: string }).path : '';
      issues.push({ path: sub ? `${path}.${sub}` : path, message: errorMessage(err) });
    }
  }
  return out;
}

function compileRule(kind: Kind, rule: ToolRule | NameRule, index: number, agentPath: string, issues: PolicyIssue[]): CompiledRule | undefined {
  const path = `${agentPath}.${RULE_LISTS[kind]}[${index}]`;
  const effect = ruleEffect(rule);
  const pattern = rulePattern(rule);
  const before = issues.length;
  const match = tryGlob(pattern, `${path}.${effect}`, issues);
  const toolRule = kind === 'tool' ? (rule as ToolRule) : undefined;
  const where = compileWhere(toolRule?.where, path, issues);
  if (!match || issues.length > before) return undefined;
  const readOnly = toolRule?.readOnly === true;
  const summary = [pattern, ...(readOnly ? ['read-only tools only'] : []), ...where.map((c) => c.description)].join(', ');
  return Object.freeze({
    kind,
    index,
    path,
    ...(rule.id !== undefined ? { id: rule.id } : {}),
    effect,
    pattern,
    match,
    readOnly,
    where: Object.freeze(where),
    ...(rule.reason !== undefined ? { reason: rule.reason } : {}),
    ...(toolRule?.undo ? { undo: Object.freeze({ tool: toolRule.undo.tool, args: Object.freeze({ ...toolRule.undo.args }) }) } : {}),
    summary,
  });
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** Indexes compiled rules: literal names in a Map, globs bucketed by literal prefix. */
export function buildRuleSet(rules: readonly CompiledRule[]): RuleSet {
  const literal = new Map<string, CompiledRule[]>();
  const byPrefix = new Map<string, CompiledRule[]>();
  for (const rule of rules) {
    const prefix = literalPrefix(rule.pattern);
    if (prefix === rule.pattern) push(literal, rule.pattern, rule);
    else push(byPrefix, prefix, rule);
  }
  const prefixLengths = [...new Set([...byPrefix.keys()].map((p) => p.length))].sort((a, b) => a - b);
  return Object.freeze({ rules: Object.freeze([...rules]), literal, byPrefix, prefixLengths: Object.freeze(prefixLengths) });
}

function compileRules(kind: Kind, rules: ReadonlyArray<ToolRule | NameRule>, agentPath: string, issues: PolicyIssue[]): RuleSet {
  const compiled: CompiledRule[] = [];
  rules.forEach((rule, index) => {
    const c = compileRule(kind, rule, index, agentPath, issues);
    if (c) compiled.push(c);
  });
  return buildRuleSet(compiled);
}

function compileAgent(name: string, agent: AgentConfig, issues: PolicyIssue[]): CompiledAgent {
  const agentPath = `agents.${name}`;
  const limits: CompiledLimit[] = [];
  agent.limits.forEach((limit, index) => {
    const path = `${agentPath}.limits[${index}]`;
    const match = tryGlob(limit.match, `${path}.match`, issues);
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
    tools: compileRules('tool', agent.rules, agentPath, issues),
    resources: compileRules('resource', agent.resources, agentPath, issues),
    prompts: compileRules('prompt', agent.prompts, agentPath, issues),
    limits: Object.freeze(limits),
  });
}

function compileGlobs(patterns: readonly string[], basePath: string, issues: PolicyIssue[]): GlobMatcher[] {
  const out: GlobMatcher[] = [];
  patterns.forEach((p, i) => {
    const m = tryGlob(p, `${basePath}[${i}]`, issues);
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
  const agents = new Map<string, CompiledAgent>();
  for (const [name, agent] of Object.entries(config.agents)) agents.set(name, compileAgent(name, agent, issues));

  const servers = new Map<string, CompiledServer>();
  for (const [key, server] of Object.entries(config.servers)) {
    const prefix = server.prefix ?? key;
    servers.set(prefix, Object.freeze({
      key,
      prefix,
      external: server.trust === 'external',
      annotationsTrusted: server.annotations === 'trusted',
      taintSources: Object.freeze(compileGlobs(server.taintSources ?? [], `servers.${key}.taintSources`, issues)),
    }));
  }
  const taint: CompiledTaint = Object.freeze({
    ...(config.taint.sinks === 'default' ? {} : { sinks: Object.freeze(compileGlobs(config.taint.sinks, 'taint.sinks', issues)) }),
    critical: Object.freeze(compileGlobs(config.taint.classes.critical, 'taint.classes.critical', issues)),
  });

  return { policy: Object.freeze({ version: opts.version, agents, servers, taint }), issues };
}

/** Which list of an agent holds rules of this kind. */
export function ruleSetOf(agent: CompiledAgent, kind: Kind): RuleSet {
  return kind === 'tool' ? agent.tools : kind === 'resource' ? agent.resources : agent.prompts;
}

/** Every rule of the set whose pattern matches `name`, in no particular order. */
export function forEachNameMatch(set: RuleSet, name: string, visit: (rule: CompiledRule) => void): void {
  const exact = set.literal.get(name);
  if (exact) for (const rule of exact) visit(rule);
  for (const len of set.prefixLengths) {
    if (len > name.length) break;
    const bucket = set.byPrefix.get(len === 0 ? '' : name.slice(0, len));
    if (bucket) for (const rule of bucket) if (rule.match(name)) visit(rule);
  }
}
