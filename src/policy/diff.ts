/**
 * Capability diff between two configs (SPEC §2 `diff`), per agent: what became possible, what
 * was removed, what moved between allow/ask/deny, and whose conditions or limits changed.
 */
import type { Condition, Config, Effect } from '../config/schema.js';
import { buildRuleSet, compilePolicy, stableJson, type CompiledAgent, type CompiledLimit, type CompiledPolicy, type Kind } from './compile.js';
import { analyzeName, type NameAnalysis, type PolicyCatalog } from './explain.js';
import { formatDuration } from './limits.js';

export type Direction = 'widened' | 'narrowed' | 'changed';

export interface CapabilityChange {
  readonly kind: Kind;
  readonly name: string;
  readonly from: Effect;
  readonly to: Effect;
  /** The deciding rule in the new policy (or the old one when the capability was removed). */
  readonly rule?: string;
  /** Constraints of that rule. */
  readonly conditions: readonly string[];
}

export interface ConditionChange {
  readonly kind: Kind;
  readonly name: string;
  readonly effect: Effect;
  readonly direction: Direction;
  readonly details: readonly string[];
  readonly rule?: string;
}

export interface LimitChange {
  readonly pattern: string;
  readonly direction: Direction;
  readonly text: string;
}

export interface AgentDiff {
  readonly agent: string;
  readonly status: 'added' | 'removed' | 'changed';
  /** deny → allow/ask. */
  readonly becamePossible: readonly CapabilityChange[];
  /** allow/ask → deny. */
  readonly removed: readonly CapabilityChange[];
  /** allow ↔ ask. */
  readonly moved: readonly CapabilityChange[];
  readonly conditions: readonly ConditionChange[];
  readonly limits: readonly LimitChange[];
}

export interface PolicyDiff {
  readonly addedAgents: readonly string[];
  readonly removedAgents: readonly string[];
  /** Agents with at least one change, by name. */
  readonly agents: readonly AgentDiff[];
  /** Changes outside agents that change capabilities: taint settings, server trust. */
  readonly global: readonly string[];
  readonly hasChanges: boolean;
}

const PERMISSIVENESS: Record<Effect, number> = { deny: 0, ask: 1, allow: 2 };

function emptyAgent(name: string): CompiledAgent {
  const empty = buildRuleSet([]);
  return { name, refs: { name }, tools: empty, resources: empty, prompts: empty, limits: [] };
}

interface Subject {
  readonly kind: Kind;
  readonly name: string;
  readonly trustedReadOnly: boolean;
}

/** What to compare: the catalog's names where it has them, otherwise every rule pattern of either side. */
function subjects(oldAgent: CompiledAgent, newAgent: CompiledAgent, catalog: PolicyCatalog | undefined): Subject[] {
  const lists = [
    ['tool', 'tools', catalog?.tools.map((t) => ({ name: t.name, trustedReadOnly: t.readOnlyHint === true && t.annotationsTrusted }))],
    ['resource', 'resources', catalog?.resources?.map((name) => ({ name, trustedReadOnly: false }))],
    ['prompt', 'prompts', catalog?.prompts?.map((name) => ({ name, trustedReadOnly: false }))],
  ] as const;
  const out: Subject[] = [];
  for (const [kind, list, known] of lists) {
    if (known) {
      for (const k of known) out.push({ kind, ...k });
      continue;
    }
    const patterns = new Set([...oldAgent[list].rules, ...newAgent[list].rules].map((r) => r.pattern));
    for (const name of patterns) out.push({ kind, name, trustedReadOnly: false });
  }
  return out;
}

function combine(dirs: readonly Direction[]): Direction {
  const first = dirs[0];
  return first !== undefined && dirs.every((d) => d === first) ? first : 'changed';
}

function normalizeFolder(p: string): string {
  const trimmed = p.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}

function isAncestor(parent: string, child: string): boolean {
  const a = normalizeFolder(parent);
  const b = normalizeFolder(child);
  return a !== b && (a === '/' ? b.startsWith('/') : b.startsWith(`${a}/`));
}

function asSet(v: unknown): Set<string> {
  return new Set((Array.isArray(v) ? v : [v]).map((x) => stableJson(x)));
}

function compareSets(before: unknown, after: unknown): Direction {
  const a = asSet(before);
  const b = asSet(after);
  const aInB = [...a].every((x) => b.has(x));
  const bInA = [...b].every((x) => a.has(x));
  if (aInB && !bInA) return 'widened';
  if (bInA && !aInB) return 'narrowed';
  return 'changed';
}

/** How one operator's change affects what the condition accepts. */
function compareOperator(op: keyof Condition, before: unknown, after: unknown): Direction {
  if (before === undefined) return op === 'schemes' ? 'widened' : op === 'not' ? 'changed' : 'narrowed';
  if (after === undefined) return op === 'schemes' ? 'narrowed' : op === 'not' ? 'changed' : 'widened';
  switch (op) {
    case 'under':
      if (isAncestor(after as string, before as string)) return 'widened';
      if (isAncestor(before as string, after as string)) return 'narrowed';
      return 'changed';
    case 'in':
    case 'host':
    case 'schemes':
      return compareSets(before, after);
    case 'max':
    case 'maxLength':
      return (after as number) > (before as number) ? 'widened' : 'narrowed';
    case 'min':
      return (after as number) < (before as number) ? 'widened' : 'narrowed';
    default:
      return 'changed';
  }
}

/** Direction of a change to one `where` condition; undefined when equal. */
export function compareCondition(before: Condition, after: Condition): Direction | undefined {
  if (stableJson(before) === stableJson(after)) return undefined;
  const ops = new Set([...Object.keys(before), ...Object.keys(after)] as Array<keyof Condition>);
  const dirs: Direction[] = [];
  for (const op of ops) {
    if (stableJson(before[op]) !== stableJson(after[op])) dirs.push(compareOperator(op, before[op], after[op]));
  }
  return combine(dirs);
}

interface Detail {
  readonly direction: Direction;
  readonly text: string;
}

function compareRules(before: NameAnalysis, after: NameAnalysis): Detail[] {
  const details: Detail[] = [];
  const o = before.rule;
  const n = after.rule;
  if (o && n) {
    const oWhere = new Map(o.where.map((c) => [c.key, c]));
    const nWhere = new Map(n.where.map((c) => [c.key, c]));
    for (const [key, c] of oWhere) {
      const m = nWhere.get(key);
      if (!m) details.push({ direction: 'widened', text: `condition removed: ${c.description}` });
      else {
        const direction = compareCondition(c.source, m.source);
        if (direction) details.push({ direction, text: `${c.description} → ${m.description}` });
      }
    }
    for (const [key, c] of nWhere) if (!oWhere.has(key)) details.push({ direction: 'narrowed', text: `condition added: ${c.description}` });
  }
  const oStricter = new Set(before.stricter.map((s) => s.text));
  const nStricter = new Set(after.stricter.map((s) => s.text));
  for (const t of oStricter) if (!nStricter.has(t)) details.push({ direction: 'widened', text: `no longer: ${t}` });
  for (const t of nStricter) if (!oStricter.has(t)) details.push({ direction: 'narrowed', text: `now: ${t}` });
  return details;
}

function limitText(l: CompiledLimit): string {
  return `${l.max} per ${formatDuration(l.windowMs)}`;
}

function diffLimits(before: readonly CompiledLimit[], after: readonly CompiledLimit[]): LimitChange[] {
  const byPattern = (ls: readonly CompiledLimit[]) => {
    const m = new Map<string, CompiledLimit>();
    for (const l of ls) if (!m.has(l.pattern)) m.set(l.pattern, l);
    return m;
  };
  const o = byPattern(before);
  const n = byPattern(after);
  const out: LimitChange[] = [];
  for (const [pattern, l] of o) {
    const m = n.get(pattern);
    if (!m) out.push({ pattern, direction: 'widened', text: `limit removed on ${pattern} (was ${limitText(l)})` });
    else if (m.max !== l.max || m.windowMs !== l.windowMs) {
      const rateBefore = l.max / l.windowMs;
      const rateAfter = m.max / m.windowMs;
      const direction: Direction = rateAfter > rateBefore ? 'widened' : rateAfter < rateBefore ? 'narrowed' : 'changed';
      out.push({ pattern, direction, text: `limit on ${pattern}: ${limitText(l)} → ${limitText(m)}` });
    }
  }
  for (const [pattern, m] of n) if (!o.has(pattern)) out.push({ pattern, direction: 'narrowed', text: `limit added on ${pattern}: ${limitText(m)}` });
  return out;
}

type Outcome =
  | { readonly list: 'becamePossible' | 'removed' | 'moved'; readonly change: CapabilityChange }
  | { readonly list: 'conditions'; readonly change: ConditionChange };

/** How one name's best-case decision changed; `note` marks the read-only variant of a pattern. */
function compareSubject(o: CompiledAgent, n: CompiledAgent, s: Subject, note?: string): Outcome | undefined {
  const before = analyzeName(o, s.kind, s.name, s.trustedReadOnly);
  const after = analyzeName(n, s.kind, s.name, s.trustedReadOnly);
  const notes = note ? [note] : [];
  if (before.effect === after.effect) {
    if (after.effect === 'deny') return undefined;
    const details = compareRules(before, after);
    if (details.length === 0) return undefined;
    return {
      list: 'conditions',
      change: {
        kind: s.kind,
        name: s.name,
        effect: after.effect,
        direction: combine(details.map((d) => d.direction)),
        details: [...notes, ...details.map((d) => d.text)],
        ...(after.rule ? { rule: after.rule.path } : {}),
      },
    };
  }
  const shown = after.effect === 'deny' ? before : after;
  const list = before.effect === 'deny' ? 'becamePossible' : after.effect === 'deny' ? 'removed' : 'moved';
  return {
    list,
    change: {
      kind: s.kind,
      name: s.name,
      from: before.effect,
      to: after.effect,
      ...(shown.rule ? { rule: shown.rule.path } : {}),
      conditions: [...notes, ...shown.constraints],
    },
  };
}

function diffAgent(name: string, oldPolicy: CompiledPolicy, newPolicy: CompiledPolicy, catalog: PolicyCatalog | undefined): AgentDiff {
  const oldAgent = oldPolicy.agents.get(name);
  const newAgent = newPolicy.agents.get(name);
  const o = oldAgent ?? emptyAgent(name);
  const n = newAgent ?? emptyAgent(name);
  const lists = { becamePossible: [] as CapabilityChange[], removed: [] as CapabilityChange[], moved: [] as CapabilityChange[], conditions: [] as ConditionChange[] };
  for (const s of subjects(o, n, catalog)) {
    let outcome = compareSubject(o, n, s);
    // A pattern names no real tool: judge it as a write tool, then, if that shows no change,
    // as a tool with trusted read-only annotations (so `readOnly: true` rules show up).
    if (!outcome && !catalog && s.kind === 'tool') outcome = compareSubject(o, n, { ...s, trustedReadOnly: true }, 'read-only tools only');
    if (!outcome) continue;
    if (outcome.list === 'conditions') lists.conditions.push(outcome.change);
    else lists[outcome.list].push(outcome.change);
  }
  return {
    agent: name,
    status: !oldAgent ? 'added' : !newAgent ? 'removed' : 'changed',
    ...lists,
    limits: diffLimits(o.limits, n.limits),
  };
}

function diffGlobal(oldCfg: Config, newCfg: Config): string[] {
  const out: string[] = [];
  for (const key of ['onTaintedSink', 'onCriticalTainted', 'onSuspicious'] as const) {
    const a = oldCfg.taint[key];
    const b = newCfg.taint[key];
    if (a !== b) out.push(`taint.${key}: ${a} → ${b} (${PERMISSIVENESS[b] > PERMISSIVENESS[a] ? 'widened' : 'narrowed'})`);
  }
  if (stableJson(oldCfg.taint.sinks) !== stableJson(newCfg.taint.sinks)) out.push('taint.sinks changed');
  if (stableJson(oldCfg.taint.classes) !== stableJson(newCfg.taint.classes)) out.push('taint.classes changed');
  for (const [key, server] of Object.entries(newCfg.servers)) {
    const before = Object.hasOwn(oldCfg.servers, key) ? oldCfg.servers[key] : undefined;
    if (!before) {
      out.push(`server ${key} added (trust: ${server.trust})`);
      continue;
    }
    if (before.trust !== server.trust) {
      out.push(`servers.${key}.trust: ${before.trust} → ${server.trust} (${server.trust === 'internal' ? 'widened: results no longer tainted' : 'narrowed'})`);
    }
    if (before.annotations !== server.annotations) {
      out.push(`servers.${key}.annotations: ${before.annotations} → ${server.annotations} (${server.annotations === 'trusted' ? 'widened: readOnly rules now see its hints' : 'narrowed'})`);
    }
  }
  for (const key of Object.keys(oldCfg.servers)) if (!Object.hasOwn(newCfg.servers, key)) out.push(`server ${key} removed`);
  return out;
}

function agentHasChanges(a: AgentDiff): boolean {
  return a.status !== 'changed' || a.becamePossible.length + a.removed.length + a.moved.length + a.conditions.length + a.limits.length > 0;
}

/**
 * Compares two validated configs. With a catalog, concrete tool/resource/prompt decisions are
 * compared; without, rule patterns are. Throws PolicyCompileError if either policy is invalid.
 */
export function diffPolicies(oldCfg: Config, newCfg: Config, catalog?: PolicyCatalog): PolicyDiff {
  const oldPolicy = compilePolicy(oldCfg, { version: 'old' });
  const newPolicy = compilePolicy(newCfg, { version: 'new' });
  const names = [...new Set([...oldPolicy.agents.keys(), ...newPolicy.agents.keys()])].sort();
  const agents = names.map((n) => diffAgent(n, oldPolicy, newPolicy, catalog)).filter(agentHasChanges);
  const global = diffGlobal(oldCfg, newCfg);
  return {
    addedAgents: names.filter((n) => !oldPolicy.agents.has(n)),
    removedAgents: names.filter((n) => !newPolicy.agents.has(n)),
    agents,
    global,
    hasChanges: agents.length > 0 || global.length > 0,
  };
}

function capabilityLine(c: CapabilityChange): string {
  const where = c.conditions.length > 0 ? `, when ${c.conditions.join(' and ')}` : '';
  const rule = c.rule ? ` (${c.rule}${where})` : where ? ` (${where.slice(2)})` : '';
  return `- ${c.kind} \`${c.name}\`: ${c.from} → ${c.to}${rule}`;
}

/** Markdown for a pull request: one section per agent, one bullet per change. */
export function formatDiff(diff: PolicyDiff): string {
  if (!diff.hasChanges) return 'No capability changes.\n';
  const out: string[] = ['## Policy capability diff', ''];
  if (diff.global.length > 0) {
    out.push('### Global', '', ...diff.global.map((g) => `- ${g}`), '');
  }
  for (const a of diff.agents) {
    const status = a.status === 'added' ? ' (new agent)' : a.status === 'removed' ? ' (agent removed)' : '';
    out.push(`### Agent \`${a.agent}\`${status}`, '');
    const section = (title: string, lines: readonly string[]) => {
      if (lines.length > 0) out.push(`**${title}**`, '', ...lines, '');
    };
    section('Became possible', a.becamePossible.map(capabilityLine));
    section('Removed', a.removed.map(capabilityLine));
    section('Moved between allow / ask / deny', a.moved.map(capabilityLine));
    section(
      'Conditions changed',
      a.conditions.map((c) => `- ${c.kind} \`${c.name}\` (${c.effect}${c.rule ? `, ${c.rule}` : ''}): **${c.direction}**: ${c.details.join('; ')}`),
    );
    section('Limits changed', a.limits.map((l) => `- **${l.direction}**: ${l.text}`));
  }
  return `${out.join('\n').trimEnd()}\n`;
}
