/** Recognises credentials written as literals: well-known token shapes and long random strings. */

const SHAPES: ReadonlyArray<readonly [RegExp, string]> = [
  [/\bsk-[A-Za-z0-9_-]{20,}/, 'an API key (sk-…)'],
  [/\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})/, 'a GitHub token'],
  [/\bxox[abpr]-[A-Za-z0-9-]{10,}/, 'a Slack token'],
  [/\bAKIA[0-9A-Z]{16}\b/, 'an AWS access key id'],
  [/\beyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/, 'a JWT'],
  [/\bBearer\s+[A-Za-z0-9._~+/=-]{20,}/i, 'a bearer token'],
];

const RUN = /[A-Za-z0-9+/_=-]{32,}/g;

/** Shannon entropy in bits per character. */
function entropy(text: string): number {
  const counts = new Map<string, number>();
  for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let bits = 0;
  for (const count of counts.values()) {
    const p = count / text.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/** A 32+ character run of hex or base64 that looks random rather than like a word or a path. */
function isRandomLooking(run: string): boolean {
  if (/^[0-9a-f]+$/i.test(run)) return /\d/.test(run) && /[a-f]/i.test(run) && entropy(run) >= 3;
  return /\d/.test(run) && /[a-z]/.test(run) && /[A-Z]/.test(run) && entropy(run) >= 4;
}

/**
 * Names the kind of credential `text` appears to contain, or undefined. With `generic: false`
 * only the well-known prefixed shapes count (for places where long hashes are ordinary).
 */
export function describeToken(text: string, options: { generic?: boolean } = {}): string | undefined {
  for (const [shape, kind] of SHAPES) if (shape.test(text)) return kind;
  if (options.generic === false) return undefined;
  // File paths and URLs carry long mixed-case runs without being credentials.
  if (/^(?:\/|\.{1,2}\/|~\/|[A-Za-z]:[\\/]|[a-z][a-z0-9+.-]*:\/\/)/i.test(text.trim())) return undefined;
  for (const [run] of text.matchAll(RUN)) if (isRandomLooking(run)) return 'a long random token';
  return undefined;
}
