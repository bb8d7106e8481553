/**
 * What clients get back, shaped: denials and refusals with their reasons, an upstream's
 * input_required round relayed, the size cap, and the small facts the pipeline reads off a
 * route or a session. Plain functions; the pipeline decides when each applies.
 */
import { inputRequired, type CallToolResult, type InputRequests, type InputRequiredResult, type StandardSchemaV1 } from '@modelcontextprotocol/server';
import type { ProtocolError } from '@modelcontextprotocol/client';
import { formatDenial, type Decision, type ToolFacts } from '../policy/index.js';
import type { Session } from './session.js';
import type { ToolRoute } from './upstream/registry.js';
import type { ClientRequestMethod } from './upstream/connection.js';

/**
 * The result schema of a forwarded call: accepts what the upstream sent. The front server
 * validates what it sends the client, so validating on the way in as well only doubles the
 * cost of every call.
 */
export const RELAYED: StandardSchemaV1<unknown, unknown> = {
  '~standard': { version: 1, vendor: 'portcullis', validate: (value) => ({ value }) },
};

/**
 * What the client is told about a call that may not run: the policy's rule and reason, or, when
 * taint escalated an allowed call, the taint reasons (which name the content's source).
 */
export function explainRefusal(decision: Decision & { escalatedBy?: string }, policyReasonCount: number): string {
  const added = decision.reasons.slice(policyReasonCount);
  if (!decision.escalatedBy || added.length === 0) return formatDenial({ ...decision, effect: 'deny' });
  const rule = decision.rule ? ` Policy rule ${decision.rule.path} alone would allow this call.` : '';
  return `Denied by taint policy: ${added.join('; ')}.${rule}`;
}

export function denial(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

export function toolFacts(route: ToolRoute): ToolFacts {
  const trusted = route.upstream.config.annotations === 'trusted';
  const annotations = route.tool.annotations;
  return {
    annotationsTrusted: trusted,
    ...(annotations?.readOnlyHint === undefined ? {} : { readOnlyHint: annotations.readOnlyHint }),
    ...(annotations?.destructiveHint === undefined ? {} : { destructiveHint: annotations.destructiveHint }),
  };
}

export function supports(session: Session, method: ClientRequestMethod): boolean {
  const caps = session.clientCapabilities;
  if (!caps) return false;
  if (method === 'sampling/createMessage') return Boolean(caps.sampling);
  if (method === 'elicitation/create') return Boolean(caps.elicitation);
  return Boolean(caps.roots);
}

export function isInputRequired(result: unknown): result is InputRequiredResult {
  return typeof result === 'object' && result !== null && (result as { resultType?: unknown }).resultType === 'input_required';
}

/** Hands an upstream's input_required round to our client (the SDK serves it to either era). */
export function relayInputRequired(result: InputRequiredResult): InputRequiredResult {
  const spec: { inputRequests?: InputRequests; requestState?: string } = {};
  if (result.inputRequests) spec.inputRequests = result.inputRequests;
  if (result.requestState !== undefined) spec.requestState = result.requestState;
  return inputRequired(spec as Parameters<typeof inputRequired>[0]);
}

export function stripProgressToken(meta: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!meta) return undefined;
  const { progressToken: _ignored, ...rest } = meta;
  return Object.keys(rest).length > 0 ? rest : undefined;
}

export function isProtocolError(error: unknown): error is ProtocolError {
  return typeof error === 'object' && error !== null && (error as { name?: string }).name === 'ProtocolError' && typeof (error as { code?: unknown }).code === 'number';
}

/**
 * An upper bound of the UTF-8 size of `value` as JSON, found without serialising it: every
 * character of a string counted at its worst (a 6-byte `\uXXXX` escape). Gives Infinity once
 * past `limit`, too deep, or for anything but plain data; a caller then measures exactly.
 */
export function jsonSizeBound(value: unknown, limit: number, depth = 0): number {
  if (typeof value === 'string') return 6 * value.length + 2;
  // Numbers print in at most 25 characters (-0.0000012345678901234567); 32 leaves room.
  if (typeof value !== 'object' || value === null) return 32;
  // Only plain data is bounded; anything else (a toJSON, a class) is measured by serialising it.
  if (depth > 32 || (!Array.isArray(value) && Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null)) return Infinity;
  let size = 2;
  if (Array.isArray(value)) {
    for (const item of value) if ((size += jsonSizeBound(item, limit, depth + 1) + 1) > limit) return Infinity;
    return size;
  }
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    if ((size += 6 * key.length + 4 + jsonSizeBound((value as Record<string, unknown>)[key], limit, depth + 1)) > limit) return Infinity;
  }
  return size;
}

/** Cuts a result whose JSON is larger than the cap, with a notice saying so. */
export function capResultSize(result: CallToolResult, maxBytes: number): CallToolResult {
  // Most results are far below the cap: bound them cheaply rather than serialise them twice.
  if (jsonSizeBound(result, maxBytes) <= maxBytes) return result;
  const size = Buffer.byteLength(JSON.stringify(result));
  if (size <= maxBytes) return result;
  const notice = `[portcullis: the result was ${size} bytes, over the ${maxBytes}-byte limit; it was cut]`;
  const build = (text: string): CallToolResult => ({ content: [{ type: 'text', text }, { type: 'text', text: notice }], isError: result.isError ?? false });
  const texts = (result.content ?? []).filter((c): c is { type: 'text'; text: string } => c.type === 'text');
  // Cut by bytes (not characters), dropping a character split at the edge.
  const budget = Math.max(0, maxBytes - Buffer.byteLength(JSON.stringify(build(''))));
  let kept = Buffer.from(texts.map((t) => t.text).join('\n')).subarray(0, budget).toString('utf8').replace(/\uFFFD$/, '');
  // JSON escaping can make the text longer on the wire than in memory: shrink until it fits.
  let out = build(kept);
  while (kept.length > 0 && Buffer.byteLength(JSON.stringify(out)) > maxBytes) {
    kept = kept.slice(0, Math.floor(kept.length * 0.9));
    out = build(kept);
  }
  return out;
}

