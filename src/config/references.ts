/**
 * `${env:NAME}` and `${file:PATH}` references in string values, and the secrets they bring in.
 * Policy templates (`${claims.X}`, `${agent.X}`, `{{args.x}}`) are left alone: they have no colon.
 */
import { dirname, resolve } from 'node:path';
import type { PathSegment } from './issues.js';
import { editDistance } from './suggest.js';
import { describeToken } from './tokens.js';
import type { SourceIssue } from './yaml-source.js';

export type Env = Readonly<Record<string, string | undefined>>;
export type ReadFileFn = (absolutePath: string) => string | Promise<string>;

export interface ResolvedReferences {
  data: unknown;
  /** Values substituted into secret places: non-empty, in order of first appearance, unique. */
  secrets: string[];
  errors: SourceIssue[];
  warnings: SourceIssue[];
}

// `$${env:X}` is an escape for a literal `${env:X}`.
const REFERENCE = /(\$?)\$\{([A-Za-z][A-Za-z0-9_-]*):([^}]*)\}/g;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SHORT_SECRET = 8;

/** Secret places (SPEC §3): `servers.*.env.*`, `servers.*.headers.*`, and any key named `secret`. */
export function isSecretPath(path: readonly PathSegment[]): boolean {
  if (path[0] === 'servers' && path.length === 4 && (path[2] === 'env' || path[2] === 'headers')) return true;
  return path.at(-1) === 'secret';
}

type FileResult = { ok: true; text: string } | { ok: false; reason: string };

/** Substitutes references throughout `data`, reading `${file:}` paths relative to `configFile`'s folder. */
export async function resolveReferences(data: unknown, configFile: string, env: Env, readFile: ReadFileFn): Promise<ResolvedReferences> {
  const baseDir = dirname(resolve(configFile));
  const files = new Map<string, FileResult>();
  for (const text of strings(data)) {
    for (const match of text.matchAll(REFERENCE)) {
      if (match[1] === '' && match[2] === 'file' && match[3] !== '') files.set(resolve(baseDir, match[3]!), { ok: false, reason: 'not read' });
    }
  }
  await Promise.all(
    [...files.keys()].map(async (path) => {
      try {
        files.set(path, { ok: true, text: (await readFile(path)).replace(/\r?\n$/, '') });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException | undefined)?.code;
        files.set(path, { ok: false, reason: code ?? (error instanceof Error ? error.message : String(error)) });
      }
    }),
  );

  const secrets = new Set<string>();
  const errors: SourceIssue[] = [];
  const warnings: SourceIssue[] = [];

  const substitute = (template: string, path: PathSegment[]): string => {
    const secretPlace = isSecretPath(path);
    const value = template.replace(REFERENCE, (whole, escape: string, kind: string, arg: string) => {
      if (escape === '$') return whole.slice(1);
      const ref = `\${${kind}:${arg}}`;
      if (kind === 'env') {
        if (!ENV_NAME.test(arg)) {
          errors.push({ path, message: `bad reference ${ref}: not a valid environment variable name` });
          return whole;
        }
        const resolved = env[arg];
        if (resolved === undefined) {
          errors.push({ path, message: `environment variable ${arg} is not set (referenced as ${ref})`, hint: `set ${arg} in the gateway's environment` });
          return whole;
        }
        if (secretPlace) noteSecret(resolved, ref, path);
        return resolved;
      }
      if (kind === 'file') {
        const file = arg === '' ? undefined : files.get(resolve(baseDir, arg));
        if (!file?.ok) {
          errors.push({
            path,
            message: `cannot read ${ref}${file ? ` (${file.reason})` : ''}`,
            hint: `PATH is relative to the config file's folder, ${baseDir}`,
          });
          return whole;
        }
        if (secretPlace) noteSecret(file.text, ref, path);
        return file.text;
      }
      if (['env', 'file'].some((known) => editDistance(kind, known, 2) <= 2 && kind.length >= 3)) {
        errors.push({ path, message: `unknown reference kind in \${${kind}:…}`, hint: 'write ${env:NAME} or ${file:PATH}, in lower case' });
      }
      return whole;
    });
    checkLiteral(template, path, secretPlace);
    return value;
  };

  const noteSecret = (value: string, ref: string, path: PathSegment[]): void => {
    if (value === '') {
      warnings.push({ path, message: `${ref} is empty` });
      return;
    }
    if (value.length < SHORT_SECRET) {
      warnings.push({ path, message: `the secret from ${ref} is only ${value.length} characters long`, hint: 'redacting so short a value may also mangle unrelated text' });
    }
    secrets.add(value);
  };

  const checkLiteral = (template: string, path: PathSegment[], secretPlace: boolean): void => {
    // Only the text written in the file counts; substituted values are what we want.
    const literal = template.replace(REFERENCE, ' ');
    const inServer = path[0] === 'servers';
    if (!secretPlace && !inServer) return;
    const kind = describeToken(literal, { generic: secretPlace });
    if (kind) {
      errors.push({
        path,
        message: `this looks like ${kind} written into the file`,
        hint: 'use ${env:NAME} or ${file:PATH} and keep the secret out of version control',
      });
    } else if (path.at(-1) === 'secret' && literal.trim() !== '') {
      warnings.push({ path, message: 'secret written into the file as a literal', hint: 'use ${env:NAME} or ${file:PATH}' });
    }
  };

  const walk = (value: unknown, path: PathSegment[]): unknown => {
    if (typeof value === 'string') return substitute(value, path);
    if (Array.isArray(value)) return value.map((item, index) => walk(item, [...path, index]));
    if (isPlainObject(value)) {
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, walk(item, [...path, key])]));
    }
    return value;
  };

  return { data: walk(data, []), secrets: [...secrets], errors, warnings };
}

function* strings(value: unknown): Generator<string> {
  if (typeof value === 'string') yield value;
  else if (Array.isArray(value)) for (const item of value) yield* strings(item);
  else if (isPlainObject(value)) for (const item of Object.values(value)) yield* strings(item);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
