/**
 * The effective permission table (SPEC §2 `explain`): for each tool, resource and prompt, what
 * the agent can at best get, by which rule, under which conditions, with limits and taint class.
 */
import type { Effect } from '../config/schema.js';
import type { CompiledAgent, CompiledPolicy, CompiledRule, Kind, RuleRef } from './compile.js';
import { ruleSetOf } from './compile.js';
import { formatDuration } from './limits.js';

export interface CatalogTool {
  readonly name: string;
  readonly readOnlyHint?: boolean;
  readonly annotationsTrusted: boolean;
  /** Top-level property names of the tool's input schema, when known. */
  readonly inputProperties?: readonly string[];
}

/** What the upstreams expose (from `--live`), in exposed names. */
export interface PolicyCatalog {
  readonly tools: readonly CatalogTool[];
  readonly resources?: readonly string[];
  readonly prompts?: readonly string[];
}

export interface ExplainRow {
  readonly kind: Kind;
  /** Exposed name or URI; without a catalog, a rule's pattern. */
  readonly name: string;
  readonly effect: Effect;
  readonly rule?: RuleRef;
  /** The deciding rule's constraints, then the stricter conditional rules (`deny when …`). */
  readonly conditions: string[];
  readonly limit?: string;
  readonly taintClass?: string;
}

/** How one name fares against an agent's rules, in the best case for the agent. */
export interface NameAnalysis {
  readonly effect: Effect;
  readonly rule?: CompiledRule;
  /** The deciding rule's conditions (`path under /marketing`), and `read-only tools only` for a pattern judged as a read-only tool. */
  readonly constraints: readonly string[];
  /** Stricter rules that apply only under conditions, e.g. `deny when path under /secret`. */
  readonly stricter: ReadonlyArray<{ readonly text: string; readonly rule: CompiledRule }>;
}

const PERMISSIVENESS: Record<Effect, number> = { allow: 2, ask: 1, deny: 0 };

/**
 * Analyses one name for a tool with (`trustedReadOnly`) or without trusted read-only annotations.
 * The effect is the most the agent can get: when the deciding rule's conditions hold and
 * conditional stricter rules do not.
 */
export function analyzeName(agent: CompiledAgent, kind: Kind, name: string, trustedReadOnly: boolean): NameAnalysis {
  const matching = ruleSetOf(agent, kind).rules.filter((r) => r.match(name) && (!r.readOnly || trustedReadOnly));
  const conditional = (r: CompiledRule) => r.where.length > 0;
  const firstOf = (effect: Effect, unconditionalOnly: boolean) => matching.find((r) => r.effect === effect && (!unconditionalOnly || !conditional(r)));
  const pick = (effect: Effect) => firstOf(effect, true) ?? firstOf(effect, false);

  let chosen = firstOf('deny', true);
  if (!chosen && !firstOf('ask', true)) chosen = pick('allow');
  chosen ??= pick('ask');
  const effect: Effect = chosen?.effect ?? 'deny';

  const describe = (r: CompiledRule) => r.where.map((c) => c.description);
  const stricter = matching
    .filter((r) => conditional(r) && PERMISSIVENESS[r.effect] < PERMISSIVENESS[effect])
    .map((r) => ({ text: `${r.effect} when ${describe(r).join(' and ')}`, rule: r }));
  return { effect, ...(chosen ? { rule: chosen } : {}), constraints: chosen ? describe(chosen) : [], stricter };
}

/**
 * A rule pattern names no real tool: judged as a write tool, or, when that grants nothing, as a
 * tool with trusted read-only annotations (so `readOnly: true` rules show, marked as such).
 */
export function analyzePattern(agent: CompiledAgent, kind: Kind, pattern: string): NameAnalysis {
  const asWrite = analyzeName(agent, kind, pattern, false);
  if (kind !== 'tool' || asWrite.effect !== 'deny') return asWrite;
  const asRead = analyzeName(agent, kind, pattern, true);
  return asRead.effect === 'deny' ? asWrite : { ...asRead, constraints: ['read-only tools only', ...asRead.constraints] };
}

function limitText(agent: CompiledAgent, kind: Kind, name: string): string | undefined {
  if (kind !== 'tool') return undefined;
  const texts = agent.limits
    .filter((l) => l.match(name))
    .map((l) => `${l.max} per ${formatDuration(l.windowMs)} (${l.path})`);
  return texts.length > 0 ? texts.join('; ') : undefined;
}

/** `source`, `sink`, `critical sink`, or both; undefined when neither or unknown (a pattern). */
function taintClassOf(policy: CompiledPolicy, kind: Kind, name: string, trustedReadOnly: boolean | undefined): string | undefined {
  const sep = name.indexOf('__');
  const server = sep > 0 ? policy.servers.get(name.slice(0, sep)) : undefined;
  const classes: string[] = [];
  if (server && (server.external || server.taintSources.some((m) => m(name.slice(sep + 2)) || m(name)))) classes.push('source');
  if (kind === 'tool') {
    const critical = policy.taint.critical.some((m) => m(name));
    const sink = policy.taint.sinks ? policy.taint.sinks.some((m) => m(name)) : trustedReadOnly === false || (trustedReadOnly === undefined && critical);
    if (sink) classes.push(critical ? 'critical sink' : 'sink');
  }
  return classes.length > 0 ? classes.join(', ') : undefined;
}

function row(policy: CompiledPolicy, agent: CompiledAgent, kind: Kind, name: string, trustedReadOnly: boolean | undefined): ExplainRow {
  const a = trustedReadOnly === undefined ? analyzePattern(agent, kind, name) : analyzeName(agent, kind, name, trustedReadOnly);
  const limit = a.effect === 'deny' ? undefined : limitText(agent, kind, name);
  const taintClass = taintClassOf(policy, kind, name, trustedReadOnly);
  return {
    kind,
    name,
    effect: a.effect,
    ...(a.rule ? { rule: a.rule.ref } : {}),
    conditions: [...a.constraints, ...a.stricter.map((s) => `${s.text} (${s.rule.path})`)],
    ...(limit ? { limit } : {}),
    ...(taintClass ? { taintClass } : {}),
  };
}

/**
 * The permission rows of one agent: with a catalog, one row per exposed tool, resource and prompt;
 * without, one row per distinct rule pattern. An unknown agent has no rows.
 */
export function explainAgent(policy: CompiledPolicy, agent: string, catalog?: PolicyCatalog): ExplainRow[] {
  const compiled = policy.agents.get(agent);
  if (!compiled) return [];
  const rows: ExplainRow[] = [];
  if (catalog) {
    for (const t of catalog.tools) rows.push(row(policy, compiled, 'tool', t.name, t.readOnlyHint === true && t.annotationsTrusted));
    for (const uri of catalog.resources ?? []) rows.push(row(policy, compiled, 'resource', uri, false));
    for (const p of catalog.prompts ?? []) rows.push(row(policy, compiled, 'prompt', p, false));
    return rows;
  }
  for (const kind of ['tool', 'resource', 'prompt'] as const) {
    const seen = new Set<string>();
    for (const rule of ruleSetOf(compiled, kind).rules) {
      if (seen.has(rule.pattern)) continue;
      seen.add(rule.pattern);
      rows.push(row(policy, compiled, kind, rule.pattern, undefined));
    }
  }
  return rows;
}

/** Plain-text table of explain rows, one line per row, columns padded. */
export function formatExplainTable(rows: readonly ExplainRow[]): string {
  if (rows.length === 0) return '(no tools, resources or prompts)\n';
  const header = ['KIND', 'NAME', 'EFFECT', 'RULE', 'CONDITIONS', 'LIMIT', 'TAINT'];
  const cells = rows.map((r) => [
    r.kind,
    r.name,
    r.effect,
    r.rule ? `${r.rule.path}${r.rule.id ? ` (${r.rule.id})` : ''}` : '(default deny)',
    r.conditions.join('; ') || '-',
    r.limit ?? '-',
    r.taintClass ?? '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]) => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]!))).join('  ').trimEnd();
  return `${[line(header), ...cells.map(line)].join('\n')}\n`;
}
