/**
 * Canonical entities in free text (SPEC §5.5): the values an injected instruction wants the
 * assistant to copy into a call (where to send, what to pay, which file). Each entity has a
 * comparison key, equal for different spellings of the same thing, and a display value.
 *
 * - email: lowercased.
 * - url: scheme-insensitive for http/https, host lowercased (IDN as punycode), leading `www.`
 *   dropped, default port dropped, fragment dropped, trailing `/` dropped; query kept.
 *   Bare hosts with a path or a known TLD (`www.x.com`, `x.com/login`) count as http URLs.
 * - host: every URL also yields its host (same canonical form), so a different path on the same
 *   host still matches.
 * - iban: spaces stripped, uppercased, country, its length and mod-97 checked. An IBAN-shaped value that
 *   fails the check (test data, typos) still yields its digits as an account number.
 * - account / phone: digit runs with the separators stripped; account ≥ 8 digits, phone 7–15
 *   digits written like a phone number (`+`, parentheses, 3-3-4 or short groups). Both share one
 *   key space (`num:`), and phones also match on their last 10 digits, so `+1 (415) 555-0100`
 *   matches `4155550100`. Dates, times and dotted IPv4 addresses are skipped.
 * - path: `/a/b`, `~/a`, `C:\a`; `.` and `..` resolved, repeated and trailing separators dropped.
 *
 * Every scan is linear in the text length (bounded or unambiguous quantifiers only).
 */

export type EntityKind = 'email' | 'url' | 'host' | 'iban' | 'account' | 'phone' | 'path';

export interface Entity {
  kind: EntityKind;
  /** Comparison key: equal keys mean the same entity. */
  key: string;
  /** Canonical display form. */
  value: string;
}

const MAX_TOKEN = 2_048;
const URL_IN_TEXT = /\b(?:https?|ftp|wss?|file):\/\/[^\s<>"'`]{1,2048}/gi;
const BARE_HOST = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+([a-z]{2,24})(?::\d{1,5})?(?:[/?#]\S*)?$/i;
const IBAN_CANDIDATE = /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}/gi;
const NUMBER_OR_DATE = /(?<![\w+/.-])(?:(\d{4}-\d{1,2}-\d{1,2}(?:[ T]\d{1,2}(?::\d{2}){1,2})?|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{1,3}(?:\.\d{1,3}){3})|(\+?\(?\d+(?:(?:[ .\-/]|\) ?| ?\()\d+)*\)?))/g;

/** Common TLDs for bare hosts without `www.` or a path; file extensions like md, py, sh are not TLDs here. */
const BARE_TLDS: ReadonlySet<string> = new Set(
  ('com net org edu gov mil int io co ai app dev me info biz us uk de fr es it nl be ch at se no dk fi pl cz ru ua cn jp kr ' +
    'in br au ca mx ar eu xyz online site tech store blog cloud page link live news top club shop tv cc ly gg ' +
    'ie nz za sg hk tw il tr gr pt ro hu sk bg hr si lt lv ee is lu li mc email mail')
    .split(' '),
);

/** IBAN lengths by country (SWIFT IBAN registry). A country not listed has no IBAN. */
const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24, AE: 23, BI: 27, DJ: 27, FK: 18, LY: 25, MN: 20, NI: 28, OM: 23, RU: 33, SD: 18, SO: 23, VA: 22, YE: 30, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BR: 29, BY: 28, CH: 21, CR: 22, CY: 28,
  CZ: 24, DE: 22, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18,
  GR: 27, GT: 28, HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LC: 32,
  LI: 21, LT: 20, LU: 20, LV: 21, MC: 27, MD: 24, ME: 22, MK: 19, MR: 27, MT: 31, MU: 30, NL: 18, NO: 15, PK: 24,
  PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22, SA: 24, SC: 31, SE: 24, SI: 19, SK: 24, SM: 27, ST: 25, SV: 28,
  TL: 23, TN: 24, TR: 26, UA: 29, VG: 24, XK: 20,
};

/** True for a valid IBAN (any spacing and case): known country, its length, ISO 7064 mod-97. */
export function isValidIban(value: string): boolean {
  const iban = value.replace(/\s+/g, '').toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/.test(iban)) return false;
  if (iban.length !== IBAN_LENGTHS[iban.slice(0, 2)]) return false;
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (let i = 0; i < rearranged.length; i++) {
    const c = rearranged.charCodeAt(i);
    remainder = c >= 65 ? (remainder * 100 + (c - 55)) % 97 : (remainder * 10 + (c - 48)) % 97;
  }
  return remainder === 1;
}

export interface CanonicalUrl {
  /** Comparison key for the URL. */
  key: string;
  /** Display form, e.g. `https://example.com/a?b=1`. */
  url: string;
  /** Host comparison key (lowercase, no leading `www.`); empty for file URLs. */
  host: string;
}

const DEFAULT_SCHEMES: ReadonlySet<string> = new Set(['http:', 'https:', 'ftp:', 'ws:', 'wss:']);

/** Canonicalises a URL (a bare `www.x.com/path` is read as http). Undefined when it is not one. */
export function canonicalUrl(raw: string): CanonicalUrl | undefined {
  if (/^[a-z][a-z0-9+.-]*:(?!\/\/|\d)/i.test(raw)) return undefined; // mailto:, javascript:, data:…
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return undefined;
  }
  if (!DEFAULT_SCHEMES.has(url.protocol) || url.hostname === '') return undefined;
  const hostname = url.hostname.replace(/\.$/, '');
  const host = hostname.replace(/^www\./, '');
  const port = url.port === '' ? '' : `:${url.port}`;
  const path = url.pathname.replace(/\/+$/, '');
  const scheme = url.protocol === 'https:' || url.protocol === 'http:' ? '' : url.protocol;
  return { key: `${scheme}//${host}${port}${path}${url.search}`, url: `${url.protocol}//${hostname}${port}${path}${url.search}`, host };
}

/** Normalises a file path; undefined when it does not look like one. */
export function canonicalPath(raw: string): string | undefined {
  if (raw.length > 1_024) return undefined;
  const windows = /^[A-Za-z]:[\\/]/.test(raw);
  if (!windows && !raw.startsWith('~/') && !/^\/[A-Za-z0-9._~-]+\/+[A-Za-z0-9._~-]/.test(raw)) return undefined;
  const sep = windows ? /[\\/]+/ : /\/+/;
  const [head, ...rest] = raw.split(sep);
  const segments: string[] = [];
  for (const segment of rest) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const joiner = windows ? '\\' : '/';
  return `${windows ? head!.toUpperCase() : head}${joiner}${segments.join(joiner)}`.replace(/[\\/]$/, '') || '/';
}

function trimToken(token: string): string {
  return token.replace(/^[([{<"'`*_]+/, '').replace(/[.,;:!?)\]}>"'`*_]+$/, '');
}

/** Drops trailing `close` characters that have no matching `open` in the text. Linear. */
export function trimUnbalanced(text: string, open: string, close: string): string {
  let balance = 0;
  for (const ch of text) if (ch === open) balance++;
  else if (ch === close) balance--;
  let end = text.length;
  while (balance < 0 && end > 0 && text[end - 1] === close) {
    end--;
    balance++;
  }
  return text.slice(0, end);
}

function trimUrl(raw: string): string {
  let url = raw.replace(/[.,;:!?'"*_]+$/, '');
  for (const [open, close] of [['(', ')'], ['[', ']'], ['{', '}']] as const) url = trimUnbalanced(url, open, close);
  return url.replace(/[.,;:!?'"*_]+$/, '');
}

type Emit = (entity: Entity) => void;

function emitUrl(raw: string, emit: Emit): void {
  if (/^file:\/\//i.test(raw)) {
    let decoded = raw.slice(7);
    try {
      decoded = decodeURIComponent(decoded);
    } catch {
      // keep the raw form
    }
    const path = canonicalPath(decoded.replace(/^localhost(?=\/)/i, ''));
    if (path) emit({ kind: 'path', key: `path:${path}`, value: path });
    return;
  }
  const canonical = canonicalUrl(raw);
  if (!canonical) return;
  emit({ kind: 'url', key: `url:${canonical.key}`, value: canonical.url });
  emit({ kind: 'host', key: `host:${canonical.host}`, value: canonical.host });
}

function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

function isEmailLocalChar(c: number): boolean {
  return isAlnum(c) || c === 0x2e || c === 0x5f || c === 0x25 || c === 0x2b || c === 0x2d; // . _ % + -
}

function isEmailDomainChar(c: number): boolean {
  return isAlnum(c) || c === 0x2e || c === 0x2d;
}

function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0 || c === 0x2028 || c === 0x2029 || c === 0x3000 || (c >= 0x2000 && c <= 0x200a);
}

function scanEmails(text: string, emit: Emit): void {
  let at = text.indexOf('@');
  while (at >= 0) {
    let start = at;
    while (start > 0 && at - start < 64 && isEmailLocalChar(text.charCodeAt(start - 1))) start--;
    let end = at + 1;
    while (end < text.length && end - at <= 253 && isEmailDomainChar(text.charCodeAt(end))) end++;
    const local = text.slice(start, at).replace(/^[.]+/, '');
    const domain = text.slice(at + 1, end).replace(/[.-]+$/, '');
    if (local !== '' && !local.endsWith('.') && /^[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}$/.test(domain)) {
      const email = `${local}@${domain}`.toLowerCase();
      emit({ kind: 'email', key: `email:${email}`, value: email });
    }
    at = text.indexOf('@', end > at + 1 ? end : at + 1);
  }
}

/** Where a host (`x.yz`) or a path (`/a/b`, `~/a`, `C:\a`) may start: the token around it is checked. */
const TOKEN_HINT = /[A-Za-z0-9-]\.[A-Za-z]{2}|(?:^|(?<=\s))[(["'`*_]{0,3}(?:~?\/|[A-Za-z]:\\)/g;

function scanTokens(text: string, emit: Emit): void {
  TOKEN_HINT.lastIndex = 0;
  for (let m = TOKEN_HINT.exec(text); m; m = TOKEN_HINT.exec(text)) {
    // The whitespace-delimited token around the hint, at most MAX_TOKEN long; every character
    // is looked at a bounded number of times, since the scan resumes after the token.
    let start = m.index;
    while (start > 0 && m.index - start < MAX_TOKEN && !isSpace(text.charCodeAt(start - 1))) start--;
    let end = m.index + m[0].length;
    while (end < text.length && end - start <= MAX_TOKEN && !isSpace(text.charCodeAt(end))) end++;
    TOKEN_HINT.lastIndex = end;
    if (end - start > MAX_TOKEN || (start > 0 && !isSpace(text.charCodeAt(start - 1)))) continue;
    const raw = text.slice(start, end);
    if (raw.includes('://')) continue;
    const token = trimToken(raw);
    if (token === '') continue;
    if (/^(?:\/|~\/|[A-Za-z]:[\\/])/.test(token)) {
      const path = canonicalPath(token);
      if (path) emit({ kind: 'path', key: `path:${path}`, value: path });
      continue;
    }
    if (token.includes('@') || token.length > 300) continue;
    const host = BARE_HOST.exec(token);
    if (!host) continue;
    if (/^www\./i.test(token) || /[/?#]/.test(token) || BARE_TLDS.has(host[1]!.toLowerCase())) emitUrl(token, emit);
  }
}

function emitNumber(digits: string, phoneLike: boolean, display: string, emit: Emit): void {
  const national = digits.startsWith('00') ? digits.slice(2) : digits;
  if (phoneLike && national.length >= 7 && national.length <= 15) {
    emit({ kind: 'phone', key: `num:${national}`, value: display });
    if (national.length > 10) emit({ kind: 'phone', key: `num:${national.slice(-10)}`, value: display });
  } else if (digits.length >= 8) {
    emit({ kind: 'account', key: `num:${digits}`, value: digits });
  }
}

function scanNumbers(text: string, emit: Emit): void {
  // Spans taken by IBANs: the number scan below must not report their digits again.
  const taken: Array<[number, number]> = [];
  IBAN_CANDIDATE.lastIndex = 0;
  for (let m = IBAN_CANDIDATE.exec(text); m; m = IBAN_CANDIDATE.exec(text)) {
    const raw = m[0];
    // The greedy match may run into the next words: an IBAN must end where a group ends.
    const ends: Array<[number, number]> = []; // [compact length, raw offset]
    let compactLength = 0;
    for (let i = 0; i < raw.length; i++) {
      if (raw[i] === ' ') ends.push([compactLength, i]);
      else compactLength++;
    }
    ends.push([compactLength, raw.length]);
    const compact = raw.replace(/ /g, '').toUpperCase();
    const expected = IBAN_LENGTHS[compact.slice(0, 2)];
    const end = expected === undefined ? undefined : ends.find(([n]) => n === expected && isValidIban(compact.slice(0, n)));
    if (end) {
      const iban = compact.slice(0, end[0]);
      emit({ kind: 'iban', key: `iban:${iban}`, value: iban });
      taken.push([m.index, m.index + end[1]]);
      IBAN_CANDIDATE.lastIndex = m.index + end[1];
      continue;
    }
    // IBAN-shaped but invalid (test data, a typo): its digits still identify an account.
    const digits = /^\d+/.exec(compact.slice(2))?.[0] ?? '';
    if (digits.length >= 10) {
      emit({ kind: 'account', key: `num:${digits}`, value: digits });
      taken.push([m.index, m.index + 2 + digits.length]);
    }
    IBAN_CANDIDATE.lastIndex = m.index + 2;
  }
  NUMBER_OR_DATE.lastIndex = 0;
  for (let m = NUMBER_OR_DATE.exec(text); m; m = NUMBER_OR_DATE.exec(text)) {
    const raw = m[2];
    if (raw === undefined) continue; // a date, a time or an IPv4 address
    if (taken.some(([from, to]) => m.index >= from && m.index < to)) continue;
    const after = text.charCodeAt(m.index + m[0].length);
    if ((after >= 65 && after <= 90) || (after >= 97 && after <= 122) || after === 0x5f) continue;
    const digits = raw.replace(/\D/g, '');
    if (digits.length < 7 || /^\d+\.\d+$/.test(raw)) continue; // short, or a decimal number
    const groups = raw.replace(/^\+/, '').split(/[^\d]+/).filter((g) => g !== '');
    const phoneLike =
      raw.startsWith('+') ||
      raw.includes('(') ||
      /^\d{3}[-. ]\d{3}[-. ]\d{4}$/.test(raw) ||
      (groups.length >= 3 && groups.every((g) => g.length >= 2 && g.length <= 4));
    emitNumber(digits, phoneLike, raw.startsWith('+') ? `+${digits}` : digits, emit);
  }
}

/** Calls `emit` for every entity in `text` (duplicates included). */
export function scanEntities(text: string, emit: Emit): void {
  if (text.includes('@')) scanEmails(text, emit);
  if (text.includes('://')) {
    URL_IN_TEXT.lastIndex = 0;
    for (let m = URL_IN_TEXT.exec(text); m; m = URL_IN_TEXT.exec(text)) emitUrl(trimUrl(m[0]), emit);
  }
  scanTokens(text, emit);
  if (/\d/.test(text)) scanNumbers(text, emit);
}

/** The distinct entities in `text`, by key. */
export function extractEntities(text: string): Entity[] {
  const byKey = new Map<string, Entity>();
  scanEntities(text, (e) => {
    if (!byKey.has(e.key)) byKey.set(e.key, e);
  });
  return [...byKey.values()];
}
