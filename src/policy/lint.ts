/**
 * Policy lint (SPEC §3): the checks that need no network, plus the catalog-based ones that
 * `check --live` enables. Every issue carries its YAML path and a suggested fix.
 */
import type { Config, Effect } from '../config/schema.js';
import {
  compilePolicyLeniently,
  literalPrefix,
  ruleSetOf,
  stableJson,
  type CompiledAgent,
  type CompiledPolicy,
  type CompiledRule,
  type Kind,
} from './compile.js';
import { usesClaims } from './conditions.js';
import { analyzeName, type CatalogTool, type PolicyCatalog } from './explain.js';
import { isLiteralGlob } from './glob.js';

export interface LintIssue {
  readonly level: 'error' | 'warning';
  /** YAML path, e.g. `agents.default.rules[2].where.path`. */
  readonly path: string;
  readonly message: string;
  /** What to do about it. */
  readonly hint: string;
}

const RANK: Record<Effect, number> = { allow: 1, ask: 2, deny: 3 };
const KINDS = ['tool', 'resource', 'prompt'] as const;
const MAX_LISTED = 10;

function listNames(names: readonly string[]): string {
  const shown = names.slice(0, MAX_LISTED).join(', ');
  return names.length > MAX_LISTED ? `${shown}, … (${names.length - MAX_LISTED} more)` : shown;
}

function shortPath(rule: CompiledRule): string {
  return rule.path.slice(rule.path.indexOf('.', 'agents.'.length) + 1);
}

function isTrustedReadOnly(t: CatalogTool): boolean {
  return t.readOnlyHint === true && t.annotationsTrusted;
}

function isSink(policy: CompiledPolicy, t: CatalogTool): boolean {
  return policy.taint.sinks ? policy.taint.sinks.some((m) => m(t.name)) : !isTrustedReadOnly(t);
}

function whereJson(rule: CompiledRule): string {
  return stableJson(Object.fromEntries(rule.where.map((c) => [c.key, c.source])));
}

/**
 * Whether `general` matches every name `specific` matches. A heuristic that errs towards "no":
 * `general` must match the specific pattern read literally and a few expansions of its wildcards.
 */
function patternCovers(general: CompiledRule, specific: CompiledRule): boolean {
  if (general.pattern === specific.pattern) return true;
  if (specific.pattern.includes('{') || !general.match(specific.pattern)) return false;
  return ['', 'zq', 'zq_zq'].every((fill) =>
    general.match(specific.pattern.replace(/\*\*|\*|\?/g, (t) => (t === '**' ? `${fill}/${fill}` : t === '*' ? fill : 'z'))),
  );
}

/** Whether `outer` matches whenever `inner` does, conditions included. */
function ruleCovers(outer: CompiledRule, inner: CompiledRule): boolean {
  if (outer.readOnly && !inner.readOnly) return false;
  if (outer.where.length > 0 && whereJson(outer) !== whereJson(inner)) return false;
  return patternCovers(outer, inner);
}

function lintShadowed(agent: CompiledAgent, kind: Kind, out: LintIssue[]): void {
  const rules = ruleSetOf(agent, kind).rules;
  for (const later of rules) {
    let stricter: CompiledRule | undefined;
    let earlier: CompiledRule | undefined;
    for (const other of rules) {
      if (other === later || !ruleCovers(other, later)) continue;
      if (RANK[other.effect] > RANK[later.effect]) stricter ??= other;
      else if (other.effect === later.effect && other.index < later.index) earlier ??= other;
    }
    if (stricter) {
      out.push({
        level: 'warning',
        path: later.path,
        message: `${later.effect} ${JSON.stringify(later.pattern)} never takes effect: ${stricter.path} (${stricter.effect} ${JSON.stringify(stricter.pattern)}) matches whenever it does, and ${stricter.effect} wins over ${later.effect}`,
        hint: `remove ${shortPath(later)}, or narrow ${shortPath(stricter)} so it no longer covers it`,
      });
    } else if (earlier) {
      const duplicate = earlier.pattern === later.pattern && earlier.readOnly === later.readOnly && whereJson(earlier) === whereJson(later);
      out.push({
        level: 'warning',
        path: later.path,
        message: duplicate
          ? `duplicate of ${earlier.path} (${earlier.effect} ${JSON.stringify(earlier.pattern)})`
          : `redundant: ${earlier.path} (${earlier.effect} ${JSON.stringify(earlier.pattern)}) already matches everything it matches, so it is never the deciding rule`,
        hint: `remove ${shortPath(later)}${later.reason || later.undo ? `, moving its reason/undo to ${shortPath(earlier)}` : ''}`,
      });
    }
  }
}

function lintBroadAllows(agent: CompiledAgent, catalog: PolicyCatalog | undefined, out: LintIssue[]): void {
  if (catalog) {
    const writes: string[] = [];
    const deciding = new Set<string>();
    for (const t of catalog.tools) {
      if (isTrustedReadOnly(t)) continue;
      const a = analyzeName(agent, 'tool', t.name, false);
      if (a.effect !== 'allow') continue;
      writes.push(t.name);
      if (a.rule) deciding.add(shortPath(a.rule));
    }
    if (writes.length > 0) {
      out.push({
        level: 'warning',
        path: `agents.${agent.name}.rules`,
        message: `agent ${agent.name} may call ${writes.length} write tool${writes.length === 1 ? '' : 's'} without asking: ${listNames(writes)}`,
        hint: `use ask: for tools that change things, or add readOnly: true to broad allow rules (deciding rules: ${[...deciding].join(', ')})`,
      });
    }
    return;
  }
  for (const rule of agent.tools.rules) {
    if (rule.effect !== 'allow' || !rule.pattern.includes('*') || rule.readOnly || rule.where.length > 0) continue;
    out.push({
      level: 'warning',
      path: `${rule.path}.allow`,
      message: `allow ${JSON.stringify(rule.pattern)} lets agent ${agent.name} call every matching tool without asking, including tools that write`,
      hint: 'add readOnly: true, name the tools one by one, or use ask: for the ones that change things',
    });
  }
}

function lintTrifecta(config: Config, policy: CompiledPolicy, agent: CompiledAgent, catalog: PolicyCatalog | undefined, out: LintIssue[]): void {
  const external = [...policy.servers.values()].filter((s) => s.external);
  if (external.length === 0) return;
  // Sinks the agent may call with no ask: [name, deciding rule].
  const sinks: Array<[string, CompiledRule]> = [];
  if (catalog) {
    for (const t of catalog.tools) {
      if (!isSink(policy, t)) continue;
      const a = analyzeName(agent, 'tool', t.name, isTrustedReadOnly(t));
      if (a.effect === 'allow' && a.rule) sinks.push([t.name, a.rule]);
    }
  } else {
    for (const rule of agent.tools.rules) {
      if (rule.effect !== 'allow' || rule.readOnly) continue;
      if (policy.taint.sinks && !policy.taint.sinks.some((m) => m(rule.pattern) || rule.match(m.source))) continue;
      if (analyzeName(agent, 'tool', rule.pattern, false).effect === 'allow') sinks.push([rule.pattern, rule]);
    }
  }
  const first = sinks[0];
  if (!first) return;
  const escalation = config.taint.onTaintedSink === 'allow'
    ? 'and taint.onTaintedSink is allow, so nothing stands between injected content and those sinks'
    : `only session taint escalation (taint.onTaintedSink: ${config.taint.onTaintedSink}) stands between injected content and those sinks`;
  for (const server of external) {
    const sourcePrefix = `${server.prefix}__`;
    let sources: string[];
    if (catalog) {
      sources = catalog.tools
        .filter((t) => t.name.startsWith(sourcePrefix) && analyzeName(agent, 'tool', t.name, isTrustedReadOnly(t)).effect !== 'deny')
        .map((t) => t.name);
    } else {
      sources = agent.tools.rules
        .filter((r) => r.effect !== 'deny' && (literalPrefix(r.pattern).startsWith(sourcePrefix) || sourcePrefix.startsWith(literalPrefix(r.pattern))))
        .map((r) => r.pattern);
    }
    if (sources.length === 0) continue;
    out.push({
      level: 'warning',
      path: first[1].path,
      message:
        `lethal trifecta: agent ${agent.name} reads content from external server ${server.key} (${listNames(sources)}) and may call sinks without asking ` +
        `(${listNames(sinks.map(([name, rule]) => `${name} via ${shortPath(rule)}`))}); ${escalation}`,
      hint: `make those sink rules ask:, restrict them with readOnly: true or where:, or stop allowing ${server.key}'s tools for agent ${agent.name}`,
    });
  }
}

function lintUnmatched(agent: CompiledAgent, catalog: PolicyCatalog, out: LintIssue[]): void {
  const hint = 'check the spelling against `portcullis explain --live`; exposed names are <prefix>__<tool>';
  // A glob deny matching nothing is a normal safeguard; a literal one is probably a typo.
  const checked = (rule: CompiledRule) => rule.effect !== 'deny' || isLiteralGlob(rule.pattern);
  for (const rule of agent.tools.rules) {
    if (!checked(rule)) continue;
    const matched = catalog.tools.filter((t) => rule.match(t.name));
    if (matched.length === 0) {
      out.push({ level: 'warning', path: `${rule.path}.${rule.effect}`, message: `${JSON.stringify(rule.pattern)} matches no tool the upstreams expose`, hint });
    } else if (rule.readOnly && !matched.some(isTrustedReadOnly)) {
      out.push({
        level: 'warning',
        path: `${rule.path}.readOnly`,
        message: `${JSON.stringify(rule.pattern)} matches ${matched.length} tool(s) but none with trusted read-only annotations, so the rule never applies`,
        hint: 'set annotations: trusted on the server if you trust its hints, or drop readOnly: true and name the tools',
      });
    }
  }
  const lists: Array<[Kind, readonly string[] | undefined]> = [['resource', catalog.resources], ['prompt', catalog.prompts]];
  for (const [kind, names] of lists) {
    if (!names) continue;
    for (const rule of ruleSetOf(agent, kind).rules) {
      if (checked(rule) && !names.some((n) => rule.match(n))) {
        out.push({ level: 'warning', path: `${rule.path}.${rule.effect}`, message: `${JSON.stringify(rule.pattern)} matches no ${kind} the upstreams expose`, hint });
      }
    }
  }
  for (const limit of agent.limits) {
    if (!catalog.tools.some((t) => limit.match(t.name))) {
      out.push({ level: 'warning', path: `${limit.path}.match`, message: `${JSON.stringify(limit.pattern)} matches no tool the upstreams expose`, hint });
    }
  }
}

/** The top-level argument a `where` key reads: `path`, or `options` for `/options/path`. */
function topLevelArgument(key: string): string {
  if (!key.startsWith('/')) return key;
  return (key.slice(1).split('/')[0] ?? '').replace(/~1/g, '/').replace(/~0/g, '~');
}

function lintWhereKeys(agent: CompiledAgent, catalog: PolicyCatalog, out: LintIssue[]): void {
  for (const rule of agent.tools.rules) {
    if (rule.where.length === 0) continue;
    const known = catalog.tools.filter((t) => rule.match(t.name) && t.inputProperties && (!rule.readOnly || isTrustedReadOnly(t)));
    if (known.length === 0) continue;
    for (const cond of rule.where) {
      const arg = topLevelArgument(cond.key);
      if (known.some((t) => t.inputProperties!.includes(arg))) continue;
      const props = [...new Set(known.flatMap((t) => t.inputProperties ?? []))];
      out.push({
        level: 'error',
        path: cond.path,
        message: known.length === 1
          ? `tool ${known[0]!.name} has no argument ${JSON.stringify(arg)}, so this condition never holds`
          : `none of the ${known.length} tools matching ${JSON.stringify(rule.pattern)} has an argument ${JSON.stringify(arg)}, so this condition never holds`,
        hint: props.length > 0 ? `use one of the tool's arguments: ${listNames(props)}` : 'the tool takes no arguments; remove the condition',
      });
    }
  }
}

function templateRefs(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') {
    for (const m of value.matchAll(/\{\{\s*([^{}]*?)\s*\}\}/g)) out.push(m[1]!);
  } else if (Array.isArray(value)) {
    for (const v of value) templateRefs(v, out);
  } else if (value && typeof value === 'object') {
    for (const v of Object.values(value)) templateRefs(v, out);
  }
  return out;
}

function lintUndo(agent: CompiledAgent, catalog: PolicyCatalog | undefined, out: LintIssue[]): void {
  for (const rule of agent.tools.rules) {
    if (!rule.undo) continue;
    const path = `${rule.path}.undo`;
    if (rule.effect === 'deny') {
      out.push({ level: 'warning', path, message: 'undo on a deny rule is never used: denied calls do not run', hint: 'remove the undo block' });
    }
    const known = catalog?.tools.filter((t) => rule.match(t.name) && t.inputProperties) ?? [];
    for (const ref of templateRefs(rule.undo.args)) {
      const m = /^args\.([^.[\]]+)/.exec(ref);
      if (m) {
        const arg = m[1]!;
        if (known.length > 0 && !known.some((t) => t.inputProperties!.includes(arg))) {
          out.push({
            level: 'error',
            path: `${path}.args`,
            message: `undo template {{${ref}}} refers to argument ${JSON.stringify(arg)}, which ${rule.pattern} does not take`,
            hint: `use one of: ${listNames([...new Set(known.flatMap((t) => t.inputProperties ?? []))])}`,
          });
        }
      } else if (!/^result\.(text$|structured(\.|$))/.test(ref)) {
        out.push({
          level: 'error',
          path: `${path}.args`,
          message: `undo template {{${ref}}} refers to neither args.* nor result.text / result.structured.*`,
          hint: 'write {{args.NAME}} for the call\'s arguments, {{result.structured.FIELD}} or {{result.text}} for its result',
        });
      }
    }
    if (!catalog) continue;
    const undoTool = catalog.tools.find((t) => t.name === rule.undo!.tool);
    if (!undoTool) {
      out.push({ level: 'error', path: `${path}.tool`, message: `undo tool ${rule.undo.tool} is not exposed by any upstream`, hint: 'name an exposed tool (<prefix>__<tool>)' });
    } else if (undoTool.inputProperties) {
      for (const key of Object.keys(rule.undo.args)) {
        if (undoTool.inputProperties.includes(key)) continue;
        out.push({
          level: 'error',
          path: `${path}.args.${key}`,
          message: `undo tool ${undoTool.name} has no argument ${JSON.stringify(key)}`,
          hint: `use one of: ${listNames(undoTool.inputProperties)}`,
        });
      }
    }
  }
}

function lintClaims(config: Config, agent: CompiledAgent, out: LintIssue[]): void {
  if (config.gateway.auth.mode !== 'none') return;
  for (const rule of agent.tools.rules) {
    for (const cond of rule.where) {
      if (!usesClaims(cond.source)) continue;
      out.push({
        level: 'error',
        path: cond.path,
        message: '${claims.…} is used but gateway.auth.mode is none, so there are no claims and the rule never matches',
        hint: 'set gateway.auth.mode: jwt, or replace the claim reference with a literal value',
      });
    }
  }
}

function lintTaint(config: Config, out: LintIssue[]): void {
  for (const key of ['onTaintedSink', 'onCriticalTainted', 'onSuspicious'] as const) {
    if (config.taint[key] !== 'allow') continue;
    out.push({
      level: 'warning',
      path: `taint.${key}`,
      message: `taint.${key}: allow lets content from outside steer write tools with no human in the loop`,
      hint: `set taint.${key}: ask (or deny)`,
    });
  }
}

export interface LintOptions {
  /** The config's policy, already compiled (strictly): saves compiling it again. */
  readonly compiled?: CompiledPolicy;
  /**
   * Only the checks that can find errors, each linear in the rules: what a load or reload runs.
   * The warnings' analyses (shadowing compares every pair of an agent's rules) are for `check`.
   */
  readonly errorsOnly?: boolean;
}

/**
 * Lints a validated config. Without a catalog, only what the file itself shows; with one (from
 * `--live`), also rules matching nothing, `where` keys the tool lacks, and undo arguments.
 * Compile problems (bad globs, regexes, conditions) come first, as errors.
 */
export function lintPolicy(config: Config, catalog?: PolicyCatalog, options: LintOptions = {}): LintIssue[] {
  const { policy, issues: compileIssues } = options.compiled ? { policy: options.compiled, issues: [] } : compilePolicyLeniently(config, { version: 'lint' });
  const out: LintIssue[] = compileIssues.map((i) => ({ level: 'error', path: i.path, message: i.message, hint: 'fix the pattern or condition; see SPEC §4 for the syntax' }));
  for (const agent of policy.agents.values()) {
    if (!options.errorsOnly) {
      for (const kind of KINDS) lintShadowed(agent, kind, out);
      lintBroadAllows(agent, catalog, out);
      lintTrifecta(config, policy, agent, catalog, out);
    }
    lintClaims(config, agent, out);
    lintUndo(agent, catalog, out);
    if (catalog) {
      lintUnmatched(agent, catalog, out);
      lintWhereKeys(agent, catalog, out);
    }
  }
  if (!options.errorsOnly) lintTaint(config, out);
  return [...out.filter((i) => i.level === 'error'), ...out.filter((i) => i.level === 'warning')];
}
