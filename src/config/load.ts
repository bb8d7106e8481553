/** Loads the config file: YAML with positions → references → schema → cross-key checks → frozen. */
import { readFile as readFileFromDisk } from 'node:fs/promises';
import { resolve } from 'node:path';
import { checkSemantics } from './checks.js';
import { ConfigError } from './issues.js';
import type { Issue } from './issues.js';
import { resolveReferences } from './references.js';
import type { Env, ReadFileFn } from './references.js';
import { ConfigSchema } from './schema.js';
import type { Config } from './schema.js';
import { translateIssues } from './schema-issues.js';
import { parseYaml, placeIssues } from './yaml-source.js';
import { sha256Hex } from '../digest.js';

export interface LoadedConfig {
  /** The path the config was loaded from, as given. */
  readonly file: string;
  /** Validated, with defaults applied and durations/sizes in ms/bytes; deep-frozen. */
  readonly config: Readonly<Config>;
  /** Values substituted into secret places; the gateway redacts them everywhere. */
  readonly secrets: readonly string[];
  /** SHA-256 (hex) of the file's text: equal hashes mean an unchanged file. */
  readonly hash: string;
  readonly warnings: readonly Issue[];
}

export interface LoadOptions {
  /** Variables for `${env:NAME}`; defaults to the process environment. */
  env?: Env;
  /** Reads the config file and `${file:PATH}` files (absolute paths); defaults to the disk. */
  readFile?: ReadFileFn;
}

const readUtf8: ReadFileFn = (path) => readFileFromDisk(path, 'utf8');

/**
 * Reads and validates the config file. Throws ConfigError (kind `unreadable` or `invalid`)
 * listing every problem found, never just the first.
 */
export async function loadConfig(file: string, options: LoadOptions = {}): Promise<LoadedConfig> {
  const readFile = options.readFile ?? readUtf8;
  let text: string;
  try {
    text = await readFile(resolve(file));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException | undefined)?.code ?? (error instanceof Error ? error.message : String(error));
    throw new ConfigError(file, [{ path: '', message: `cannot read the config file (${reason})` }], { kind: 'unreadable', cause: error });
  }
  return parseConfigText(text, file, options.env ?? process.env, readFile);
}

/**
 * Validates config text. `file` names the source in messages and anchors `${file:PATH}`; all
 * I/O goes through `readFile`, and the environment is only what `env` holds.
 */
export async function parseConfigText(text: string, file: string, env: Env, readFile: ReadFileFn): Promise<LoadedConfig> {
  const hash = sha256Hex(text);
  const parsed = parseYaml(text);
  if (parsed.data === undefined) {
    throw new ConfigError(file, placeIssues(parsed.source, parsed.errors), { warnings: placeIssues(parsed.source, parsed.warnings) });
  }
  const references = await resolveReferences(parsed.data, file, env, readFile);
  const result = ConfigSchema.safeParse(references.data);
  const schemaIssues = result.success ? [] : translateIssues(ConfigSchema, result.error.issues, references.data);

  const redact = redactor(references.secrets);
  const errors = redact(sortByPosition(placeIssues(parsed.source, [
    ...parsed.errors,
    ...references.errors,
    ...schemaIssues,
    ...checkSemantics(references.data),
  ])));
  const warnings = redact(sortByPosition(placeIssues(parsed.source, [...parsed.warnings, ...references.warnings])));
  if (!result.success && errors.length === 0) errors.push({ path: '', message: 'the config does not match the schema' });
  if (errors.length > 0 || !result.success) throw new ConfigError(file, errors, { warnings });

  return deepFreeze({ file, config: result.data, secrets: references.secrets, hash, warnings });
}

function sortByPosition(issues: Issue[]): Issue[] {
  return issues
    .map((issue, index) => ({ issue, index }))
    .sort((a, b) => (a.issue.line ?? 0) - (b.issue.line ?? 0) || (a.issue.column ?? 0) - (b.issue.column ?? 0) || a.index - b.index)
    .map(({ issue }) => issue);
}

/** Messages quote values now and then; a substituted secret must never be one of them. */
function redactor(secrets: readonly string[]): (issues: Issue[]) => Issue[] {
  const hide = (text: string): string => secrets.reduce((out, secret) => out.split(secret).join('[REDACTED]'), text);
  return (issues) =>
    issues.map((issue) => ({ ...issue, message: hide(issue.message), ...(issue.hint !== undefined ? { hint: hide(issue.hint) } : {}) }));
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}
