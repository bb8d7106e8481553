/**
 * Tool-definition pins (SPEC §5.6): a canonical, key-order-independent digest of everything the
 * model is told about a tool, so that a later change by the upstream (a "rug pull") is noticed.
 *
 * Pinned: every top-level field of the definition (name, title, description, inputSchema,
 * outputSchema, annotations, execution, and any field a future protocol adds, since the model
 * may see it) plus the server's instructions. Not pinned: `_meta` (protocol plumbing not shown
 * to the model, and volatile in some servers) and `icons` (presentation only; icon URLs are
 * often signed CDN links that rotate).
 */
import { stripHidden } from './hidden.js';

const MAX_DEPTH = 512;
const MAX_DIFF_ENTRIES = 200;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function write(value: unknown, depth: number, out: string[]): void {
  if (depth > MAX_DEPTH) throw new TypeError(`canonicalJson: value nested deeper than ${MAX_DEPTH} levels (or cyclic)`);
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON: () => unknown }).toJSON();
  }
  switch (typeof value) {
    case 'string':
      out.push(JSON.stringify(value));
      return;
    case 'number':
      // JSON.stringify gives the shortest round-trip form (ES Number::toString), -0 as 0, NaN as null.
      out.push(JSON.stringify(value));
      return;
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'bigint':
      out.push(value.toString());
      return;
    case 'object':
      break;
    default:
      out.push('null');
      return;
  }
  if (value === null) {
    out.push('null');
  } else if (Array.isArray(value)) {
    out.push('[');
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out.push(',');
      const item = value[i] as unknown;
      if (item === undefined || typeof item === 'function' || typeof item === 'symbol') out.push('null');
      else write(item, depth + 1, out);
    }
    out.push(']');
  } else {
    const record = value as Record<string, unknown>;
    // Default sort compares UTF-16 code units, as RFC 8785 (JCS) prescribes.
    const keys = Object.keys(record).sort();
    out.push('{');
    let first = true;
    for (const key of keys) {
      const item = record[key];
      if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
      if (!first) out.push(',');
      first = false;
      out.push(JSON.stringify(key), ':');
      write(item, depth + 1, out);
    }
    out.push('}');
  }
}

/** Canonical JSON: keys sorted recursively, no whitespace, numbers in their shortest form (JCS-like). */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  write(value, 0, out);
  return out.join('');
}

/** A tool definition as an upstream lists it; loose on purpose. */
export interface ToolDefinitionLike {
  name: string;
  [field: string]: unknown;
}

export interface PinSubject {
  tool: Record<string, unknown>;
  instructions: string | null;
}

const UNPINNED_FIELDS: ReadonlySet<string> = new Set(['_meta', 'icons']);

/** What a pin covers: the definition's fields except `_meta` and `icons`, plus server instructions. */
export function pinSubject(tool: ToolDefinitionLike, serverInstructions: string | null | undefined): PinSubject {
  const picked: Record<string, unknown> = {};
  for (const key of Object.keys(tool)) {
    if (UNPINNED_FIELDS.has(key) || tool[key] === undefined) continue;
    Object.defineProperty(picked, key, { value: tool[key], enumerable: true, writable: true, configurable: true });
  }
  return { tool: picked, instructions: serverInstructions ?? null };
}

/** The pin: `sha256(canonicalJson(pinSubject(tool, instructions)))`, hashing injected by the caller. */
export function pinDigest(tool: ToolDefinitionLike, serverInstructions: string | null | undefined, sha256: (text: string) => string): string {
  return sha256(canonicalJson(pinSubject(tool, serverInstructions)));
}

export interface DefinitionChange {
  /** JSON pointer into the pin subject, e.g. `/tool/inputSchema/properties/to/description`. */
  path: string;
  /** The old value; `undefined` when the field was added. */
  before: unknown;
  /** The new value; `undefined` when the field was removed. */
  after: unknown;
}

function pointerToken(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function diffInto(before: unknown, after: unknown, path: string, out: DefinitionChange[]): void {
  if (out.length >= MAX_DIFF_ENTRIES) return;
  if (Array.isArray(before) && Array.isArray(after)) {
    const n = Math.max(before.length, after.length);
    for (let i = 0; i < n; i++) diffInto(before[i], after[i], `${path}/${i}`, out);
    return;
  }
  if (isPlainObject(before) && isPlainObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    for (const key of keys) diffInto(before[key], after[key], `${path}/${pointerToken(key)}`, out);
    return;
  }
  if (before === undefined && after === undefined) return;
  if (before !== undefined && after !== undefined && canonicalJson(before) === canonicalJson(after)) return;
  out.push({ path, before, after });
}

/**
 * The changes between two pin subjects (or any JSON values), leaf by leaf, as JSON pointers.
 * Arrays are compared index by index. At most 200 entries.
 */
export function diffDefinitions(before: unknown, after: unknown): DefinitionChange[] {
  const out: DefinitionChange[] = [];
  diffInto(before, after, '', out);
  return out;
}

export interface ShadowedTool {
  /** The name's comparison form: lowercase, without `-`, `_`, `.`, spaces or hidden characters. */
  name: string;
  /** Servers offering it, sorted. */
  servers: string[];
  /** How each server spells it, sorted and distinct. */
  spellings: string[];
}

function comparisonForm(name: string): string {
  return stripHidden(name).text.normalize('NFKC').toLowerCase().replace(/[-_.\s]/g, '');
}

/**
 * Original (upstream) tool names offered by two or more servers, compared loosely so that
 * `send_email`, `sendEmail` and `Send-Email` collide: a server imitating another's tool.
 */
export function findShadowing(toolsByServer: Readonly<Record<string, readonly string[]>>): ShadowedTool[] {
  const byName = new Map<string, { servers: Set<string>; spellings: Set<string> }>();
  for (const [server, names] of Object.entries(toolsByServer)) {
    for (const name of names) {
      const key = comparisonForm(name);
      if (key === '') continue;
      let entry = byName.get(key);
      if (!entry) {
        entry = { servers: new Set(), spellings: new Set() };
        byName.set(key, entry);
      }
      entry.servers.add(server);
      entry.spellings.add(name);
    }
  }
  const shadowed: ShadowedTool[] = [];
  for (const [name, entry] of byName) {
    if (entry.servers.size >= 2) shadowed.push({ name, servers: [...entry.servers].sort(), spellings: [...entry.spellings].sort() });
  }
  return shadowed.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
