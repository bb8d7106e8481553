/** The YAML layer: parse keeping source positions, and map YAML paths back to line:column. */
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document, Node, ParsedNode } from 'yaml';
import { formatPath } from './issues.js';
import type { Issue, PathSegment } from './issues.js';

/** An issue before it is placed in the file: a path, or a raw offset for parser errors. */
export interface SourceIssue {
  path: PathSegment[];
  message: string;
  hint?: string;
  /** Point at the key rather than its value (unknown keys, bad names). */
  atKey?: boolean;
  offset?: number;
}

export interface SourceDocument {
  readonly doc: Document.Parsed;
  readonly lineCounter: LineCounter;
}

export interface ParsedYaml {
  source: SourceDocument;
  /** Plain data; undefined when the YAML is too broken to validate further. */
  data: unknown;
  errors: SourceIssue[];
  warnings: SourceIssue[];
}

// Aliases expand on conversion; cap them so a "billion laughs" file cannot exhaust memory.
const MAX_ALIAS_COUNT = 100;

export function parseYaml(text: string): ParsedYaml {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const source = { doc, lineCounter };
  const errors: SourceIssue[] = [];
  let structural = false;
  for (const error of doc.errors) {
    const offset = error.pos[0];
    if (error.code === 'DUPLICATE_KEY') {
      errors.push(duplicateKeyIssue(source, offset));
    } else {
      structural = true;
      errors.push({ path: pathAtOffset(source, offset), message: `YAML syntax: ${firstLine(error.message)}`, offset });
    }
  }
  const warnings = doc.warnings.map((warning) => ({
    path: pathAtOffset(source, warning.pos[0]),
    message: `YAML: ${firstLine(warning.message)}`,
    offset: warning.pos[0],
  }));
  if (structural) return { source, data: undefined, errors, warnings };
  try {
    const data: unknown = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    if (isCyclic(data)) {
      errors.push({ path: [], message: 'YAML: an alias refers to a node that contains it; the config would be infinite' });
      return { source, data: undefined, errors, warnings };
    }
    return { source, data, errors, warnings };
  } catch (error) {
    errors.push({ path: [], message: `YAML: ${error instanceof Error ? firstLine(error.message) : String(error)}` });
    return { source, data: undefined, errors, warnings };
  }
}

function isCyclic(value: unknown, ancestors = new Set<unknown>()): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (ancestors.has(value)) return true;
  ancestors.add(value);
  const cyclic = Object.values(value).some((item) => isCyclic(item, ancestors));
  ancestors.delete(value);
  return cyclic;
}

function firstLine(message: string): string {
  return message.split('\n', 1)[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

function duplicateKeyIssue(source: SourceDocument, offset: number): SourceIssue {
  const path = pathAtOffset(source, offset);
  const key = path.at(-1);
  const parent = path.length === 2 ? path[0] : undefined;
  const what = parent === 'agents' ? 'agent name' : parent === 'servers' ? 'server name' : 'key';
  return {
    path,
    message: `duplicate ${what} '${String(key)}'`,
    hint: 'each key may appear once; a later one would silently replace the earlier',
    atKey: true,
    offset,
  };
}

/** The YAML path of the innermost key or value containing `offset`. */
export function pathAtOffset(source: SourceDocument, offset: number): PathSegment[] {
  const path: PathSegment[] = [];
  let node: Node | null | undefined = source.doc.contents;
  for (;;) {
    if (isMap(node)) {
      const pair = node.items.find((item) => {
        const end = (item.value as ParsedNode | null)?.range[2] ?? (item.key as ParsedNode | null)?.range[2];
        const start = (item.key as ParsedNode | null)?.range[0];
        return start !== undefined && end !== undefined && offset >= start && offset <= end;
      });
      if (!pair) return path;
      path.push(keyString(pair.key));
      const key = pair.key as ParsedNode | null;
      if (key && offset >= key.range[0] && offset <= key.range[1]) return path;
      node = pair.value as Node | null;
    } else if (isSeq(node)) {
      const index = node.items.findIndex((item) => {
        const range = (item as ParsedNode | null)?.range;
        return range !== undefined && offset >= range[0] && offset <= range[2];
      });
      if (index < 0) return path;
      path.push(index);
      node = node.items[index] as Node | null;
    } else {
      return path;
    }
  }
}

function keyString(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}

/** Line and column (1-based) of the node at `path`, or of its nearest ancestor that exists. */
export function locate(source: SourceDocument, path: readonly PathSegment[], atKey = false): { line: number; column: number } | undefined {
  let node: Node | null | undefined = source.doc.contents;
  let found: Node | undefined = node ?? undefined;
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(source.doc);
    if (isMap(node)) {
      // The last of duplicate keys wins, as in the converted data.
      const pair = node.items.findLast((item) => keyString(item.key) === String(segment));
      if (!pair) break;
      const key = isScalar(pair.key) ? pair.key : undefined;
      node = pair.value as Node | null;
      found = (atKey ? key : node) ?? key ?? found;
    } else if (isSeq(node) && typeof segment === 'number' && node.items[segment]) {
      node = node.items[segment] as Node;
      found = node;
    } else {
      break;
    }
  }
  return found?.range ? position(source, found.range[0]) : undefined;
}

function position(source: SourceDocument, offset: number): { line: number; column: number } {
  const { line, col } = source.lineCounter.linePos(offset);
  return { line: Math.max(line, 1), column: col };
}

/** Places issues in the file and renders their paths. */
export function placeIssues(source: SourceDocument, issues: readonly SourceIssue[]): Issue[] {
  return issues.map((issue) => {
    const at = issue.offset !== undefined ? position(source, issue.offset) : locate(source, issue.path, issue.atKey);
    return {
      path: formatPath(issue.path),
      message: issue.message,
      ...(at ? { line: at.line, column: at.column } : {}),
      ...(issue.hint !== undefined ? { hint: issue.hint } : {}),
    };
  });
}
