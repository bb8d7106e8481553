/**
 * Turns zod issues into config issues a person can act on: one line per unknown key with a
 * suggestion, one message per union (the branch the author meant, not a dump of every branch).
 */
import type * as z from 'zod';
import type { PathSegment } from './issues.js';
import { isPlainObject } from './references.js';
import { closest } from './suggest.js';
import type { SourceIssue } from './yaml-source.js';

type ZodIssue = z.core.$ZodIssue;

/** Translates every issue of a failed parse of `input` against `schema`. */
export function translateIssues(schema: z.core.$ZodType, issues: readonly ZodIssue[], input: unknown): SourceIssue[] {
  const out = issues.flatMap((issue) => translate(schema, issue, [], input));
  // A refinement of an object with unknown keys sees the object without them; its complaint
  // ("needs at least one operator") is noise next to the unknown key that caused it.
  const withUnknownKeys = new Set(out.filter((i) => i.atKey && i.message.startsWith('unknown key')).map((i) => pathKey(i.path.slice(0, -1))));
  return out.filter((i) => !(i.refinement && withUnknownKeys.has(pathKey(i.path))));
}

interface TranslatedIssue extends SourceIssue {
  refinement?: boolean;
}

function translate(schema: z.core.$ZodType, issue: ZodIssue, base: PathSegment[], input: unknown): TranslatedIssue[] {
  const path = [...base, ...(issue.path as PathSegment[])];
  const value = valueAt(input, path);
  const parent = valueAt(input, path.slice(0, -1));
  const key = path.at(-1);
  const missing = path.length > 0 && value === undefined && isPlainObject(parent) && typeof key === 'string' && !(key in parent);

  switch (issue.code) {
    case 'unrecognized_keys':
      return unknownKeys(schema, path, issue.keys);
    case 'invalid_union':
      return translateUnion(schema, issue, path, value, input);
    case 'invalid_key': {
      const reasons = issue.issues.map((inner) => inner.message).join('; ');
      return [{ path, message: `invalid name ${quote(String(key))}: ${reasons}`, atKey: true }];
    }
    case 'invalid_value': {
      if (missing) return [missingKey(path, isDefaultMessage(issue.message) ? undefined : issue.message)];
      const options = issue.values.filter((v): v is string => typeof v === 'string');
      const suggestion = typeof value === 'string' ? closest(value, options) : undefined;
      const message = issue.values.length === 1
        ? `expected ${JSON.stringify(issue.values[0])}`
        : `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
      return [{ path, message: isDefaultMessage(issue.message) ? message : issue.message, ...(suggestion ? { hint: `did you mean ${quote(suggestion)}?` } : {}) }];
    }
    case 'invalid_type':
      if (missing) return [missingKey(path, isDefaultMessage(issue.message) ? undefined : issue.message)];
      if (path.length === 0) {
        if (value === null || value === undefined) return [{ path, message: 'the file is empty', hint: 'a config starts with `version: 1`' }];
        return [{ path, message: `the top level must be a mapping of keys to values, got ${describe(value)}` }];
      }
      return [{ path, message: isDefaultMessage(issue.message) ? `expected ${issue.expected}, got ${describe(value)}` : issue.message }];
    case 'custom':
      return [{ path, message: issue.message, refinement: true }];
    default:
      return [{ path, message: issue.message }];
  }
}

/** Picks the branch the author evidently meant: the one whose required keys are all present. */
function translateUnion(schema: z.core.$ZodType, issue: z.core.$ZodIssueInvalidUnion, path: PathSegment[], value: unknown, input: unknown): TranslatedIssue[] {
  const branches = issue.errors;
  const unionMessage = (fallback: string): TranslatedIssue => ({ path, message: isDefaultMessage(issue.message) ? fallback : issue.message });
  if (!isPlainObject(value)) {
    const expected = branches.flatMap((b) => (b.length === 1 && b[0]!.code === 'invalid_type' && b[0]!.path.length === 0 ? [b[0]!.expected] : []));
    if (expected.length === branches.length) return [unionMessage(`expected ${[...new Set(expected)].join(' or ')}, got ${describe(value)}`)];
    return [unionMessage('does not match any of the allowed forms')];
  }
  const lacksRequiredKey = (branch: readonly ZodIssue[]): boolean =>
    branch.some((i) => (i.code === 'invalid_type' || i.code === 'invalid_value') && i.path.length === 1 && !(String(i.path[0]) in value));
  const candidates = branches.filter((b) => !lacksRequiredKey(b));
  if (candidates.length === 1) return candidates[0]!.flatMap((inner) => translate(schema, inner, path, input));
  // Each branch is told apart by the keys it requires; name them.
  const required = branches.map((b) => b.filter((i) => i.path.length === 1 && !(String(i.path[0]) in value)).map((i) => String(i.path[0])));
  const forms = [...new Set(required.filter((keys) => keys.length > 0).map((keys) => keys.map(quote).join(' and ')))];
  const out: TranslatedIssue[] = [unionMessage(forms.length > 0 ? `needs exactly one of ${forms.join(', ')}` : 'does not match any of the allowed forms')];
  if (candidates.length === 0) {
    // Keys unknown to every branch are worth naming (a typo of the key that picks the branch).
    const unknownIn = branches.map((b) => new Set(b.flatMap((i) => (i.code === 'unrecognized_keys' && i.path.length === 0 ? i.keys : []))));
    const common = [...(unknownIn[0] ?? [])].filter((k) => unknownIn.every((set) => set.has(k)));
    out.push(...unknownKeys(schema, path, common));
  }
  return out;
}

function unknownKeys(schema: z.core.$ZodType, path: PathSegment[], keys: readonly string[]): TranslatedIssue[] {
  const known = knownKeys(schema, path);
  return keys.map((key) => {
    const suggestion = closest(key, known);
    return {
      path: [...path, key],
      message: `unknown key ${quote(key)}`,
      atKey: true,
      ...(suggestion ? { hint: `did you mean ${quote(suggestion)}?` } : {}),
    };
  });
}

function missingKey(path: PathSegment[], hint: string | undefined): TranslatedIssue {
  return { path, message: `missing required key ${quote(String(path.at(-1)))}`, ...(hint ? { hint } : {}) };
}

function isDefaultMessage(message: string): boolean {
  return message.startsWith('Invalid input') || message.startsWith('Invalid option');
}

function quote(text: string): string {
  return `'${text}'`;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return typeof value;
}

function pathKey(path: readonly PathSegment[]): string {
  return JSON.stringify(path);
}

function valueAt(input: unknown, path: readonly PathSegment[]): unknown {
  let value = input;
  for (const segment of path) {
    if (Array.isArray(value) && typeof segment === 'number') value = value[segment];
    else if (isPlainObject(value) && typeof segment === 'string' && Object.hasOwn(value, segment)) value = value[segment];
    else return undefined;
  }
  return value;
}

/** The keys the schema allows for the object at `path` (every branch's, where unions meet). */
export function knownKeys(schema: z.core.$ZodType, path: readonly PathSegment[]): Set<string> {
  const keys = new Set<string>();
  const visit = (node: z.core.$ZodType, rest: readonly PathSegment[], depth: number): void => {
    if (depth > 64) return;
    const s = node as z.core.$ZodTypes;
    const def = s._zod.def;
    switch (def.type) {
      case 'optional':
      case 'nullable':
      case 'default':
      case 'prefault':
      case 'nonoptional':
      case 'readonly':
      case 'catch':
        return visit(def.innerType, rest, depth + 1);
      case 'lazy':
        return visit(def.getter(), rest, depth + 1);
      case 'pipe':
        return visit(def.in, rest, depth + 1);
      case 'union':
        for (const option of def.options) visit(option, rest, depth + 1);
        return;
      case 'object': {
        if (rest.length === 0) {
          for (const key of Object.keys(def.shape)) keys.add(key);
          return;
        }
        const next = def.shape[String(rest[0])];
        if (next) visit(next, rest.slice(1), depth + 1);
        return;
      }
      case 'record':
        if (rest.length > 0) visit(def.valueType, rest.slice(1), depth + 1);
        return;
      case 'array':
        if (rest.length > 0) visit(def.element, rest.slice(1), depth + 1);
        return;
      default:
        return;
    }
  };
  visit(schema, path, 0);
  return keys;
}
