/**
 * Canonical forms for the scoping conditions (SPEC §4): file paths for `under`, URLs and hosts
 * for `host`. Every function here fails closed: an input it cannot canonicalise unambiguously
 * gives `undefined` (or `false`), never a best guess.
 *
 * Paths (`canonicalPath`):
 * - Percent-encoding is decoded exactly ONCE. `%2e%2e` is `..`; `%252e%252e` becomes the literal
 *   name `%2e%2e`, which is an ordinary segment, not `..` (and cannot escape). Invalid encoding
 *   (`%`, `%zz`, overlong or otherwise invalid UTF-8 such as `%c0%ae`) is rejected.
 * - Rejected outright: C0/C1 control characters (NUL included), lone surrogates, invisible
 *   format characters (soft hyphen, zero-width, bidi controls, tags), and look-alike slashes and
 *   dots (∕ ⁄ ／ ⧸ ╱ ＼ ․ ‥ … ．, plus any character whose NFKC form contains `.`, `/` or `\`).
 *   Rejecting is safer than mapping them: no filesystem agrees on what they mean.
 * - `\` is a separator, like `/`. Repeated separators collapse, `.` is dropped and `..` pops a
 *   segment; a `..` that would climb above the start (root, or the base of a relative path) or
 *   pop a drive segment (`C:`) rejects the whole path.
 * - A path starting with two separators (`//x`, `\\server\share`) is rejected: POSIX leaves
 *   `//` implementation-defined and on Windows it names a network (UNC) path.
 * - Segments made only of dots and whitespace other than `.` and `..` (`...`, `. .`, `.. `) are
 *   rejected: Windows trims trailing dots and spaces, so they are `..` in disguise.
 * - Paths are case-SENSITIVE. Case-insensitive filesystems (macOS, Windows) and Windows' trimming
 *   of a trailing dot or space from ordinary names are out of scope.
 * - A leading `~` is not expanded: `~/x` is a relative path. A Windows drive `C:` is an ordinary
 *   first segment, so `C:\x` is the relative path `C:/x`.
 * - The canonical form is the decoded path with `%` itself written back as `%25`, so that
 *   canonicalising it again gives the same string.
 *
 * URLs (`canonicalUrl`): parsed by the WHATWG `URL` (IDNA, IPv4 number forms, IPv6), scheme and
 * host lower-cased, one trailing dot stripped from the host, IPv4-mapped IPv6 written as IPv4.
 * Inputs that parsers disagree about are rejected rather than interpreted: control characters,
 * backslashes, surrounding whitespace, userinfo or `%` in the authority, `http:host` without
 * `//`, and anything that is not an absolute URL. Host matching is about names, not addresses:
 * DNS tricks (a name that resolves to 127.0.0.1, rebinding) are out of scope.
 */

/** Longest path accepted, before decoding (Linux PATH_MAX is 4096). */
export const MAX_PATH_LENGTH = 8_192;
/** Longest URL accepted. */
export const MAX_URL_LENGTH = 65_536;
/** Schemes a `host` condition accepts unless it lists its own. */
export const DEFAULT_SCHEMES: readonly string[] = ['http', 'https'];

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const INVISIBLE = /[\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]|\udb40[\udc00-\udc7f]/;
const LOOKALIKE = /[\u2024-\u2026\u2044\u2215\u2216\u2571\u2572\u29f5\u29f8\u29f9\ufe52\ufe68\uff0e\uff0f\uff3c]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const NON_ASCII = /[^\u0000-\u007f]/;
const SEPARATOR_OR_DOT = /[./\\]/;
const DOTS_AND_SPACES = /^[.\s]+$/;
const DRIVE = /^[A-Za-z]:$/;

/** Schemes whose URLs always carry an authority (`scheme://host`). */
const AUTHORITY_SCHEMES = new Set(['http', 'https', 'ws', 'wss', 'ftp', 'file']);
const DEFAULT_PORTS: Readonly<Record<string, number>> = { http: 80, https: 443, ws: 80, wss: 443, ftp: 21 };
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;
const V4_MAPPED = /^\[::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})\]$/;

/** True when text contains something no path or host may contain (see the module comment). */
function hasForbiddenCharacter(text: string): boolean {
  if (CONTROL.test(text) || INVISIBLE.test(text) || LOOKALIKE.test(text) || LONE_SURROGATE.test(text)) return true;
  if (!NON_ASCII.test(text)) return false;
  for (const ch of text) {
    if (ch.charCodeAt(0) > 0x7f && SEPARATOR_OR_DOT.test(ch.normalize('NFKC'))) return true;
  }
  return false;
}

/**
 * The canonical form of a file path, or undefined when the path is rejected (see the module
 * comment for every rule). Absolute results start with `/`; an empty relative path is `.`.
 */
/**
 * The last few canonicalisations: one call's argument is usually judged by several rules'
 * conditions in a row. Deterministic (a pure function's results), bounded, and small.
 */
const MEMO_SIZE = 64;
function memo<R>(): { get(key: string): R | undefined; has(key: string): boolean; set(key: string, value: R): R } {
  const map = new Map<string, R>();
  return {
    get: (key) => map.get(key),
    has: (key) => map.has(key),
    set(key, value) {
      if (map.size >= MEMO_SIZE) map.delete(map.keys().next().value as string);
      map.set(key, value);
      return value;
    },
  };
}
const pathMemo = memo<string | undefined>();
const urlMemo = memo<CanonicalUrl | undefined>();

/**
 * Paths that are canonical as written: plain ASCII segments that do not start with a dot (so
 * no `.`, `..` or dot-only names), no `%`, no backslash, no empty segment. The general path
 * below gives these back unchanged; the property tests hold the two to that.
 */
const PLAIN_PATH = /^\/?[A-Za-z0-9_-][A-Za-z0-9_.-]*(?:\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$/;

/** The last path canonicalised: every rule judging one argument asks about the same string. */
let lastPath = '';
let lastCanonicalPath: string | undefined;

export function canonicalPath(p: string): string | undefined {
  if (typeof p !== 'string') return undefined;
  if (p === lastPath) return lastCanonicalPath;
  let canonical: string | undefined;
  if (p.length <= MAX_PATH_LENGTH && PLAIN_PATH.test(p)) canonical = p;
  else canonical = pathMemo.has(p) ? pathMemo.get(p) : pathMemo.set(p, canonicalPathUncached(p));
  lastPath = p;
  lastCanonicalPath = canonical;
  return canonical;
}

/** The general path algorithm, without fast path or memo (tests hold the fast path to it). */
export function canonicalPathUncached(p: string): string | undefined {
  if (p.length === 0 || p.length > MAX_PATH_LENGTH) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(p);
  } catch {
    return undefined;
  }
  if (hasForbiddenCharacter(decoded)) return undefined;
  const unified = decoded.replaceAll('\\', '/');
  if (unified.startsWith('//')) return undefined;
  const segments: string[] = [];
  for (const segment of unified.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      const popped = segments.pop();
      if (popped === undefined || DRIVE.test(popped)) return undefined;
      continue;
    }
    if (DOTS_AND_SPACES.test(segment)) return undefined;
    segments.push(segment);
  }
  const body = segments.map((s) => s.replaceAll('%', '%25')).join('/');
  if (unified.startsWith('/')) return `/${body}`;
  return body === '' ? '.' : body;
}

/**
 * True when the canonical path lies in (or is) the canonical folder. An absolute folder contains
 * only absolute paths and a relative folder only relative ones.
 */
export function isUnderCanonical(path: string, folder: string): boolean {
  const absolute = folder.startsWith('/');
  if (path.startsWith('/') !== absolute) return false;
  if (folder === '/' || folder === '.') return true;
  return path === folder || path.startsWith(`${folder}/`);
}

/** True when `path` lies in (or is) `folder`, both canonicalised first; false if either is rejected. */
export function isUnder(path: string, folder: string): boolean {
  const p = canonicalPath(path);
  const f = canonicalPath(folder);
  return p !== undefined && f !== undefined && isUnderCanonical(p, f);
}

export interface CanonicalUrl {
  /** Lower-case, without the colon. */
  scheme: string;
  /** Canonical host (see canonicalHost); empty for URLs without one (`data:`, `file:///x`). */
  host: string;
  /** Explicit port, else the scheme's default; undefined when the scheme has none. */
  port: number | undefined;
  /** The path as the URL parser serialised it (dot segments resolved, percent-encoded). */
  path: string;
}

/** Hosts parsed by URL, brought to the form patterns are compared with. */
function finishHost(hostname: string): string | undefined {
  let host = hostname.toLowerCase();
  const mapped = V4_MAPPED.exec(host);
  if (mapped) {
    const hi = parseInt(mapped[1]!, 16);
    const lo = parseInt(mapped[2]!, 16);
    host = `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host === '' || host.split('.').includes('') || host.includes('%')) return undefined;
  return host;
}

/**
 * Canonicalises an absolute URL, or gives undefined when it is malformed, ambiguous, or its
 * scheme is not in `allowedSchemes` (default http and https; compared case-insensitively).
 */
/**
 * http(s) URLs the URL parser would give back as written: a lower-case host of letter-digit
 * labels ending in an alphabetic label (so never an IP-address form), no port, no userinfo,
 * and a path without dot segments or characters it would re-encode. Held to the general path
 * by the property tests.
 */
const PLAIN_URL = /^(https?):\/\/((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?)(\/(?:[A-Za-z0-9_~-][A-Za-z0-9_.~-]*\/?)*)?(?:\?[A-Za-z0-9_.~=&+-]*)?$/;

function plainUrl(u: string, allowedSchemes: readonly string[]): CanonicalUrl | undefined {
  const m = u.length <= MAX_URL_LENGTH ? PLAIN_URL.exec(u) : null;
  if (!m) return undefined;
  const scheme = m[1]!;
  const host = m[2]!;
  // Punycode labels are validated by the URL parser: leave them to the general path.
  if (!allowedSchemes.some((s) => s.toLowerCase() === scheme) || host.includes('xn--')) return undefined;
  return Object.freeze({ scheme, host, port: DEFAULT_PORTS[scheme], path: m[3] ?? '/' });
}

/** The last URL canonicalised and the schemes it was judged against (see lastPath). */
let lastUrl = '';
let lastSchemes: readonly string[] = DEFAULT_SCHEMES;
let lastCanonicalUrl: CanonicalUrl | undefined;

/** The result is shared with other callers: read it, never change it. */
export function canonicalUrl(u: string, allowedSchemes: readonly string[] = DEFAULT_SCHEMES): Readonly<CanonicalUrl> | undefined {
  if (typeof u !== 'string') return undefined;
  if (u === lastUrl && allowedSchemes === lastSchemes) return lastCanonicalUrl;
  let canonical = plainUrl(u, allowedSchemes);
  if (!canonical) {
    // Keyed by the schemes too: the same URL may be allowed under one rule and not another.
    const key = allowedSchemes === DEFAULT_SCHEMES ? u : `${allowedSchemes.join(',')}\u0000${u}`;
    canonical = urlMemo.has(key) ? urlMemo.get(key) : urlMemo.set(key, canonicalUrlUncached(u, allowedSchemes));
  }
  lastUrl = u;
  lastSchemes = allowedSchemes;
  lastCanonicalUrl = canonical;
  return canonical;
}

/** The general URL algorithm, without fast path or memo (tests hold the fast path to it). */
export function canonicalUrlUncached(u: string, allowedSchemes: readonly string[]): CanonicalUrl | undefined {
  if (u.length === 0 || u.length > MAX_URL_LENGTH) return undefined;
  if (CONTROL.test(u) || LONE_SURROGATE.test(u) || u.includes('\\') || u.trim() !== u) return undefined;
  const m = SCHEME.exec(u);
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  if (!allowedSchemes.some((s) => s.toLowerCase() === scheme)) return undefined;
  const afterScheme = u.slice(m[0].length);
  const hasAuthority = afterScheme.startsWith('//');
  if (AUTHORITY_SCHEMES.has(scheme) && !hasAuthority) return undefined;
  if (hasAuthority) {
    const rest = afterScheme.slice(2);
    const end = rest.search(/[/?#]/);
    const authority = end === -1 ? rest : rest.slice(0, end);
    // `file:///x` has an empty authority; for network schemes it means `https:///host` tricks.
    if (authority === '' ? scheme !== 'file' : /[\s@%]/.test(authority)) return undefined;
  }
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    return undefined;
  }
  if (url.protocol !== `${scheme}:` || url.username !== '' || url.password !== '') return undefined;
  let host = '';
  if (url.hostname !== '') {
    if (url.hostname.includes('*')) return undefined;
    const finished = finishHost(url.hostname);
    if (finished === undefined) return undefined;
    host = finished;
  }
  const port = url.port === '' ? DEFAULT_PORTS[scheme] : Number(url.port);
  return Object.freeze({ scheme, host, port, path: url.pathname });
}

/**
 * Canonicalises a host or a host pattern (lower case, IDNA to punycode, IPv4 number forms to
 * dotted quad, IPv6 in brackets, one trailing dot stripped). `*` is kept when `wildcards` is set,
 * and must then stand in ASCII labels. Undefined when it is not a bare host (ports, paths,
 * userinfo, schemes are all rejected).
 */
export function canonicalHost(host: string, wildcards = false): string | undefined {
  if (typeof host !== 'string' || host.length === 0 || host.length > 1_024) return undefined;
  if (hasForbiddenHostText(host)) return undefined;
  let input = host;
  if (input.startsWith('[') !== input.endsWith(']')) return undefined;
  if (input.includes(':') && !input.startsWith('[')) input = `[${input}]`;
  const stars = countStars(input);
  if (stars > 0 && !wildcards) return undefined;
  if (stars > 0 && input.split('.').some((label) => label.includes('*') && NON_ASCII.test(label))) return undefined;
  let url: URL;
  try {
    url = new URL(`http://${input}/`);
  } catch {
    return undefined;
  }
  if (url.username !== '' || url.password !== '' || url.port !== '' || url.pathname !== '/' || url.search !== '' || url.hash !== '') return undefined;
  const finished = finishHost(url.hostname);
  if (finished === undefined || countStars(finished) !== stars) return undefined;
  return finished;
}

function hasForbiddenHostText(text: string): boolean {
  return CONTROL.test(text) || LONE_SURROGATE.test(text) || /[\s/\\@#?%]/.test(text) || text.includes('://');
}

function countStars(text: string): number {
  let n = 0;
  for (const ch of text) if (ch === '*') n++;
  return n;
}

/** A host pattern split into labels; `*` as a whole label stands for one or more labels. */
export type HostPattern = readonly string[];

/** Splits a canonical host pattern into labels, or undefined if it has empty labels or `**`. */
export function splitHostPattern(canonical: string): HostPattern | undefined {
  const labels = canonical.split('.');
  if (labels.some((l) => l === '' || l.includes('**'))) return undefined;
  return labels;
}

/** `*` inside one label: any run of characters (dots never reach here). */
function labelMatches(pattern: string, label: string): boolean {
  if (!pattern.includes('*')) return pattern === label;
  let p = 0;
  let l = 0;
  let starP = -1;
  let starL = 0;
  while (l < label.length) {
    if (p < pattern.length && pattern[p] === label[l]) {
      p++;
      l++;
    } else if (p < pattern.length && pattern[p] === '*') {
      starP = p++;
      starL = l;
    } else if (starP !== -1) {
      p = starP + 1;
      l = ++starL;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

/**
 * Matches a canonical host against a split pattern: a whole-label `*` matches one or more
 * labels (`*.example.com` matches `a.example.com` and `a.b.example.com`, not `example.com`);
 * a `*` inside a label matches within that label only. Linear in labels × pattern labels.
 */
export function matchHostPattern(pattern: HostPattern, host: string): boolean {
  const labels = host.split('.');
  let reach: boolean[] = new Array<boolean>(labels.length + 1).fill(false);
  reach[0] = true;
  for (const p of pattern) {
    const next: boolean[] = new Array<boolean>(labels.length + 1).fill(false);
    if (p === '*') {
      let any = false;
      for (let i = 1; i <= labels.length; i++) {
        any = any || reach[i - 1]!;
        next[i] = any;
      }
    } else {
      for (let i = 0; i < labels.length; i++) {
        if (reach[i] && labelMatches(p, labels[i]!)) next[i + 1] = true;
      }
    }
    reach = next;
  }
  return reach[labels.length]!;
}

/**
 * matchHostPattern for one pattern, compiled: plain string tests for a pattern without wildcards
 * and for `*.rest` (the common shapes), the general matcher otherwise. Hosts are canonical.
 */
export function hostPatternMatcher(pattern: HostPattern): (host: string) => boolean {
  const wild = pattern.filter((label) => label.includes('*')).length;
  if (wild === 0) {
    const exact = pattern.join('.');
    return (host) => host === exact;
  }
  if (wild === 1 && pattern[0] === '*' && pattern.length > 1) {
    const suffix = `.${pattern.slice(1).join('.')}`;
    return (host) => host.length > suffix.length && host.endsWith(suffix);
  }
  return (host) => matchHostPattern(pattern, host);
}

/** True when `host` (canonicalised first) matches any of the host patterns (also canonicalised). */
export function hostMatches(host: string, patterns: string | readonly string[]): boolean {
  const h = canonicalHost(host);
  if (h === undefined) return false;
  const list = typeof patterns === 'string' ? [patterns] : patterns;
  return list.some((raw) => {
    const canonical = canonicalHost(raw, true);
    const pattern = canonical === undefined ? undefined : splitHostPattern(canonical);
    return pattern !== undefined && matchHostPattern(pattern, h);
  });
}
