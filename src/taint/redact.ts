/**
 * Secret redaction (SPEC §3): configured secrets an upstream echoes back are replaced by
 * `[REDACTED]` in every result, tainted or not. A secret is caught raw, JSON-escaped,
 * URL-encoded (either hex case, `+` for spaces) and base64-encoded (standard and URL-safe, at any
 * alignment inside a longer base64 string). Secrets shorter than MIN_SECRET_LENGTH are ignored:
 * they are ordinary words or numbers more often than not.
 */

export type Redactor = <T>(value: T) => T;

export const REDACTED = '[REDACTED]';
export const MIN_SECRET_LENGTH = 6;
/** Shortest base64 fragment used: shorter ones could occur by chance in binary data. */
const MIN_BASE64_FRAGMENT = 8;
const MAX_DEPTH = 256;

function base64Fragments(secret: string): string[] {
  const bytes = new TextEncoder().encode(secret);
  const out: string[] = [];
  for (let shift = 0; shift < 3; shift++) {
    let binary = '\0'.repeat(shift);
    for (const b of bytes) binary += String.fromCharCode(b);
    const encoded = btoa(binary);
    // Only the characters whose 6 bits all come from the secret are fixed whatever surrounds it.
    const from = Math.ceil((8 * shift) / 6);
    const to = Math.floor((8 * (shift + bytes.length)) / 6);
    const fragment = encoded.slice(from, to);
    if (fragment.length >= MIN_BASE64_FRAGMENT) out.push(fragment, fragment.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return out;
}

function variantsOf(secret: string): string[] {
  const url = encodeURIComponent(secret);
  return [
    secret,
    JSON.stringify(secret).slice(1, -1),
    url,
    url.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
    url.replace(/%20/g, '+'),
    ...base64Fragments(secret),
  ];
}

function escapeRegex(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

const identity: Redactor = (value) => value;

/**
 * Compiles a redactor for a list of secrets: a function that returns its argument with every
 * occurrence replaced, in strings and object keys at any depth. Unchanged subtrees are returned
 * as they are; nothing is mutated. With no (long enough) secrets it is the identity.
 */
export function createRedactor(secrets: readonly string[]): Redactor {
  const variants = new Set<string>();
  for (const secret of secrets) {
    if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) continue;
    for (const v of variantsOf(secret)) variants.add(v);
  }
  if (variants.size === 0) return identity;
  const pattern = new RegExp([...variants].sort((a, b) => b.length - a.length).map(escapeRegex).join('|'), 'g');
  const redactString = (text: string): string => (text.length === 0 ? text : text.replace(pattern, REDACTED));

  // Beyond MAX_DEPTH: keep the subtree only if its JSON text holds no secret (fail closed).
  const deepFallback = (value: unknown): unknown => {
    let json: string | undefined;
    try {
      json = JSON.stringify(value);
    } catch {
      return REDACTED;
    }
    pattern.lastIndex = 0;
    return json === undefined || !pattern.test(json) ? value : REDACTED;
  };

  const walk = (value: unknown, depth: number): unknown => {
    if (typeof value === 'string') return redactString(value);
    if (value === null || typeof value !== 'object') return value;
    if (depth > MAX_DEPTH) return deepFallback(value);
    if (Array.isArray(value)) {
      let out: unknown[] | undefined;
      for (let i = 0; i < value.length; i++) {
        const item = value[i] as unknown;
        const next = walk(item, depth + 1);
        if (next !== item && !out) out = value.slice(0, i);
        if (out) out.push(next);
      }
      return out ?? value;
    }
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) return value;
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    let out: Record<string, unknown> | undefined;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const item = record[key];
      const next = walk(item, depth + 1);
      const outKey = redactString(key);
      if ((next !== item || outKey !== key) && !out) {
        out = {};
        for (let k = 0; k < i; k++) Object.defineProperty(out, keys[k]!, { value: record[keys[k]!], enumerable: true, writable: true, configurable: true });
      }
      if (out) Object.defineProperty(out, outKey, { value: next, enumerable: true, writable: true, configurable: true });
    }
    return out ?? value;
  };
  return <T>(value: T): T => walk(value, 0) as T;
}

/** One-off redaction; compile with createRedactor when the same secrets are used repeatedly. */
export function redactSecrets<T>(value: T, secrets: readonly string[]): T {
  return createRedactor(secrets)(value);
}
