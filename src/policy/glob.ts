/**
 * Name globs, compiled once (SPEC §4): `*` any run of characters except `/`, `**` any run
 * including `/`, `?` one character except `/`, `{a,b}` alternatives (nestable). Matching is over
 * the whole name and case-sensitive. Every other character is literal.
 */
export type GlobMatcher = ((name: string) => boolean) & { readonly source: string };

const MAX_GLOB_LENGTH = 1_024;

export class GlobError extends Error {}

function escapeLiteral(ch: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(ch) ? `\\${ch}` : ch;
}

function toRegexSource(glob: string): string {
  let out = '';
  let depth = 0;
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*') {
      if (glob[i + 1] === '*') {
        out += '.*';
        i++;
      } else {
        out += '[^/]*';
      }
    } else if (ch === '?') {
      out += '[^/]';
    } else if (ch === '{') {
      depth++;
      out += '(?:';
    } else if (ch === '}' && depth > 0) {
      depth--;
      out += ')';
    } else if (ch === ',' && depth > 0) {
      out += '|';
    } else {
      out += escapeLiteral(ch);
    }
  }
  if (depth !== 0) throw new GlobError(`unbalanced "{" in pattern ${JSON.stringify(glob)}`);
  return out;
}

/** True when the pattern contains no glob syntax, so it can be compared as a plain string. */
export function isLiteralGlob(glob: string): boolean {
  return !/[*?{]/.test(glob);
}

/** Compiles a glob to a matcher. Throws GlobError on a malformed or oversized pattern. */
export function compileGlob(glob: string): GlobMatcher {
  if (glob.length > MAX_GLOB_LENGTH) throw new GlobError(`pattern longer than ${MAX_GLOB_LENGTH} characters`);
  let test: (name: string) => boolean;
  if (isLiteralGlob(glob)) {
    test = (name) => name === glob;
  } else {
    const re = new RegExp(`^(?:${toRegexSource(glob)})$`, 's');
    test = (name) => re.test(name);
  }
  return Object.assign(test, { source: glob });
}
