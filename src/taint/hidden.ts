/**
 * Hidden characters (SPEC §5.3): code points a reader does not see but a model does.
 *
 * Removed, and counted:
 * - `tag`: Unicode tag characters U+E0000–E007F (ASCII smuggling), except inside a valid emoji
 *   tag sequence (🏴 + 3–7 lowercase tag letters/digits forming a CLDR subdivision id + U+E007F),
 *   and the rest of the default-ignorable plane-14 block U+E0080–E0FFF;
 * - `bidi`: U+202A–202E, U+2066–2069, U+200E, U+200F, U+061C;
 * - `zero-width`: U+200B, U+200C, U+200D, U+2060, U+FEFF, U+180E. U+200D is kept inside an emoji
 *   ZWJ sequence; U+200C/U+200D are kept between two letters of one script whose orthography
 *   needs them (Persian "می‌خواهم", Devanagari half forms), since they are ordinary text there;
 * - `variation-selector`: U+FE00–FE0F, U+E0100–E01EF, except one U+FE0E/U+FE0F right after a
 *   character that has an emoji presentation (digits, `#`, `*` only when a keycap U+20E3
 *   follows), and Mongolian free variation selectors right after a Mongolian letter.
 *   Ideographic variation selectors after CJK are removed too: they carry a byte each;
 * - `ansi`: ESC sequences (CSI, OSC/DCS/SOS/PM/APC strings, two-byte escapes) and their 8-bit
 *   C1 forms;
 * - `control`: C0 controls except tab, LF, CR; DEL; C1 controls U+0080–009F;
 * - `format`: other invisible format characters: U+034F, U+115F, U+1160, U+17B4, U+17B5,
 *   U+2061–2065, U+206A–206F, U+3164, U+FFA0, U+FFF0–FFFB, U+1BCA0–1BCA3, U+1D173–1D17A;
 * - `too-deep` (stripHiddenDeep only): a JSON subtree nested deeper than MAX_JSON_DEPTH.
 *
 * U+00AD (soft hyphen) is removed but NOT counted: it is an ordinary HTML `&shy;` hyphenation
 * hint on many real pages, so counting it would make benign pages "suspicious"; removing it stops
 * it from splitting words to dodge the injection-marker scan.
 */

export type HiddenKind = 'tag' | 'bidi' | 'zero-width' | 'variation-selector' | 'ansi' | 'control' | 'format' | 'too-deep';

export interface StripResult {
  /** The text without hidden characters; the very same string when nothing was found. */
  text: string;
  /** Number of code points removed (soft hyphens excepted). */
  removed: number;
  /** Sorted kinds of what was removed. */
  kinds: HiddenKind[];
}

/**
 * Every code unit that might be removed or that needs a context check. Most text has none, so
 * one test of this regex answers for it. No `u` flag: astral ranges are spelled as surrogates.
 */
const CANDIDATE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180B-\u180F\u200B-\u200F\u202A-\u202E\u2060-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0\uFFF0-\uFFFB]|\uD82F[\uDCA0-\uDCA3]|\uD834[\uDD73-\uDD7A]|[\uDB40-\uDB43][\uDC00-\uDFFF]/;

const KIND_BITS: readonly HiddenKind[] = ['ansi', 'bidi', 'control', 'format', 'tag', 'variation-selector', 'zero-width', 'too-deep'];
const ANSI = 1 << 0;
const BIDI = 1 << 1;
const CONTROL = 1 << 2;
const FORMAT = 1 << 3;
const TAG = 1 << 4;
const VS = 1 << 5;
const ZW = 1 << 6;
const TOO_DEEP_BIT = 1 << 7;
/** Removed without being counted (soft hyphen). */
const SILENT = 1 << 8;
/** Kept or removed depending on the neighbours. */
const CONTEXT = 1 << 9;

const EXTENDED_PICTOGRAPHIC = /^\p{Extended_Pictographic}$/u;
const EMOJI = /^\p{Emoji}$/u;
const MONGOLIAN = /^\p{scx=Mongolian}$/u;
const LETTER_OR_MARK = /^[\p{L}\p{M}]$/u;
/** Scripts whose orthography uses ZWNJ/ZWJ between letters. */
const JOINER_SCRIPTS: readonly RegExp[] = [
  /^\p{scx=Arabic}$/u, /^\p{scx=Syriac}$/u, /^\p{scx=Nko}$/u, /^\p{scx=Devanagari}$/u, /^\p{scx=Bengali}$/u,
  /^\p{scx=Gurmukhi}$/u, /^\p{scx=Gujarati}$/u, /^\p{scx=Oriya}$/u, /^\p{scx=Tamil}$/u, /^\p{scx=Telugu}$/u,
  /^\p{scx=Kannada}$/u, /^\p{scx=Malayalam}$/u, /^\p{scx=Sinhala}$/u, /^\p{scx=Khmer}$/u, /^\p{scx=Myanmar}$/u,
  /^\p{scx=Mongolian}$/u,
];
const SUBDIVISION_ID = /^(?:[a-z]{2}|\d{3})[a-z0-9]{1,4}$/;
/** Longest OSC/DCS payload we look through for its terminator. */
const MAX_STRING_SEQUENCE = 4_096;
const MAX_CSI_PARAMS = 256;

function classify(cp: number): number {
  if (cp < 0x20) return cp === 0x09 || cp === 0x0a || cp === 0x0d ? 0 : cp === 0x1b ? ANSI : CONTROL;
  if (cp < 0x7f) return 0;
  if (cp <= 0x9f) return cp === 0x9b || cp === 0x9d || cp === 0x90 || cp === 0x98 || cp === 0x9e || cp === 0x9f ? ANSI : CONTROL;
  if (cp === 0xad) return SILENT;
  if (cp === 0x34f || cp === 0x115f || cp === 0x1160 || cp === 0x17b4 || cp === 0x17b5 || cp === 0x3164 || cp === 0xffa0) return FORMAT;
  if (cp === 0x61c) return BIDI;
  if (cp >= 0x180b && cp <= 0x180f) return cp === 0x180e ? ZW : CONTEXT;
  if (cp >= 0x200b && cp <= 0x200f) return cp === 0x200b ? ZW : cp <= 0x200d ? CONTEXT : BIDI;
  if (cp >= 0x202a && cp <= 0x202e) return BIDI;
  if (cp >= 0x2060 && cp <= 0x206f) return cp === 0x2060 ? ZW : cp >= 0x2066 && cp <= 0x2069 ? BIDI : FORMAT;
  if (cp >= 0xfe00 && cp <= 0xfe0f) return cp >= 0xfe0e ? CONTEXT : VS;
  if (cp === 0xfeff) return ZW;
  if (cp >= 0xfff0 && cp <= 0xfffb) return FORMAT;
  if ((cp >= 0x1bca0 && cp <= 0x1bca3) || (cp >= 0x1d173 && cp <= 0x1d17a)) return FORMAT;
  if (cp >= 0xe0000 && cp <= 0xe0fff) return cp <= 0xe007f ? TAG : cp >= 0xe0100 && cp <= 0xe01ef ? VS : FORMAT;
  return 0;
}

function charAt(text: string, i: number): string {
  const cp = text.codePointAt(i);
  return cp === undefined ? '' : String.fromCodePoint(cp);
}

function charBefore(text: string, i: number): string {
  if (i <= 0) return '';
  const lo = text.charCodeAt(i - 1);
  if (lo >= 0xdc00 && lo <= 0xdfff && i >= 2) {
    const hi = text.charCodeAt(i - 2);
    if (hi >= 0xd800 && hi <= 0xdbff) return text.slice(i - 2, i);
  }
  return text[i - 1]!;
}

/** Per-scan memo: no string terminator exists in [`from`, `to`), so unterminated strings stay linear. */
interface TerminatorMemo {
  from: number;
  to: number;
}

/** Length in code units of the escape sequence starting at `i` (ESC or an 8-bit introducer). */
function ansiLength(text: string, i: number, memo: TerminatorMemo): number {
  const n = text.length;
  let j: number;
  let kind: 'csi' | 'string';
  const first = text.charCodeAt(i);
  if (first === 0x1b) {
    const next = i + 1 < n ? text.charCodeAt(i + 1) : -1;
    if (next === 0x5b) {
      kind = 'csi';
      j = i + 2;
    } else if (next === 0x5d || next === 0x50 || next === 0x58 || next === 0x5e || next === 0x5f) {
      kind = 'string';
      j = i + 2;
    } else if (next >= 0x20 && next <= 0x2f) {
      // nF escape: intermediates then one final byte, e.g. ESC ( B
      j = i + 1;
      while (j < n && j - i < 16 && text.charCodeAt(j) >= 0x20 && text.charCodeAt(j) <= 0x2f) j++;
      const fin = j < n ? text.charCodeAt(j) : -1;
      return fin >= 0x30 && fin <= 0x7e ? j + 1 - i : j - i;
    } else if (next >= 0x30 && next <= 0x7e) {
      return 2;
    } else {
      return 1;
    }
  } else {
    kind = first === 0x9b ? 'csi' : 'string';
    j = i + 1;
  }
  if (kind === 'csi') {
    const start = j;
    while (j < n && j - start < MAX_CSI_PARAMS && text.charCodeAt(j) >= 0x30 && text.charCodeAt(j) <= 0x3f) j++;
    while (j < n && j - start < MAX_CSI_PARAMS && text.charCodeAt(j) >= 0x20 && text.charCodeAt(j) <= 0x2f) j++;
    const fin = j < n ? text.charCodeAt(j) : -1;
    return fin >= 0x40 && fin <= 0x7e ? j + 1 - i : j - i;
  }
  // OSC / DCS / SOS / PM / APC: up to BEL, ESC \ or ST. Unterminated: drop the introducer only.
  const limit = Math.min(n, j + MAX_STRING_SEQUENCE);
  const known = j >= memo.from && j < memo.to;
  const from = known ? memo.to : j;
  for (let k = from; k < limit; k++) {
    const c = text.charCodeAt(k);
    if (c === 0x07 || c === 0x9c) return k + 1 - i;
    if (c === 0x1b && text.charCodeAt(k + 1) === 0x5c) return k + 2 - i;
  }
  memo.from = known ? memo.from : j;
  memo.to = Math.max(from, limit);
  return j - i;
}

/** Length of a valid emoji tag sequence's tail (tags + cancel tag) after a 🏴 ending at `i`, or 0. */
function validTagSequenceLength(text: string, i: number): number {
  let spec = '';
  let j = i;
  while (j + 1 < text.length && spec.length <= 7) {
    const cp = text.codePointAt(j)!;
    if (cp === 0xe007f) return SUBDIVISION_ID.test(spec) ? j + 2 - i : 0;
    if (cp < 0xe0020 || cp > 0xe007e) return 0;
    spec += String.fromCharCode(cp - 0xe0000);
    j += 2;
  }
  return 0;
}

function countCodePoints(text: string, from: number, to: number): number {
  let count = 0;
  for (let k = from; k < to; k++) {
    const c = text.charCodeAt(k);
    if (c < 0xdc00 || c > 0xdfff) count++;
  }
  return count;
}

function sameJoinerScript(a: string, b: string): boolean {
  if (!LETTER_OR_MARK.test(a) || !LETTER_OR_MARK.test(b)) return false;
  return JOINER_SCRIPTS.some((re) => re.test(a) && re.test(b));
}

/** True when the code points ending at `i` close an emoji (with modifiers, VS16, a tag sequence). */
function endsEmoji(text: string, i: number, tagSequenceEnd: number): boolean {
  let j = i;
  for (let guard = 0; guard < 8 && j > 0; guard++) {
    if (j === tagSequenceEnd) return true;
    const prev = charBefore(text, j);
    const cp = prev.codePointAt(0)!;
    if (cp === 0xfe0f || (cp >= 0x1f3fb && cp <= 0x1f3ff)) {
      j -= prev.length;
      continue;
    }
    return EXTENDED_PICTOGRAPHIC.test(prev);
  }
  return false;
}

function keepContext(text: string, i: number, cp: number, tagSequenceEnd: number): boolean {
  const prev = charBefore(text, i);
  if (cp === 0xfe0e || cp === 0xfe0f) {
    if (prev === '') return false;
    if (/^[0-9#*]$/.test(prev)) return text.charCodeAt(i + 1) === 0x20e3;
    return EMOJI.test(prev);
  }
  if (cp === 0x200c || cp === 0x200d) {
    const next = charAt(text, i + 1);
    if (cp === 0x200d && EXTENDED_PICTOGRAPHIC.test(next) && endsEmoji(text, i, tagSequenceEnd)) return true;
    return sameJoinerScript(prev, next);
  }
  // Mongolian free variation selectors
  return prev !== '' && MONGOLIAN.test(prev) && LETTER_OR_MARK.test(prev);
}

function kindsOf(bits: number): HiddenKind[] {
  const kinds: HiddenKind[] = [];
  for (const [i, kind] of KIND_BITS.entries()) if (bits & (1 << i)) kinds.push(kind);
  return kinds;
}

function stripSlow(text: string): StripResult {
  const n = text.length;
  const parts: string[] = [];
  let runStart = 0;
  let removed = 0;
  let bits = 0;
  let tagSequenceEnd = -1;
  const memo: TerminatorMemo = { from: 0, to: 0 };
  let i = 0;
  const drop = (from: number, to: number): void => {
    if (from > runStart) parts.push(text.slice(runStart, from));
    runStart = to;
  };
  while (i < n) {
    const cp = text.codePointAt(i)!;
    const width = cp > 0xffff ? 2 : 1;
    if (cp === 0x1f3f4) {
      const tail = validTagSequenceLength(text, i + 2);
      i += 2 + tail;
      if (tail > 0) tagSequenceEnd = i;
      continue;
    }
    let kind = classify(cp);
    if (kind === CONTEXT) kind = keepContext(text, i, cp, tagSequenceEnd) ? 0 : cp === 0x200c || cp === 0x200d ? ZW : VS;
    if (kind === 0) {
      i += width;
      continue;
    }
    const length = kind === ANSI ? ansiLength(text, i, memo) : width;
    drop(i, i + length);
    if (kind !== SILENT) {
      removed += kind === ANSI ? countCodePoints(text, i, i + length) : 1;
      bits |= kind;
    }
    i += length;
  }
  if (runStart === 0) return { text, removed, kinds: kindsOf(bits) };
  if (runStart < n) parts.push(text.slice(runStart));
  return { text: parts.join(''), removed, kinds: kindsOf(bits) };
}

/** Removes hidden characters (see the module comment). Returns the same string when there are none. */
export function stripHidden(text: string): StripResult {
  if (!CANDIDATE.test(text)) return { text, removed: 0, kinds: [] };
  return stripSlow(text);
}

/** True when `stripHidden(text)` would count a removal. One regex test for ordinary text. */
export function hasHidden(text: string): boolean {
  return CANDIDATE.test(text) && stripSlow(text).removed > 0;
}

export interface StripDeepResult<T> {
  value: T;
  removed: number;
  kinds: HiddenKind[];
}

export interface StripDeepOptions {
  /** Also strip object keys (default true). Keys with hidden characters are counted either way. */
  keys?: boolean;
}

/** Deeper than this, a JSON value is replaced by null and counted as one removal (fail closed). */
export const MAX_JSON_DEPTH = 256;

/**
 * Whether an object or array sits `limit` or more levels below the top of a JSON-like value (the
 * depth at which stripHiddenDeep cuts a subtree off). Iterative, so any depth is safe to ask about.
 */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  const stack: Array<{ value: object; depth: number }> = value !== null && typeof value === 'object' ? [{ value, depth: 0 }] : [];
  for (let next = stack.pop(); next; next = stack.pop()) {
    if (next.depth >= limit) return true;
    for (const child of Array.isArray(next.value) ? (next.value as unknown[]) : Object.values(next.value)) {
      if (child !== null && typeof child === 'object') stack.push({ value: child as object, depth: next.depth + 1 });
    }
  }
  return false;
}

const TOO_DEEP: unique symbol = Symbol('too-deep');

interface DeepState {
  removed: number;
  bits: number;
  keys: boolean;
}

function defineKey(out: Record<string, unknown>, key: string, value: unknown): void {
  // __proto__ must become an own data property, never the prototype.
  if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function stripValue(value: unknown, state: DeepState, depth: number): unknown {
  if (typeof value === 'string') {
    const r = stripHidden(value);
    if (r.removed > 0 || r.text !== value) {
      state.removed += r.removed;
      for (const k of r.kinds) state.bits |= 1 << KIND_BITS.indexOf(k);
    }
    return r.text;
  }
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_JSON_DEPTH) {
    state.removed += 1;
    state.bits |= TOO_DEEP_BIT;
    return TOO_DEEP;
  }
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item = value[i] as unknown;
      let next = stripValue(item, state, depth + 1);
      if (next === TOO_DEEP) next = null;
      if (next !== item && !out) out = value.slice(0, i);
      if (out) out.push(next);
    }
    return out ?? value;
  }
  if (!isPlainObject(value)) return value;
  let out: Record<string, unknown> | undefined;
  const entries = Object.keys(value);
  for (let i = 0; i < entries.length; i++) {
    const key = entries[i]!;
    const item = value[key];
    let next = stripValue(item, state, depth + 1);
    if (next === TOO_DEEP) next = null;
    let outKey = key;
    if (CANDIDATE.test(key)) {
      const r = stripHidden(key);
      state.removed += r.removed;
      for (const k of r.kinds) state.bits |= 1 << KIND_BITS.indexOf(k);
      if (state.keys) outKey = r.text;
    }
    if ((next !== item || outKey !== key) && !out) {
      out = {};
      for (let k = 0; k < i; k++) defineKey(out, entries[k]!, value[entries[k]!]);
    }
    // A stripped key that collides with a clean one does not overwrite it.
    if (out && !(outKey !== key && Object.prototype.hasOwnProperty.call(out, outKey))) defineKey(out, outKey, next);
  }
  return out ?? value;
}

/**
 * Strips hidden characters from every string in a JSON value (object keys too, unless
 * `keys: false`). Unchanged subtrees are returned as they are, never copied; nothing is mutated.
 */
export function stripHiddenDeep<T>(value: T, options: StripDeepOptions = {}): StripDeepResult<T> {
  const state: DeepState = { removed: 0, bits: 0, keys: options.keys ?? true };
  let out = stripValue(value, state, 0);
  if (out === TOO_DEEP) out = null;
  return { value: out as T, removed: state.removed, kinds: kindsOf(state.bits) };
}
