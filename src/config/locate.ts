/**
 * Places YAML paths (`agents.default.rules[2].where.path`) in a config's text, so that findings
 * found on the parsed data can name a line and column.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';

type Segment = string | number;

/** Splits `agents.default.rules[2].where["/a/b"]` into `['agents', 'default', 'rules', 2, 'where', '/a/b']`. */
export function parseYamlPath(path: string): Segment[] {
  const out: Segment[] = [];
  const token = /\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]|\.?([^.[\]]+)/y;
  let m: RegExpExecArray | null;
  while (token.lastIndex < path.length && (m = token.exec(path))) {
    if (m[1] !== undefined) out.push(Number(m[1]));
    else if (m[2] !== undefined) out.push(JSON.parse(m[2]) as string);
    else if (m[3] !== undefined) out.push(m[3]);
  }
  return out;
}

export type Locator = (path: string) => { line?: number; column?: number };

/** Finds YAML paths in a config's text: the node at the path, or its nearest existing ancestor. */
export function yamlLocator(text: string): Locator {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: false });
  return (path) => {
    let node: Node | null | undefined = doc.contents;
    let found: Node | undefined = node ?? undefined;
    for (const segment of parseYamlPath(path)) {
      if (isMap(node)) {
        const pair = node.items.findLast((item) => (isScalar(item.key) ? String(item.key.value) : String(item.key)) === String(segment));
        if (!pair) break;
        node = pair.value as Node | null;
        found = node ?? (pair.key as Node | undefined) ?? found;
      } else if (isSeq(node) && typeof segment === 'number' && node.items[segment]) {
        node = node.items[segment] as Node;
        found = node;
      } else {
        break;
      }
    }
    if (!found?.range) return {};
    const { line, col } = lineCounter.linePos(found.range[0]);
    return { line: Math.max(line, 1), column: col };
  };
}

/** A locator for a file on disk; one that places nothing when the file cannot be read. */
export async function locatorForFile(file: string): Promise<Locator> {
  try {
    return yamlLocator(await readFile(resolve(file), 'utf8'));
  } catch {
    return () => ({});
  }
}
