/**
 * Result labelling (SPEC §5.1–5.3): what the gateway does to tainted content before the client
 * sees it. Every string is stripped of hidden characters and redacted; text meant for the model
 * (text blocks, embedded resource text, resources/read text, prompt messages) is also wrapped
 * when `wrap: 'tag'`; everything else (structuredContent, titles, descriptions, URIs, `_meta`)
 * is sanitised but never wrapped, so it keeps its shape and still matches its schema. The label
 * goes to `_meta["portcullis/taint"]`, replacing whatever the upstream put there.
 *
 * The input is never mutated; unchanged subtrees (images, blobs, clean values) are shared with it.
 */
import { stripHidden } from './hidden.js';
import type { HiddenKind } from './hidden.js';
import { findInjectionMarkers } from './markers.js';
import type { InjectionMarker } from './markers.js';
import { createRedactor } from './redact.js';
import type { Redactor } from './redact.js';
import { wrapText } from './wrap.js';

export const TAINT_META_KEY = 'portcullis/taint';

export type TaintLevel = 'untrusted' | 'suspicious';

/** Travels in `_meta["portcullis/taint"]` of a labelled result. */
export interface TaintLabel {
  source: string;
  callId: string;
  level: TaintLevel;
}

export interface LabelContext {
  /** Exposed tool or prompt name, or resource URI. */
  source: string;
  callId: string;
  /** The session's random boundary token (see wrap.ts). */
  boundary: string;
  wrap: 'none' | 'tag';
  /** Secrets to redact; compiled on each call. Prefer `redact` for a precompiled redactor. */
  secrets?: readonly string[];
  redact?: Redactor;
  /** Exposed tool names, for tool-mention markers. */
  toolNames?: readonly string[];
}

export interface LabelOutcome<T> {
  result: T;
  label: TaintLabel;
  /** Hidden characters removed in the whole result. */
  removed: number;
  markers: InjectionMarker[];
  /** Sanitised, unwrapped strings of the result: feed them to the provenance index. */
  texts: string[];
}

/** Strings shorter than this are not scanned for injection markers (keys, ids, mime types). */
const MIN_MARKER_SCAN = 16;
const MAX_RESULT_MARKERS = 32;
const MAX_DEPTH = 256;
/** Protocol enums (short values of these keys): sanitised, but neither indexed nor scanned. */
const PROTOCOL_FIELDS: ReadonlySet<string> = new Set(['type', 'mimeType', 'role']);
const NO_TOOLS: readonly string[] = [];

type Json = Record<string, unknown>;
type FieldHandler = (value: unknown) => unknown;

function isRecord(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function setKey(out: Json, key: string, value: unknown): void {
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
}

function decodeTags(text: string): string {
  let decoded = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0xe0020 && cp <= 0xe007e) decoded += String.fromCharCode(cp - 0xe0000);
  }
  return decoded.length > 80 ? `${decoded.slice(0, 79)}…` : decoded;
}

class Labeler {
  removed = 0;
  readonly kinds = new Set<HiddenKind>();
  readonly markers: InjectionMarker[] = [];
  readonly texts: string[] = [];
  private readonly redact: Redactor;
  private readonly toolNames: readonly string[];
  private readonly smuggled: string[] = [];

  constructor(private readonly ctx: LabelContext) {
    this.redact = ctx.redact ?? (ctx.secrets && ctx.secrets.length > 0 ? createRedactor(ctx.secrets) : (v) => v);
    this.toolNames = ctx.toolNames ?? NO_TOOLS;
  }

  private strip(value: string): string {
    const stripped = stripHidden(value);
    if (stripped.removed > 0) {
      this.removed += stripped.removed;
      for (const k of stripped.kinds) this.kinds.add(k);
      if (stripped.kinds.includes('tag')) this.smuggled.push(this.redact(decodeTags(value)));
    }
    return this.redact(stripped.text);
  }

  /** Sanitises one string, records it for provenance and markers; `wrap` marks text meant for the model. */
  text(value: string, wrap: boolean): string {
    const clean = this.strip(value);
    if (clean !== '') this.texts.push(clean);
    if (clean.length >= MIN_MARKER_SCAN && this.markers.length < MAX_RESULT_MARKERS) {
      const found = findInjectionMarkers(clean, { toolNames: this.toolNames });
      this.markers.push(...found.slice(0, MAX_RESULT_MARKERS - this.markers.length));
    }
    if (!wrap || this.ctx.wrap !== 'tag') return clean;
    return wrapText(clean, { source: this.ctx.source, id: this.ctx.callId, boundary: this.ctx.boundary });
  }

  /**
   * Sanitises an object's keys and values, keeping key order; `special` handles named fields.
   * Returns the object itself when nothing changed.
   */
  fields(record: Json, depth: number, special: Readonly<Record<string, FieldHandler>> = {}): Json {
    const keys = Object.keys(record);
    let out: Json | undefined;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const item = record[key];
      const handler = Object.prototype.hasOwnProperty.call(special, key) ? special[key] : undefined;
      const next = handler
        ? handler(item)
        : typeof item === 'string' && item.length <= 64 && PROTOCOL_FIELDS.has(key)
          ? this.strip(item)
          : this.deep(item, depth + 1);
      const outKey = this.strip(key);
      if ((next !== item || outKey !== key) && !out) {
        out = {};
        for (let k = 0; k < i; k++) setKey(out, keys[k]!, record[keys[k]!]);
      }
      // A key that collides with a clean one once stripped does not overwrite it.
      if (out && !(outKey !== key && Object.prototype.hasOwnProperty.call(out, outKey))) setKey(out, outKey, next);
    }
    return out ?? record;
  }

  /** Sanitises every string in a JSON value, without wrapping. */
  deep(value: unknown, depth = 0): unknown {
    if (typeof value === 'string') return this.text(value, false);
    if (value === null || typeof value !== 'object') return value;
    if (depth > MAX_DEPTH) {
      this.removed += 1;
      this.kinds.add('too-deep');
      return null;
    }
    if (Array.isArray(value)) {
      let out: unknown[] | undefined;
      for (let i = 0; i < value.length; i++) {
        const item = value[i] as unknown;
        const next = this.deep(item, depth + 1);
        if (next !== item && !out) out = value.slice(0, i);
        if (out) out.push(next);
      }
      return out ?? value;
    }
    return this.fields(value as Json, depth);
  }

  private wrapped = (value: unknown): unknown => (typeof value === 'string' ? this.text(value, true) : this.deep(value));
  private binary = (value: unknown): unknown => (typeof value === 'string' ? this.redact(value) : this.deep(value));

  /** A content block: its model-facing text wrapped, base64 data only redacted, the rest sanitised. */
  block(block: unknown): unknown {
    if (!isRecord(block)) return this.deep(block);
    switch (block.type) {
      case 'text':
        return this.fields(block, 0, { text: this.wrapped });
      case 'resource':
        return this.fields(block, 0, { resource: (r) => (isRecord(r) ? this.resourceContents(r) : this.deep(r)) });
      case 'image':
      case 'audio':
        return this.fields(block, 0, { data: this.binary });
      default:
        return this.deep(block);
    }
  }

  /** A resource's contents (`{uri, mimeType, text | blob}`): text wrapped, blob only redacted. */
  resourceContents(contents: Json): Json {
    return this.fields(contents, 0, { text: this.wrapped, blob: this.binary });
  }

  blocks(content: unknown): unknown {
    return Array.isArray(content) ? content.map((b: unknown) => this.block(b)) : this.block(content);
  }

  /** Sanitises the result's fields (`special` for the known ones) and attaches the label. */
  finish<T>(result: Json, special: Readonly<Record<string, FieldHandler>>): LabelOutcome<T> {
    const { _meta: upstreamMeta, ...fields } = result;
    const out = { ...this.fields(fields, 0, special) };
    if (this.removed > 0) {
      const kinds = [...this.kinds].sort().join(', ');
      const smuggled = this.smuggled.filter((s) => s !== '');
      this.markers.unshift({
        kind: 'hidden-chars',
        excerpt: `${this.removed} hidden character${this.removed === 1 ? '' : 's'} removed (${kinds})${smuggled.length > 0 ? `; tag characters spelled ${JSON.stringify(smuggled.join(' '))}` : ''}`,
        severity: 'high',
      });
    }
    const level: TaintLevel = this.removed > 0 || this.markers.some((m) => m.severity === 'high') ? 'suspicious' : 'untrusted';
    const label: TaintLabel = { source: this.ctx.source, callId: this.ctx.callId, level };
    const meta: Json = {};
    if (isRecord(upstreamMeta)) {
      const cleaned = this.fields(upstreamMeta, 0);
      // The upstream may not forge or pre-empt the gateway's label.
      for (const key of Object.keys(cleaned)) if (key !== TAINT_META_KEY) setKey(meta, key, cleaned[key]);
    }
    setKey(meta, TAINT_META_KEY, label);
    setKey(out, '_meta', meta);
    return { result: out as T, label, removed: this.removed, markers: this.markers, texts: this.texts };
  }
}

/**
 * Labels a tools/call result (`{content, structuredContent?, isError?, _meta?}`) from a tainted
 * source: text and embedded-resource text wrapped, every other string sanitised,
 * structuredContent sanitised in place (same shape), the label in `_meta`.
 */
export function labelResult<T extends object>(result: T, ctx: LabelContext): LabelOutcome<T> {
  const labeler = new Labeler(ctx);
  return labeler.finish<T>(result as Json, { content: (c) => labeler.blocks(c) });
}

/** Labels a resources/read result (`{contents: [{uri, text | blob}]}`): each text wrapped. */
export function labelReadResource<T extends object>(result: T, ctx: LabelContext): LabelOutcome<T> {
  const labeler = new Labeler(ctx);
  return labeler.finish<T>(result as Json, {
    contents: (contents) =>
      Array.isArray(contents) ? contents.map((c: unknown) => (isRecord(c) ? labeler.resourceContents(c) : labeler.deep(c))) : labeler.deep(contents),
  });
}

/** Labels a prompts/get result (`{description?, messages: [{role, content}]}`): message text wrapped. */
export function labelPrompt<T extends object>(result: T, ctx: LabelContext): LabelOutcome<T> {
  const labeler = new Labeler(ctx);
  return labeler.finish<T>(result as Json, {
    messages: (messages) =>
      Array.isArray(messages)
        ? messages.map((m: unknown) => (isRecord(m) ? labeler.fields(m, 0, { content: (c) => labeler.blocks(c) }) : labeler.deep(m)))
        : labeler.deep(messages),
  });
}

/**
 * Drops `_meta["portcullis/taint"]` from a result that is NOT labelled (an internal server's), so
 * an upstream cannot forge a label. Returns the result itself when there is none.
 */
export function removeTaintLabel<T extends object>(result: T): T {
  const meta = (result as Json)._meta;
  if (!isRecord(meta) || !Object.prototype.hasOwnProperty.call(meta, TAINT_META_KEY)) return result;
  const { [TAINT_META_KEY]: _forged, ...rest } = meta;
  return { ...result, _meta: rest };
}

export interface SanitizedTool<T> {
  tool: T;
  removed: number;
  markers: InjectionMarker[];
}

/**
 * Strips hidden characters from a tool definition's strings (descriptions, titles, schema texts)
 * for listing. `name` and object keys (schema property names) are left alone, since calls must
 * still match the upstream; a name or key with hidden characters is counted, so the caller can
 * refuse the tool. Not wrapped, not redacted.
 */
export function sanitizeToolDefinition<T extends { name: string }>(tool: T, toolNames: readonly string[] = NO_TOOLS): SanitizedTool<T> {
  let removed = 0;
  const markers: InjectionMarker[] = [];
  const walk = (value: unknown, depth: number): unknown => {
    if (typeof value === 'string') {
      const r = stripHidden(value);
      removed += r.removed;
      if (r.text.length >= MIN_MARKER_SCAN && markers.length < MAX_RESULT_MARKERS) markers.push(...findInjectionMarkers(r.text, { toolNames }));
      return r.text;
    }
    if (value === null || typeof value !== 'object') return value;
    if (depth > MAX_DEPTH) {
      removed += 1; // fail closed: the caller refuses a definition with removals
      return value;
    }
    if (Array.isArray(value)) {
      const next = value.map((v: unknown) => walk(v, depth + 1));
      return next.every((v, i) => v === value[i]) ? value : next;
    }
    const record = value as Json;
    let changed = false;
    const out: Json = {};
    for (const key of Object.keys(record)) {
      removed += stripHidden(key).removed;
      const next = walk(record[key], depth + 1);
      if (next !== record[key]) changed = true;
      setKey(out, key, next);
    }
    return changed ? out : value;
  };
  const { name, ...rest } = tool;
  removed += stripHidden(name).removed;
  const cleaned = walk(rest, 0) as Json;
  const result = (cleaned === rest ? tool : { name, ...cleaned }) as T;
  return { tool: result, removed, markers: markers.slice(0, MAX_RESULT_MARKERS) };
}
