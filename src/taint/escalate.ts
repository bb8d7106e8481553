/**
 * Session taint escalation (SPEC §5.4, §5.5): after the policy decided, the taint layer may only
 * make a call stricter (allow < ask < deny), never looser.
 */
import type { Effect, TaintConfig } from '../config/schema.js';
import { compileGlob } from '../policy/glob.js';
import type { TaintLabel } from './label.js';
import type { ProvenanceHit } from './provenance.js';

export interface TaintSource {
  source: string;
  callId: string;
}

/** Per-session taint state. Taint never decays within a session. */
export interface SessionTaint {
  tainted: boolean;
  suspicious: boolean;
  /** Where the taint came from, most recent last, at most MAX_TAINT_SOURCES. */
  sources: TaintSource[];
}

export const MAX_TAINT_SOURCES = 32;

/** The state of a session that has seen no tainted content. */
export const CLEAN_SESSION: Readonly<SessionTaint> = Object.freeze({ tainted: false, suspicious: false, sources: [] as TaintSource[] });

/** The session after it received content labelled `label` (a new object; the old one is untouched). */
export function recordTaint(session: SessionTaint, label: TaintLabel): SessionTaint {
  const sources = session.sources.filter((s) => !(s.source === label.source && s.callId === label.callId));
  sources.push({ source: label.source, callId: label.callId });
  return {
    tainted: true,
    suspicious: session.suspicious || label.level === 'suspicious',
    sources: sources.slice(-MAX_TAINT_SOURCES),
  };
}

export interface CompiledTaint {
  /** `default` (every tool that is not trusted readOnly), or the explicit sink globs. */
  readonly sinks: 'default' | ((name: string) => boolean);
  readonly isCritical: (name: string) => boolean;
  readonly onTaintedSink: Effect;
  readonly onCriticalTainted: Effect;
  readonly onSuspicious: Effect;
  readonly minCopiedChars: number;
  readonly wrap: 'none' | 'tag';
}

function anyOf(patterns: readonly string[]): (name: string) => boolean {
  const matchers = patterns.map((p) => compileGlob(p));
  return (name) => matchers.some((m) => m(name));
}

/** Compiles the `taint:` config once (globs included). Throws GlobError on a malformed pattern. */
export function compileTaint(cfg: TaintConfig): CompiledTaint {
  return Object.freeze({
    sinks: cfg.sinks === 'default' ? 'default' : anyOf(cfg.sinks),
    isCritical: anyOf(cfg.classes.critical),
    onTaintedSink: cfg.onTaintedSink,
    onCriticalTainted: cfg.onCriticalTainted,
    onSuspicious: cfg.onSuspicious,
    minCopiedChars: cfg.provenance.minCopiedChars,
    wrap: cfg.wrap,
  });
}

export interface SinkTool {
  /** Exposed name (`server__tool`). */
  name: string;
  readOnlyHint?: boolean;
  /** The server's `annotations: trusted`. */
  annotationsTrusted: boolean;
}

/** Whether a call to `tool` can carry tainted data out or change something. */
export function isSink(tool: SinkTool, taint: CompiledTaint): boolean {
  if (taint.sinks === 'default') return !(tool.readOnlyHint === true && tool.annotationsTrusted);
  return taint.sinks(tool.name);
}

export type EscalationCause = 'taint' | 'critical' | 'suspicious' | 'provenance' | 'hidden-args';

export interface DecisionLike {
  effect: Effect;
  reasons: readonly string[];
  rule?: unknown;
}

export interface EscalationInput {
  tool: SinkTool;
  session: SessionTaint;
  provenance: readonly ProvenanceHit[];
  /** Hidden characters counted in the call's arguments (`stripHiddenDeep(args).removed`). */
  argsHidden: number;
}

export type EscalatedDecision<D extends DecisionLike> = Omit<D, 'effect' | 'reasons'> & {
  effect: Effect;
  reasons: string[];
  escalatedBy?: EscalationCause;
};

const RANK: Readonly<Record<Effect, number>> = { allow: 0, ask: 1, deny: 2 };
const MAX_PROVENANCE_REASONS = 10;

function describeSources(sources: readonly TaintSource[]): string {
  if (sources.length === 0) return 'external content';
  const recent = sources.slice(-3).reverse().map((s) => `${s.source} (call ${s.callId})`);
  const more = sources.length - recent.length;
  return `external content from ${recent.join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
}

/** The reason line for one provenance hit, e.g. `argument "to" contains email a@b.c from web__fetch (call c-12)`. */
export function describeProvenanceHit(hit: ProvenanceHit): string {
  const from = `from ${hit.origin.source} (call ${hit.origin.callId})`;
  if (hit.kind === 'text') return `argument "${hit.argPath}" contains ${hit.copiedChars ?? hit.value.length} characters of text copied ${from}: "${hit.value}"`;
  return `argument "${hit.argPath}" contains ${hit.kind} ${hit.value} ${from}`;
}

/**
 * Applies session taint to a policy decision. Each condition that holds adds its reason; the
 * effect becomes the strictest of the decision and every condition's floor:
 * - hidden characters in the arguments: deny, for every tool;
 * - otherwise nothing changes for a tool that is not a sink;
 * - suspicious session: at least onSuspicious;
 * - critical sink in a tainted session: at least onCriticalTainted;
 * - provenance hits: at least ask;
 * - any sink in a tainted session: at least onTaintedSink.
 * `escalatedBy` names the condition that set the final effect, when it is stricter than the
 * decision's (on a tie, the first in the order above).
 */
export function escalate<D extends DecisionLike>(decision: D, input: EscalationInput, taint: CompiledTaint): EscalatedDecision<D> {
  const floors: Array<{ cause: EscalationCause; effect: Effect; reason: string[] }> = [];
  const { tool, session } = input;

  if (input.argsHidden > 0) {
    const n = input.argsHidden;
    floors.push({ cause: 'hidden-args', effect: 'deny', reason: [`arguments contain ${n} hidden character${n === 1 ? '' : 's'} (invisible Unicode or terminal control sequences)`] });
  }
  if (isSink(tool, taint)) {
    const seen = describeSources(session.sources);
    if (session.suspicious) {
      floors.push({ cause: 'suspicious', effect: taint.onSuspicious, reason: [`session is suspicious: hidden characters or injection markers were seen in ${seen}`] });
    }
    if (session.tainted && taint.isCritical(tool.name)) {
      floors.push({ cause: 'critical', effect: taint.onCriticalTainted, reason: [`${tool.name} is a critical sink and the session has seen ${seen}`] });
    }
    if (input.provenance.length > 0) {
      const lines = input.provenance.slice(0, MAX_PROVENANCE_REASONS).map(describeProvenanceHit);
      const more = input.provenance.length - lines.length;
      if (more > 0) lines.push(`and ${more} more argument value${more === 1 ? '' : 's'} from external content`);
      floors.push({ cause: 'provenance', effect: 'ask', reason: lines });
    }
    if (session.tainted) {
      // A critical sink is still a sink: both floors apply, the critical reason says it all.
      const reason = taint.isCritical(tool.name) ? [] : [`${tool.name} is a sink and the session has seen ${seen}`];
      floors.push({ cause: 'taint', effect: taint.onTaintedSink, reason });
    }
  }
  if (floors.length === 0) return { ...decision, reasons: [...decision.reasons] };

  let effect = decision.effect;
  let escalatedBy: EscalationCause | undefined;
  for (const floor of floors) {
    if (RANK[floor.effect] > RANK[effect]) {
      effect = floor.effect;
      escalatedBy = floor.cause;
    }
  }
  const reasons = [...decision.reasons, ...floors.flatMap((f) => f.reason)];
  const out: EscalatedDecision<D> = { ...decision, effect, reasons };
  if (escalatedBy) out.escalatedBy = escalatedBy;
  return out;
}
