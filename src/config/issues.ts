/** Config problems, their YAML paths, and the one error type a failed load throws. */

/** One problem found in a config file, located by YAML path and (when known) line and column. */
export interface Issue {
  /** `agents.default.rules[2].where.path`; empty for the whole file. */
  path: string;
  message: string;
  line?: number;
  column?: number;
  /** What to do about it, e.g. `did you mean 'readOnly'?`. */
  hint?: string;
}

export type PathSegment = string | number;

const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;

/** Renders `['agents', 'default', 'rules', 2, 'where', '/a/b']` as `agents.default.rules[2].where["/a/b"]`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (PLAIN_KEY.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** One line per issue: `FILE:LINE:COL path: message (hint)`. */
export function formatIssues(file: string, issues: readonly Issue[]): string {
  return issues
    .map((issue) => {
      const where = issue.line === undefined ? `${file}:` : `${file}:${issue.line}:${issue.column ?? 1}`;
      const path = issue.path === '' ? '' : `${issue.path}: `;
      const hint = issue.hint === undefined ? '' : ` (${issue.hint})`;
      return `${where} ${path}${issue.message}${hint}`;
    })
    .join('\n');
}

/**
 * A config that could not be loaded. `unreadable`: the file itself could not be read (the CLI
 * exits 2); `invalid`: it was read and has errors (exit 1).
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly file: string;
  readonly issues: readonly Issue[];
  readonly warnings: readonly Issue[];
  readonly kind: 'unreadable' | 'invalid';

  constructor(
    file: string,
    issues: readonly Issue[],
    options: { warnings?: readonly Issue[]; kind?: 'unreadable' | 'invalid'; cause?: unknown } = {},
  ) {
    super(formatIssues(file, issues), options.cause === undefined ? undefined : { cause: options.cause });
    this.file = file;
    this.issues = issues;
    this.warnings = options.warnings ?? [];
    this.kind = options.kind ?? 'invalid';
  }
}
