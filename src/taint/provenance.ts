/**
 * Provenance index (SPEC §5.5): what a session has read from tainted content, so that a later
 * call whose arguments carry it can be escalated, naming the argument and the result it came from.
 *
 * Two kinds of evidence:
 * - entities (see entities.ts), exact canonical keys, in an LRU of `maxEntries`;
 * - copied text: the tainted text is normalised (NFKC, lowercase, every run of characters that
 *   are not letters, marks or digits becomes one space) and every window of `windowChars` UTF-16
 *   units is indexed by a polynomial rolling hash (mod 2^32, Math.imul; the base is derived from
 *   a per-session `seed`, so content cannot be crafted to collide). An argument is scanned in one
 *   pass: each window's hash is looked up, the candidate is confirmed against the stored text (no
 *   false positives from collisions), and consecutive confirmed windows form a copied run.
 *
 * False-positive control:
 * - anything also seen in trusted context (`addTrusted`: arguments sent before the session was
 *   tainted, results of internal servers) does not count — an entity by key, a window by hash;
 * - a copied run counts only when it is informative: it holds a whole word of ≥ 4 letters (or a
 *   fragment of ≥ 8) that is not a stop word, or ≥ 4 characters of a script written without
 *   spaces (CJK, Thai…). Runs of stop words, digits and punctuation ("please let me know",
 *   "2024 05 13") are what independent writers produce by chance; numbers are matched as
 *   entities instead.
 *
 * Memory is bounded: normalised text is kept in chunks (≤ 4,096 windows, ≤ a quarter of the
 * budget), dropped oldest first once more than `maxWindows` windows are indexed; trusted window
 * hashes likewise. Trusted windows are kept as hashes only: a collision there can only hide a
 * copy, never invent one.
 */
import { LRUCache } from 'lru-cache';
import { scanEntities } from './entities.js';
import type { EntityKind } from './entities.js';
import { WindowTable } from './window-table.js';

export interface ProvenanceOrigin {
  /** Exposed tool name or resource URI. */
  source: string;
  callId: string;
}

export type ProvenanceKind = EntityKind | 'text';

export interface ProvenanceHit {
  /** Top-level argument name (`to`), or a JSON pointer for nested values (`/options/path`, `/to/0`). */
  argPath: string;
  kind: ProvenanceKind;
  /** The entity's canonical form, or for `text` the copied (normalised) text, capped at 80 characters. */
  value: string;
  origin: ProvenanceOrigin;
  /** For `text`: how many normalised characters were copied. */
  copiedChars?: number;
}

export interface ProvenanceIndexOptions {
  /** Entities remembered (tainted and trusted each). */
  maxEntries: number;
  /** Text windows remembered (tainted and trusted each). */
  maxWindows: number;
  /** Window length; use `taint.provenance.minCopiedChars`. At least 4. */
  windowChars: number;
  /** Per-session random 32-bit seed for the rolling hash. */
  seed?: number;
}

export interface ProvenanceMatchOptions {
  /** Copied runs shorter than this do not count; effectively at least `windowChars`. */
  minCopiedChars: number;
}

export interface ProvenanceIndex {
  /** Indexes tainted content: a string, or every string in a JSON value. */
  add(content: unknown, origin: ProvenanceOrigin): void;
  /** Records trusted content, whose entities and windows then never count as copied. */
  addTrusted(content: unknown): void;
  /** Entities and copied text from tainted content found in call arguments. */
  match(args: unknown, options: ProvenanceMatchOptions): ProvenanceHit[];
  /** Rough heap footprint in bytes, for benchmarks and limits. */
  approxBytes(): number;
}

interface EntityEntry {
  kind: EntityKind;
  value: string;
  origin: ProvenanceOrigin;
}

interface Chunk {
  /** Virtual position of the chunk's first window. */
  base: number;
  /**
   * Normalised text (its own copy, not a view into the whole result): the chunk's windows plus
   * the `windowChars - 1` units they reach into.
   */
  units: Uint16Array;
  windows: number;
  origin: ProvenanceOrigin;
}

const CHUNK_WINDOWS = 4_096;
const MAX_POSITION = 2 ** 31 - 1;
const MAX_STRINGS_DEPTH = 64;
const MAX_HIT_VALUE = 80;
const LETTER = /\p{L}/gu;
const UNSPACED_SCRIPT = /[\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}\p{scx=Thai}\p{scx=Lao}\p{scx=Khmer}\p{scx=Myanmar}\p{scx=Tibetan}]/gu;

/** Function words and politeness formulas: runs made only of these are not evidence of copying. */
const STOP_WORDS: ReadonlySet<string> = new Set(
  ('a about above after again against all also am an and any are as at be because been before being below between both but by ' +
    'can could did do does doing down during each few for from further had has have having he her here hers herself him ' +
    'himself his how i if in into is it its itself just let me more most my myself no nor not now of off on once only or ' +
    'other our ours ourselves out over own same she should so some such than that the their theirs them themselves then ' +
    'there these they this those through to too under until up very was we were what when where which while who whom why ' +
    'will with would you your yours yourself yourselves please thanks thank regards best dear hello kind know like want ' +
    'need make sure also get got just well good great much many time today tomorrow yesterday week month year next last ' +
    'first new one two three four five would shall must might may okay sent send email mail message note meeting ' +
    'attached attachment find below above hope doing everything anything something nothing there here soon later day days').split(' '),
);

/** Word-character class per UTF-16 unit: 0 not yet known, 1 letter/mark/digit, 2 other. Filled lazily. */
const WORD_CLASS = new Uint8Array(65_536);
const WORD_CHAR = /^[\p{L}\p{M}\p{N}]$/u;
const UTF16 = new TextDecoder('utf-16le');

function isWordUnit(c: number): boolean {
  let v = WORD_CLASS[c]!;
  if (v === 0) {
    // Surrogates: astral characters are kept whole (most are letters, symbols are rare in prose).
    v = (c >= 0xd800 && c <= 0xdfff) || WORD_CHAR.test(String.fromCharCode(c)) ? 1 : 2;
    WORD_CLASS[c] = v;
  }
  return v === 1;
}

/** The UTF-16 units of `normalizeForWindows(text)`. */
function normalizeUnits(text: string): Uint16Array {
  const s = text.normalize('NFKC').toLowerCase();
  const out = new Uint16Array(s.length);
  let o = 0;
  let space = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isWordUnit(c)) {
      if (space && o > 0) out[o++] = 0x20;
      space = false;
      out[o++] = c;
    } else {
      space = true;
    }
  }
  return out.subarray(0, o);
}

/** Normalises text for window matching: NFKC, lowercase, non-word runs collapsed to one space. */
export function normalizeForWindows(text: string): string {
  return UTF16.decode(normalizeUnits(text));
}

function* stringsIn(value: unknown, depth = 0): Generator<string> {
  if (typeof value === 'string') {
    yield value;
  } else if (value !== null && typeof value === 'object' && depth < MAX_STRINGS_DEPTH) {
    for (const item of Array.isArray(value) ? value : Object.values(value)) yield* stringsIn(item, depth + 1);
  }
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  return [...stringsIn(content)].join('\n');
}

function pointerToken(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function* argumentStrings(args: unknown): Generator<[string, string]> {
  const walk = function* (value: unknown, path: string, depth: number): Generator<[string, string]> {
    if (typeof value === 'string') yield [path, value];
    else if (typeof value === 'number' && Number.isInteger(value)) yield [path, String(value)];
    else if (value !== null && typeof value === 'object' && depth < MAX_STRINGS_DEPTH) {
      const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
      for (const [key, item] of entries) yield* walk(item, `${path}/${pointerToken(key)}`, depth + 1);
    }
  };
  if (args !== null && typeof args === 'object' && !Array.isArray(args)) {
    for (const [key, item] of Object.entries(args)) {
      if (typeof item === 'string' || typeof item === 'number') yield* walk(item, key, 1);
      else yield* walk(item, `/${pointerToken(key)}`, 1);
    }
  } else {
    yield* walk(args, '', 0);
  }
}

function countMatches(re: RegExp, text: string): number {
  re.lastIndex = 0;
  let n = 0;
  while (re.exec(text)) n++;
  return n;
}

/**
 * Whether a copied run of `normalized[start, end)` is evidence rather than coincidence.
 * Tokens for which `covered` holds (parts of entities already reported) do not count.
 */
function isInformative(normalized: string, start: number, end: number, covered: (token: string) => boolean): boolean {
  const span = normalized.slice(start, end);
  if (countMatches(UNSPACED_SCRIPT, span) >= 4) return true;
  const tokens = span.split(' ');
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    const whole = (i > 0 || start === 0 || normalized[start - 1] === ' ') && (i < tokens.length - 1 || end === normalized.length || normalized[end] === ' ');
    const letters = countMatches(LETTER, token);
    if (letters >= (whole ? 4 : 8) && !STOP_WORDS.has(token) && !covered(token)) return true;
  }
  return false;
}

function capValue(text: string): string {
  return text.length > MAX_HIT_VALUE ? `${text.slice(0, MAX_HIT_VALUE - 1)}…` : text;
}

/** Creates a per-session provenance index. */
export function createProvenanceIndex(options: ProvenanceIndexOptions): ProvenanceIndex {
  const windowChars = Math.max(4, Math.floor(options.windowChars));
  const maxWindows = Math.max(1, Math.floor(options.maxWindows));
  // Eviction drops a whole chunk: keep chunks at most a quarter of the budget.
  const chunkWindows = Math.max(1, Math.min(CHUNK_WINDOWS, Math.ceil(maxWindows / 4)));
  // An odd base; the seed keeps it unpredictable to content authors.
  const base = (Math.imul((options.seed ?? 0x9e3779b9) ^ 0x5bd1e995, 0x01000193) | 1) >>> 0;
  let highPower = 1; // base^(windowChars - 1) mod 2^32
  for (let i = 1; i < windowChars; i++) highPower = Math.imul(highPower, base);

  const entities = new LRUCache<string, EntityEntry>({ maxSize: Math.max(1, options.maxEntries), sizeCalculation: () => 1 });
  const trustedEntities = new LRUCache<string, true>({ maxSize: Math.max(1, options.maxEntries), sizeCalculation: () => 1 });

  let windows = new WindowTable(); // hash key → virtual position of the latest such window
  let chunks: Chunk[] = [];
  let nextPosition = 0;
  let indexedWindows = 0;
  let chunkBytes = 0;
  // Trusted windows: hash key → sequence number of the chunk of keys that added it last.
  const trustedWindows = new WindowTable();
  const trustedChunks: Array<{ seq: number; keys: Int32Array; length: number }> = [];
  let trustedSeq = 0;
  let trustedCount = 0;

  /** Calls `visit(key, position)` for every window of `text`; keys are the hash's top 30 bits. */
  const eachWindow = (units: Uint16Array, visit: (key: number, position: number) => void): void => {
    if (units.length < windowChars) return;
    let h = 0;
    for (let i = 0; i < windowChars; i++) h = (Math.imul(h, base) + units[i]!) | 0;
    visit(h >>> 2, 0);
    for (let p = 1; p + windowChars <= units.length; p++) {
      h = (Math.imul(h - Math.imul(units[p - 1]!, highPower), base) + units[p + windowChars - 1]!) | 0;
      visit(h >>> 2, p);
    }
  };

  const evictOldestChunk = (): void => {
    const oldest = chunks.shift();
    if (!oldest) return;
    const end = oldest.base + oldest.windows;
    eachWindow(oldest.units, (key) => {
      const at = windows.get(key);
      if (at >= oldest.base && at < end) windows.delete(key);
    });
    indexedWindows -= oldest.windows;
    chunkBytes -= oldest.units.byteLength;
  };

  const addWindows = (normalized: Uint16Array, origin: ProvenanceOrigin): void => {
    const total = normalized.length - windowChars + 1;
    if (total <= 0) return;
    if (nextPosition + total >= MAX_POSITION) {
      // Positions are int32: after ~2^31 indexed windows, start over rather than wrap.
      windows = new WindowTable();
      chunks = [];
      nextPosition = 0;
      indexedWindows = 0;
      chunkBytes = 0;
    }
    for (let first = 0; first < total; first += chunkWindows) {
      const count = Math.min(chunkWindows, total - first);
      const chunk: Chunk = { base: nextPosition, units: normalized.slice(first, first + count + windowChars - 1), windows: count, origin };
      nextPosition += count;
      eachWindow(chunk.units, (key, p) => {
        windows.set(key, chunk.base + p);
      });
      chunks.push(chunk);
      indexedWindows += count;
      chunkBytes += chunk.units.byteLength;
      while (indexedWindows > maxWindows && chunks.length > 0) evictOldestChunk();
    }
  };

  const chunkAt = (position: number): Chunk | undefined => {
    let lo = 0;
    let hi = chunks.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const c = chunks[mid]!;
      if (position < c.base) hi = mid - 1;
      else if (position >= c.base + c.windows) lo = mid + 1;
      else return c;
    }
    return undefined;
  };

  const sameWindow = (units: Uint16Array, at: number, chunk: Chunk, offset: number): boolean => {
    for (let k = 0; k < windowChars; k++) if (units[at + k] !== chunk.units[offset + k]) return false;
    return true;
  };

  const matchText = (text: string, minCopied: number, covered: (token: string) => boolean): { value: string; copied: number; origin: ProvenanceOrigin } | undefined => {
    const units = normalizeUnits(text);
    if (units.length < minCopied || windows.size === 0) return undefined;
    let decoded: string | undefined; // the normalised argument as a string, once a run needs it
    let best: { value: string; copied: number; origin: ProvenanceOrigin } | undefined;
    let runStart = -1;
    let runOrigin: ProvenanceOrigin | undefined;
    let lastChunk: Chunk | undefined;
    let lastOffset = -1;
    const closeRun = (endWindow: number): void => {
      if (runStart < 0 || !runOrigin) return;
      // A separator at either end is not a copied character.
      const start = units[runStart] === 0x20 ? runStart + 1 : runStart;
      const end = units[endWindow + windowChars - 1] === 0x20 ? endWindow + windowChars - 1 : endWindow + windowChars;
      const copied = end - start;
      if (copied >= minCopied && (!best || copied > best.copied)) {
        decoded ??= UTF16.decode(units);
        if (isInformative(decoded, start, end, covered)) best = { value: capValue(decoded.slice(start, end)), copied, origin: runOrigin };
      }
      runStart = -1;
      runOrigin = undefined;
    };
    eachWindow(units, (key, p) => {
      let confirmed: Chunk | undefined;
      let offset = -1;
      // Fast path: the previous window's source continues with the same next character.
      if (lastChunk && lastOffset + windowChars < lastChunk.units.length && lastChunk.units[lastOffset + windowChars] === units[p + windowChars - 1]) {
        confirmed = lastChunk;
        offset = lastOffset + 1;
      } else {
        const at = windows.get(key);
        const chunk = at < 0 ? undefined : chunkAt(at);
        if (chunk && sameWindow(units, p, chunk, at - chunk.base)) {
          confirmed = chunk;
          offset = at - chunk.base;
        }
      }
      lastChunk = confirmed;
      lastOffset = offset;
      if (confirmed && !trustedWindows.has(key)) {
        if (runStart < 0) {
          runStart = p;
          runOrigin = confirmed.origin;
        }
      } else {
        closeRun(p - 1);
      }
    });
    closeRun(units.length - windowChars);
    return best;
  };

  return {
    add(content, origin) {
      const text = textOf(content);
      if (text === '') return;
      const stored = { source: origin.source, callId: origin.callId };
      scanEntities(text, (e) => {
        const existing = entities.get(e.key);
        if (!existing) entities.set(e.key, { kind: e.kind, value: e.value, origin: stored });
      });
      addWindows(normalizeUnits(text), stored);
    },

    addTrusted(content) {
      const text = textOf(content);
      if (text === '') return;
      scanEntities(text, (e) => {
        trustedEntities.set(e.key, true);
      });
      eachWindow(normalizeUnits(text), (key) => {
        let chunk = trustedChunks[trustedChunks.length - 1];
        if (!chunk || chunk.length === chunk.keys.length) {
          chunk = { seq: ++trustedSeq, keys: new Int32Array(chunkWindows), length: 0 };
          trustedChunks.push(chunk);
        }
        chunk.keys[chunk.length++] = key;
        trustedWindows.set(key, chunk.seq);
        if (++trustedCount > maxWindows) {
          const oldest = trustedChunks.shift()!;
          for (let i = 0; i < oldest.length; i++) if (trustedWindows.get(oldest.keys[i]!) === oldest.seq) trustedWindows.delete(oldest.keys[i]!);
          trustedCount -= oldest.length;
        }
      });
    },

    match(args, { minCopiedChars }) {
      const minCopied = Math.max(windowChars, Math.floor(minCopiedChars));
      const hits: ProvenanceHit[] = [];
      const seen = new Set<string>();
      for (const [argPath, text] of argumentStrings(args)) {
        const urlHits = new Set<string>();
        const found: ProvenanceHit[] = [];
        const entityTokens = new Set<string>(['http', 'https', 'www', 'mailto']);
        scanEntities(text, (e) => {
          for (const token of normalizeForWindows(e.value).split(' ')) entityTokens.add(token);
          const entry = entities.get(e.key);
          if (!entry || trustedEntities.has(e.key)) return;
          const dedupe = `${argPath}\u0000${entry.kind}\u0000${entry.value}`;
          if (seen.has(dedupe)) return;
          seen.add(dedupe);
          if (entry.kind === 'url') urlHits.add(e.key);
          found.push({ argPath, kind: entry.kind, value: entry.value, origin: entry.origin });
        });
        // A URL hit already names the host: do not report the host a second time.
        const hostsOfUrls = new Set([...urlHits].map((key) => `host:${key.replace(/^url:[a-z]*\/\//, '').split(/[/:?]/)[0]}`));
        for (const hit of found) if (!(hit.kind === 'host' && hostsOfUrls.has(`host:${hit.value}`))) hits.push(hit);
        // Copied text that is only an entity's spelling was reported (or excused) as that entity.
        const covered = (token: string): boolean => {
          for (const t of entityTokens) if (t.includes(token)) return true;
          return false;
        };
        const copied = matchText(text, minCopied, covered);
        if (copied) hits.push({ argPath, kind: 'text', value: copied.value, origin: copied.origin, copiedChars: copied.copied });
      }
      return hits;
    },

    approxBytes() {
      let entityBytes = 0;
      for (const [key, entry] of entities.entries()) entityBytes += 96 + 2 * (key.length + entry.value.length);
      for (const key of trustedEntities.keys()) entityBytes += 64 + 2 * key.length;
      const trustedKeys = trustedChunks.reduce((n, c) => n + c.keys.byteLength, 0);
      return 512 + entityBytes + chunkBytes + 64 * chunks.length + windows.byteSize() + trustedWindows.byteSize() + trustedKeys;
    },
  };
}
