/**
 * `where` conditions (SPEC §4), compiled once at load into plain functions.
 *
 * Semantics:
 * - Every operator in one condition must hold (AND).
 * - A missing argument (undefined) never satisfies a condition, not even under `not:`.
 * - Anything that cannot be decided — a value of the wrong type, a path or URL that is rejected
 *   by canonicalisation (see canonical.ts), a `${claims.X}` / `${agent.X}` that is absent or not
 *   a string, a value too long to test — is UNDECIDED. Undecided wins over false inside one
 *   condition and passes through `not:` unchanged, and `compileCondition` turns it into false.
 *   So `not: {under: /etc}` is false (not true) for `/etc/%00`, and `not: {equals: ${claims.sub}}`
 *   is false when the caller has no `sub` claim.
 * - `equals` and `in` are strict (===) and case-sensitive; a value of another type than the
 *   operand (the string "5" against 5) is undecided, not a mismatch.
 * - `under`: both sides canonicalised by canonicalPath (case-sensitive); an absolute folder
 *   judges only absolute paths and a relative folder only relative ones.
 * - `glob`: the compileGlob dialect over the raw string value (no canonicalisation: use `under`
 *   for scoping paths), case-sensitive. Matched by a linear-time matcher, not a backtracking
 *   regex, because argument values are attacker-controlled and may be long.
 * - `regex`: anchored `^(?:…)$`, flags `su` (so `.` also matches newlines), at most 512
 *   characters, compiled once. Back-references, quantified groups that contain quantifiers or
 *   overlapping alternatives, and more than three unbounded quantifiers are refused at load; the
 *   longest value tested is 64 KiB with one unbounded quantifier, 4 KiB with two, 256 with three.
 * - `host`: the value must be an absolute URL with scheme http/https (or one listed in
 *   `schemes`); its canonical host (case-insensitive, IDNA) is matched against host patterns in
 *   which a whole-label `*` stands for one or more labels. Ports are ignored.
 * - `min`/`max`: JSON numbers only (a numeric string is undecided). `maxLength`: code points of
 *   a string or elements of an array.
 * - `${claims.NAME}` / `${agent.NAME}` may stand for the whole operand or part of it, in
 *   `equals`, `in`, `under`, `glob` and `host` (not `regex`: it is compiled once). A substituted
 *   value is always literal: glob characters in it match themselves; inside an `under` folder it
 *   must be one plain segment (no `/`, `\`, `%`, `.` or `..`); inside a host, LDH labels.
 */
import type { Condition } from '../config/schema.js';
import {
  canonicalHost,
  canonicalPath,
  canonicalUrl,
  hostPatternMatcher,
  DEFAULT_SCHEMES,
  isUnderCanonical,
  matchHostPattern,
  splitHostPattern,
  type HostPattern,
} from './canonical.js';
import { compileGlob, GlobError } from './glob.js';

/** Values a condition may reference: ${claims.NAME} and ${agent.NAME}. */
export interface RefContext {
  claims?: Readonly<Record<string, unknown>>;
  agent: Readonly<Record<string, unknown>>;
}

/** A compiled condition: no parsing or regex compilation happens when it runs. Returns false on anything it cannot decide (missing value, missing claim, wrong type, malformed). */
export type ConditionFn = (value: unknown, refs: RefContext) => boolean;

/**
 * true / false, or undefined when the condition cannot be decided (see the module comment).
 * A missing argument is false, as SPEC §4 says. For a deny or ask rule, treating undefined as a
 * match keeps malformed input from slipping past the rule.
 */
export type ConditionVerdict = boolean | undefined;
export type ConditionVerdictFn = (value: unknown, refs: RefContext) => ConditionVerdict;

/** A problem in a condition found when compiling it; `path` is relative to the condition (`not.host[1]`). */
export class ConditionError extends Error {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
    this.name = 'ConditionError';
  }
}

/** Longest string value a glob or regex is run against. */
export const MAX_MATCHED_LENGTH = 65_536;
const MAX_REGEX_LENGTH = 512;
/** A counted repetition above this is treated like an unbounded one. */
const LARGE_REPEAT = 32;
/** Longest value tested by a regex, by its number of unbounded quantifiers (keeps n^k near 2^24). */
const REGEX_VALUE_LIMITS = [MAX_MATCHED_LENGTH, MAX_MATCHED_LENGTH, 4_096, 256];

const OPERATORS = ['equals', 'in', 'under', 'glob', 'regex', 'host', 'schemes', 'min', 'max', 'maxLength', 'not'] as const;

type Check = (value: unknown, refs: RefContext) => ConditionVerdict;

// ---------------------------------------------------------------------------------------------
// References

interface Ref {
  readonly scope: 'claims' | 'agent';
  readonly name: string;
}
type Part = string | Ref;
/** A string operand split at compile time into literal text and references. */
interface Template {
  readonly parts: readonly Part[];
}

const REF = /\$\{([^}]*)\}/g;
const REF_INNER = /^(claims|agent)\.(.+)$/s;
const REF_LIKE = /^[A-Za-z_][A-Za-z0-9_]*[.:]/;

function parseTemplate(text: string, path: string): Template {
  const parts: Part[] = [];
  let last = 0;
  for (const m of text.matchAll(REF)) {
    const inner = m[1]!;
    const ref = REF_INNER.exec(inner);
    if (!ref) {
      if (REF_LIKE.test(inner)) throw new ConditionError(`unknown reference \${${inner}}: write \${claims.NAME} or \${agent.NAME}`, path);
      continue;
    }
    if (m.index > last) parts.push(text.slice(last, m.index));
    parts.push({ scope: ref[1] as Ref['scope'], name: ref[2]! });
    last = m.index + m[0].length;
  }
  if (last < text.length || parts.length === 0) parts.push(text.slice(last));
  return { parts };
}

function isStatic(t: Template): boolean {
  return t.parts.every((p) => typeof p === 'string');
}

function templateUsesClaims(text: string): boolean {
  for (const m of text.matchAll(REF)) if (REF_INNER.exec(m[1]!)?.[1] === 'claims') return true;
  return false;
}

/** A claim or agent value, only if it is an own string property. */
function resolveRef(ref: Ref, refs: RefContext): string | undefined {
  const source = refs[ref.scope];
  if (source === undefined || source === null || !Object.hasOwn(source, ref.name)) return undefined;
  const v = source[ref.name];
  return typeof v === 'string' ? v : undefined;
}

/** Substitutes references; `accept` vets each substituted value. Undefined if any is refused. */
function resolveTemplate(t: Template, refs: RefContext, accept?: (v: string) => boolean): string | undefined {
  let out = '';
  for (const part of t.parts) {
    if (typeof part === 'string') {
      out += part;
      continue;
    }
    const v = resolveRef(part, refs);
    if (v === undefined || (accept !== undefined && !accept(v))) return undefined;
    out += v;
  }
  return out;
}

/** The template with every reference replaced by a placeholder, to validate the literal parts. */
function withPlaceholders(t: Template, placeholder: string): string {
  return t.parts.map((p) => (typeof p === 'string' ? p : placeholder)).join('');
}

// ---------------------------------------------------------------------------------------------
// Scalars: equals, in, min, max, maxLength

type Scalar = string | number | boolean;

function scalarOperand(v: unknown, path: string): Scalar {
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  throw new ConditionError('expected a string, a finite number or a boolean', path);
}

/** A compiled operand of equals/in: a constant, or a string template resolved at call time. */
type Operand =
  | { readonly type: 'string' | 'number' | 'boolean'; readonly constant: Scalar }
  | { readonly type: 'string'; readonly template: Template };

function compileOperand(raw: unknown, path: string): Operand {
  const v = scalarOperand(raw, path);
  if (typeof v !== 'string') return { type: typeof v as 'number' | 'boolean', constant: v };
  const t = parseTemplate(v, path);
  return isStatic(t) ? { type: 'string', constant: v } : { type: 'string', template: t };
}

function operandValue(o: Operand, refs: RefContext): Scalar | undefined {
  return 'constant' in o ? o.constant : resolveTemplate(o.template, refs);
}

function compileEquals(raw: unknown, path: string): Check {
  const operand = compileOperand(raw, path);
  return (value, refs) => {
    if (typeof value !== operand.type) return undefined;
    const expected = operandValue(operand, refs);
    return expected === undefined ? undefined : value === expected;
  };
}

function compileIn(raw: unknown, path: string): Check {
  if (!Array.isArray(raw) || raw.length === 0) throw new ConditionError('expected a non-empty list', path);
  const operands = raw.map((item, i) => compileOperand(item, `${path}[${i}]`));
  const types = new Set<string>(operands.map((o) => o.type));
  const constants: Scalar[] = [];
  for (const o of operands) if ('constant' in o) constants.push(o.constant);
  if (constants.length === operands.length) {
    const set = new Set<unknown>(constants);
    return (value) => (types.has(typeof value) ? set.has(value) : undefined);
  }
  return (value, refs) => {
    if (!types.has(typeof value)) return undefined;
    let found = false;
    for (const o of operands) {
      const expected = operandValue(o, refs);
      if (expected === undefined) return undefined;
      if (expected === value) found = true;
    }
    return found;
  };
}

function finiteNumber(raw: unknown, path: string): number {
  if (typeof raw !== 'number' || !Number.isFinite(raw)) throw new ConditionError('expected a finite number', path);
  return raw;
}

function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function compileMaxLength(raw: unknown, path: string): Check {
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 0) throw new ConditionError('expected a non-negative integer', path);
  const limit = raw;
  return (value) => {
    if (Array.isArray(value)) return value.length <= limit;
    if (typeof value !== 'string') return undefined;
    if (value.length <= limit) return true; // code points never outnumber UTF-16 units
    let n = 0;
    for (const _ of value) if (++n > limit) return false;
    return true;
  };
}

// ---------------------------------------------------------------------------------------------
// under

/** A value substituted into a folder must be one plain segment. */
function isPlainSegment(v: string): boolean {
  return v !== '' && v !== '.' && v !== '..' && !/[/\\%]/.test(v);
}

function compileUnder(raw: unknown, path: string): Check {
  if (typeof raw !== 'string' || raw === '') throw new ConditionError('expected a folder path', path);
  const t = parseTemplate(raw, path);
  const invalid = new ConditionError(`${JSON.stringify(raw)} is not an acceptable folder (see canonicalPath: no "..", control or look-alike characters, valid percent-encoding)`, path);
  if (isStatic(t)) {
    const folder = canonicalPath(raw);
    if (folder === undefined) throw invalid;
    return (value) => judgeUnder(value, folder);
  }
  if (canonicalPath(withPlaceholders(t, 'x')) === undefined) throw invalid;
  const whole = t.parts.length === 1;
  return (value, refs) => {
    const resolved = resolveTemplate(t, refs, whole ? undefined : isPlainSegment);
    const folder = resolved === undefined ? undefined : canonicalPath(resolved);
    return folder === undefined ? undefined : judgeUnder(value, folder);
  };
}

function judgeUnder(value: unknown, folder: string): ConditionVerdict {
  if (typeof value !== 'string') return undefined;
  const p = canonicalPath(value);
  // A relative path against an absolute folder (or the reverse) cannot be judged.
  if (p === undefined || p.startsWith('/') !== folder.startsWith('/')) return undefined;
  return isUnderCanonical(p, folder);
}

// ---------------------------------------------------------------------------------------------
// glob: the compileGlob dialect, matched in O(value length × pattern length)

type GlobToken =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'ref'; readonly ref: Ref }
  | { readonly kind: 'star' } // any run without '/'
  | { readonly kind: 'any' } // any run
  | { readonly kind: 'one' } // one character except '/'
  | { readonly kind: 'alt'; readonly options: readonly GlobToken[][] };

function parseGlobTemplate(t: Template): GlobToken[] {
  const items: Array<string | Ref> = [];
  for (const part of t.parts) {
    if (typeof part === 'string') for (let i = 0; i < part.length; i++) items.push(part[i]!);
    else items.push(part);
  }
  let i = 0;
  const pushText = (seq: GlobToken[], ch: string): void => {
    const last = seq.at(-1);
    if (last?.kind === 'text') seq[seq.length - 1] = { kind: 'text', text: last.text + ch };
    else seq.push({ kind: 'text', text: ch });
  };
  const parse = (depth: number): GlobToken[][] => {
    const options: GlobToken[][] = [[]];
    while (i < items.length) {
      const item = items[i++]!;
      const seq = options.at(-1)!;
      if (typeof item !== 'string') seq.push({ kind: 'ref', ref: item });
      else if (item === '*' && items[i] === '*') {
        i++;
        seq.push({ kind: 'any' });
      } else if (item === '*') seq.push({ kind: 'star' });
      else if (item === '?') seq.push({ kind: 'one' });
      else if (item === '{') seq.push({ kind: 'alt', options: parse(depth + 1) });
      else if (item === '}' && depth > 0) return options;
      else if (item === ',' && depth > 0) options.push([]);
      else pushText(seq, item);
    }
    if (depth > 0) throw new GlobError('unbalanced "{"');
    return options;
  };
  return parse(0)[0]!;
}

const SLASH = 0x2f;

/** Positions reachable after `tokens`, given the positions reachable before them. */
function globStep(tokens: readonly GlobToken[], start: Uint8Array, value: string, refText: (ref: Ref) => string): Uint8Array {
  const n = value.length;
  let reach = start;
  for (const token of tokens) {
    const next = new Uint8Array(n + 1);
    let any = false;
    switch (token.kind) {
      case 'text':
      case 'ref': {
        const text = token.kind === 'text' ? token.text : refText(token.ref);
        for (let i = 0; i + text.length <= n; i++) {
          if (reach[i] && value.startsWith(text, i)) {
            next[i + text.length] = 1;
            any = true;
          }
        }
        break;
      }
      case 'one':
        for (let i = 0; i < n; i++) {
          if (reach[i] && value.charCodeAt(i) !== SLASH) {
            next[i + 1] = 1;
            any = true;
          }
        }
        break;
      case 'star':
      case 'any':
        for (let i = 0; i <= n; i++) {
          const carried = i > 0 && next[i - 1] === 1 && (token.kind === 'any' || value.charCodeAt(i - 1) !== SLASH);
          if (reach[i] || carried) {
            next[i] = 1;
            any = true;
          }
        }
        break;
      case 'alt':
        for (const option of token.options) {
          const r = globStep(option, reach, value, refText);
          for (let i = 0; i <= n; i++) {
            if (r[i]) {
              next[i] = 1;
              any = true;
            }
          }
        }
        break;
    }
    if (!any) return next;
    reach = next;
  }
  return reach;
}

function compileGlobCondition(raw: unknown, path: string): Check {
  if (typeof raw !== 'string' || raw === '') throw new ConditionError('expected a glob pattern', path);
  const t = parseTemplate(raw, path);
  let tokens: GlobToken[];
  try {
    compileGlob(withPlaceholders(t, 'x')); // the same validation as name globs
    tokens = parseGlobTemplate(t);
  } catch (e) {
    if (e instanceof GlobError) throw new ConditionError(e.message, path);
    throw e;
  }
  const needsRefs = !isStatic(t);
  return (value, refs) => {
    if (typeof value !== 'string' || value.length > MAX_MATCHED_LENGTH) return undefined;
    const resolved = new Map<Ref, string>();
    if (needsRefs) {
      for (const part of t.parts) {
        if (typeof part === 'string') continue;
        const v = resolveRef(part, refs);
        if (v === undefined) return undefined;
        resolved.set(part, v);
      }
    }
    const start = new Uint8Array(value.length + 1);
    start[0] = 1;
    return globStep(tokens, start, value, (ref) => resolved.get(ref)!)[value.length] === 1;
  };
}

// ---------------------------------------------------------------------------------------------
// regex

interface Quantifier {
  readonly length: number;
  readonly max: number;
}

function readQuantifier(src: string, i: number): Quantifier | undefined {
  const c = src[i];
  let q: Quantifier | undefined;
  if (c === '*' || c === '+') q = { length: 1, max: Infinity };
  else if (c === '?') q = { length: 1, max: 1 };
  else if (c === '{') {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(src.slice(i));
    if (m) q = { length: m[0].length, max: m[2] === undefined ? Number(m[1]) : m[3] === '' ? Infinity : Number(m[3]) };
  }
  if (q && src[i + q.length] === '?') q = { length: q.length + 1, max: q.max }; // lazy
  return q;
}

/** Length of the escape starting at src[i] === '\\'. */
function escapeLength(src: string, i: number): number {
  const next = src[i + 1];
  if ((next === 'u' || next === 'p' || next === 'P') && src[i + 2] === '{') {
    const close = src.indexOf('}', i + 3);
    return close === -1 ? 2 : close - i + 1;
  }
  if (next === 'u') return 6;
  if (next === 'x') return 4;
  if (next === 'c') return 3;
  return 2;
}

interface GroupFrame {
  /** Holds a quantifier, directly or in a nested group. */
  hasQuantifier: boolean;
  /** Holds alternatives that may start with the same character, directly or nested. */
  ambiguous: boolean;
  alternation: boolean;
  /** First literal character of each alternative; null when unknown or not a single literal. */
  firsts: Array<string | null>;
  atAlternativeStart: boolean;
}

function newFrame(): GroupFrame {
  return { hasQuantifier: false, ambiguous: false, alternation: false, firsts: [], atAlternativeStart: true };
}

function overlappingAlternatives(f: GroupFrame): boolean {
  if (!f.alternation) return false;
  if (f.atAlternativeStart) f.firsts.push(null); // an empty last alternative
  const seen = new Set<string>();
  for (const first of f.firsts) {
    if (first === null || seen.has(first)) return true;
    seen.add(first);
  }
  return false;
}

/**
 * A static check for catastrophic backtracking: returns the number of unbounded quantifiers, or
 * a problem. Refuses back-references, repeated groups that contain a quantifier (`(a+)+`,
 * `(a*){3}`) or alternatives that may start alike (`(a|ab)*`). `source` already compiled in `u`
 * mode, so its syntax is valid.
 */
export function checkRegexSafety(source: string): { unbounded: number } | { problem: string } {
  const frames: GroupFrame[] = [newFrame()];
  let unbounded = 0;
  const atom = (first: string | null): void => {
    const top = frames.at(-1)!;
    if (top.atAlternativeStart) {
      top.firsts.push(first);
      top.atAlternativeStart = false;
    }
  };
  const quantifier = (i: number): number => {
    const q = readQuantifier(source, i);
    if (q === undefined) return 0;
    if (q.max > LARGE_REPEAT) unbounded++;
    frames.at(-1)!.hasQuantifier = true;
    return q.length;
  };
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (c === '\\') {
      const next = source[i + 1] ?? '';
      if (/[1-9]/.test(next) || next === 'k') return { problem: 'back-references are not allowed (they defeat the backtracking guard)' };
      const length = escapeLength(source, i);
      atom(/[\^$\\.*+?()[\]{}|/-]/.test(next) ? next : null);
      i += length;
      i += quantifier(i);
    } else if (c === '[') {
      let j = i + 1;
      while (j < source.length && source[j] !== ']') j += source[j] === '\\' ? 2 : 1;
      atom(null);
      i = j + 1;
      i += quantifier(i);
    } else if (c === '(') {
      atom(null);
      frames.push(newFrame());
      if (source.startsWith('(?<', i) && source[i + 3] !== '=' && source[i + 3] !== '!') i = source.indexOf('>', i) + 1;
      else if (source.startsWith('(?<', i)) i += 4;
      else if (source.startsWith('(?', i)) i += 3;
      else i += 1;
    } else if (c === ')') {
      const group = frames.pop()!;
      const parent = frames.at(-1)!;
      const ambiguous = group.ambiguous || overlappingAlternatives(group);
      const q = readQuantifier(source, i + 1);
      if (q !== undefined && q.max > 1) {
        if (group.hasQuantifier) return { problem: 'a repeated group may not contain a quantifier, e.g. (a+)+ (catastrophic backtracking)' };
        if (ambiguous) return { problem: 'a repeated group may not hold alternatives that can start alike, e.g. (a|ab)* (catastrophic backtracking)' };
      }
      parent.hasQuantifier ||= group.hasQuantifier;
      parent.ambiguous ||= ambiguous;
      i += 1;
      i += quantifier(i);
    } else if (c === '|') {
      const top = frames.at(-1)!;
      if (top.atAlternativeStart) top.firsts.push(null);
      top.alternation = true;
      top.atAlternativeStart = true;
      i += 1;
    } else {
      const cp = source.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      atom(c === '.' || c === '^' || c === '$' ? null : ch);
      i += ch.length;
      i += quantifier(i);
    }
  }
  return { unbounded };
}

function compileRegex(raw: unknown, path: string): Check {
  if (typeof raw !== 'string' || raw === '') throw new ConditionError('expected a regular expression', path);
  if (raw.length > MAX_REGEX_LENGTH) throw new ConditionError(`longer than ${MAX_REGEX_LENGTH} characters`, path);
  if (!isStatic(parseTemplate(raw, path))) throw new ConditionError('a regex cannot reference ${claims.*} or ${agent.*}: it is compiled once; use equals, in or glob', path);
  let re: RegExp;
  try {
    re = new RegExp(`^(?:${raw})$`, 'su');
  } catch (e) {
    throw new ConditionError(`invalid regular expression: ${(e as Error).message}`, path);
  }
  const safety = checkRegexSafety(raw);
  if ('problem' in safety) throw new ConditionError(safety.problem, path);
  const limit = REGEX_VALUE_LIMITS[safety.unbounded];
  if (limit === undefined) throw new ConditionError(`more than ${REGEX_VALUE_LIMITS.length - 1} unbounded quantifiers (backtracking grows as length^k); simplify it or use glob`, path);
  return (value) => {
    if (typeof value !== 'string' || value.length > limit) return undefined;
    try {
      return re.test(value);
    } catch {
      return undefined; // backtrack stack exhausted
    }
  };
}

// ---------------------------------------------------------------------------------------------
// host

const SCHEME_NAME = /^[a-z][a-z0-9+.-]*$/;
const HOST_LITERAL = /^[a-z0-9.*_-]*$/;
const HOST_REF_VALUE = /^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*$/;

/** A compiled host pattern: a fixed matcher, or one resolved per call from references. */
type HostCheck = { readonly matches: (host: string) => boolean } | { readonly resolve: (refs: RefContext) => HostPattern | undefined };

function compileHostPattern(raw: unknown, path: string): HostCheck {
  if (typeof raw !== 'string' || raw === '') throw new ConditionError('expected a host pattern', path);
  if (raw.includes('?')) throw new ConditionError('"?" is not supported in host patterns; use "*"', path);
  const t = parseTemplate(raw, path);
  const invalid = new ConditionError(`${JSON.stringify(raw)} is not a host pattern: write a bare host like example.com, *.example.com, 127.0.0.1 or [::1] (no scheme, port or path)`, path);
  if (isStatic(t)) {
    const canonical = canonicalHost(raw, true);
    const pattern = canonical === undefined ? undefined : splitHostPattern(canonical);
    if (pattern === undefined) throw invalid;
    return { matches: hostPatternMatcher(pattern) };
  }
  const lowered: Template = { parts: t.parts.map((p) => (typeof p === 'string' ? p.toLowerCase() : p)) };
  if (!lowered.parts.every((p) => typeof p !== 'string' || HOST_LITERAL.test(p))) {
    throw new ConditionError('a host pattern with a reference may only hold ASCII letters, digits, ".", "-", "_" and "*"', path);
  }
  const sample = canonicalHost(withPlaceholders(lowered, 'x'), true);
  if (sample === undefined || splitHostPattern(sample) === undefined) throw invalid;
  return {
    resolve(refs) {
      let resolved = resolveTemplate(lowered, refs, (v) => HOST_REF_VALUE.test(v.toLowerCase()));
      if (resolved === undefined) return undefined;
      resolved = resolved.toLowerCase();
      if (resolved.endsWith('.')) resolved = resolved.slice(0, -1);
      return splitHostPattern(resolved);
    },
  };
}

function compileHost(raw: unknown, schemesRaw: unknown, path: (key: string) => string): Check {
  const list: unknown[] = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) throw new ConditionError('expected at least one host pattern', path('host'));
  const patterns = list.map((p, i) => compileHostPattern(p, Array.isArray(raw) ? `${path('host')}[${i}]` : path('host')));
  let schemes: readonly string[] = DEFAULT_SCHEMES;
  if (schemesRaw !== undefined) {
    if (!Array.isArray(schemesRaw) || schemesRaw.length === 0) throw new ConditionError('expected a non-empty list of schemes', path('schemes'));
    schemes = schemesRaw.map((s, i) => {
      const name = typeof s === 'string' ? s.toLowerCase().replace(/:$/, '') : '';
      if (!SCHEME_NAME.test(name)) throw new ConditionError('expected a URL scheme such as https', `${path('schemes')}[${i}]`);
      return name;
    });
  }
  return (value, refs) => {
    if (typeof value !== 'string') return undefined;
    const url = canonicalUrl(value, schemes);
    if (url === undefined) return undefined;
    let matched = false;
    for (const pattern of patterns) {
      if ('matches' in pattern) {
        if (!matched && url.host !== '' && pattern.matches(url.host)) matched = true;
        continue;
      }
      // A reference that cannot be resolved leaves the condition undecided, even after a match.
      const p = pattern.resolve(refs);
      if (p === undefined) return undefined;
      if (!matched && url.host !== '' && matchHostPattern(p, url.host)) matched = true;
    }
    return matched;
  };
}

// ---------------------------------------------------------------------------------------------
// Putting a condition together

function compileChecks(cond: Condition, prefix: string): Check {
  const at = (key: string): string => `${prefix}${key}`;
  if (typeof cond !== 'object' || cond === null || Array.isArray(cond)) throw new ConditionError('expected a condition object', prefix.replace(/\.$/, ''));
  for (const key of Object.keys(cond)) {
    if (!(OPERATORS as readonly string[]).includes(key)) throw new ConditionError(`unknown operator "${key}"`, at(key));
  }
  const checks: Check[] = [];
  const c = cond as Record<string, unknown>;
  if (c.equals !== undefined) checks.push(compileEquals(c.equals, at('equals')));
  if (c.in !== undefined) checks.push(compileIn(c.in, at('in')));
  if (c.under !== undefined) checks.push(compileUnder(c.under, at('under')));
  if (c.glob !== undefined) checks.push(compileGlobCondition(c.glob, at('glob')));
  if (c.regex !== undefined) checks.push(compileRegex(c.regex, at('regex')));
  if (c.host !== undefined) checks.push(compileHost(c.host, c.schemes, at));
  else if (c.schemes !== undefined) throw new ConditionError('schemes only applies together with host', at('schemes'));
  const min = c.min === undefined ? undefined : finiteNumber(c.min, at('min'));
  const max = c.max === undefined ? undefined : finiteNumber(c.max, at('max'));
  if (min !== undefined && max !== undefined && min > max) throw new ConditionError(`max (${max}) is below min (${min}): the condition can never hold`, at('max'));
  if (min !== undefined) checks.push((value) => (isNumber(value) ? value >= min : undefined));
  if (max !== undefined) checks.push((value) => (isNumber(value) ? value <= max : undefined));
  if (c.maxLength !== undefined) checks.push(compileMaxLength(c.maxLength, at('maxLength')));
  if (c.not !== undefined) {
    const inner = compileChecks(c.not as Condition, at('not.'));
    checks.push((value, refs) => {
      const r = inner(value, refs);
      return r === undefined ? undefined : !r;
    });
  }
  if (checks.length === 0) throw new ConditionError('a condition needs at least one operator', prefix.replace(/\.$/, ''));
  if (checks.length === 1) return checks[0]!;
  return (value, refs) => {
    let result = true;
    for (const check of checks) {
      const r = check(value, refs);
      if (r === undefined) return undefined; // undecided wins over false, so `not` cannot turn it into true
      if (!r) result = false;
    }
    return result;
  };
}

/**
 * The verdict of a condition on a PRESENT value: a caller must itself answer false for an
 * undefined value (a missing argument never satisfies a condition), as compileConditionVerdict
 * does. For hot loops that hold many conditions: one closure less per call. Throws ConditionError.
 */
export function compileConditionCheck(cond: Condition): ConditionVerdictFn {
  return compileChecks(cond, '');
}

/** Compiles a condition to a three-valued verdict (see ConditionVerdict). Throws ConditionError. */
export function compileConditionVerdict(cond: Condition): ConditionVerdictFn {
  const check = compileConditionCheck(cond);
  return (value, refs) => (value === undefined ? false : check(value, refs));
}

/** Compiles a condition; the result is true only when the condition certainly holds. Throws ConditionError. */
export function compileCondition(cond: Condition): ConditionFn {
  const verdict = compileConditionVerdict(cond);
  return (value, refs) => verdict(value, refs) === true;
}

/**
 * Reads an argument by name, or by JSON pointer (RFC 6901) when the key starts with "/"
 * ("/options/path", "~1" for "/", "~0" for "~", array elements by index). Only own properties
 * are followed. undefined if absent.
 */
export function readArgument(args: Readonly<Record<string, unknown>> | undefined, key: string): unknown {
  if (args === undefined || args === null || typeof args !== 'object') return undefined;
  if (!key.startsWith('/')) return Object.hasOwn(args, key) ? args[key] : undefined;
  let current: unknown = args;
  for (const token of key.slice(1).split('/')) {
    if (/~(?![01])/.test(token)) return undefined;
    const name = token.replaceAll('~1', '/').replaceAll('~0', '~');
    if (Array.isArray(current)) {
      if (!/^(?:0|[1-9]\d*)$/.test(name)) return undefined;
      current = current[Number(name)];
    } else if (typeof current === 'object' && current !== null) {
      if (!Object.hasOwn(current, name)) return undefined;
      current = (current as Record<string, unknown>)[name];
    } else {
      return undefined;
    }
    if (current === undefined) return undefined;
  }
  return current;
}

/** Human-readable one-line description of a condition, e.g. `path under /marketing` — used by explain and by deny reasons. */
export function describeCondition(key: string, cond: Condition): string {
  const parts: string[] = [];
  const quote = (v: unknown): string => JSON.stringify(v);
  if (cond.equals !== undefined) parts.push(`${key} equals ${quote(cond.equals)}`);
  if (cond.in !== undefined) parts.push(`${key} is one of ${cond.in.map(quote).join(', ')}`);
  if (cond.under !== undefined) parts.push(`${key} under ${cond.under}`);
  if (cond.glob !== undefined) parts.push(`${key} matches ${cond.glob}`);
  if (cond.regex !== undefined) parts.push(`${key} matches /${cond.regex}/`);
  if (cond.host !== undefined) {
    const hosts = typeof cond.host === 'string' ? [cond.host] : cond.host;
    const schemes = cond.schemes === undefined ? '' : ` (${cond.schemes.join(', ')})`;
    parts.push(`${key} host is ${hosts.join(' or ')}${schemes}`);
  }
  if (cond.min !== undefined && cond.max !== undefined) parts.push(`${key} between ${cond.min} and ${cond.max}`);
  else if (cond.min !== undefined) parts.push(`${key} at least ${cond.min}`);
  else if (cond.max !== undefined) parts.push(`${key} at most ${cond.max}`);
  if (cond.maxLength !== undefined) parts.push(`${key} length at most ${cond.maxLength}`);
  if (cond.not !== undefined) parts.push(`not (${describeCondition(key, cond.not)})`);
  return parts.join(' and ');
}

/** true if the condition (or any nested not:) references ${claims.*} */
export function usesClaims(cond: Condition): boolean {
  const strings: unknown[] = [cond.equals, ...(cond.in ?? []), cond.under, cond.glob, cond.regex, ...(typeof cond.host === 'string' ? [cond.host] : (cond.host ?? []))];
  if (strings.some((s) => typeof s === 'string' && templateUsesClaims(s))) return true;
  return cond.not !== undefined && usesClaims(cond.not);
}
