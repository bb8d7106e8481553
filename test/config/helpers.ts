import { resolve } from 'node:path';
import { ConfigError, parseConfigText } from '../../src/config/index.js';
import type { Issue, LoadedConfig } from '../../src/config/index.js';

export const CONFIG_FILE = '/etc/portcullis/portcullis.yaml';

/** Parses YAML text as if it were /etc/portcullis/portcullis.yaml, with in-memory `${file:}` files. */
export function parse(text: string, env: Record<string, string> = {}, files: Record<string, string> = {}): Promise<LoadedConfig> {
  const byPath = new Map(Object.entries(files).map(([path, content]) => [resolve('/etc/portcullis', path), content]));
  return parseConfigText(text, CONFIG_FILE, env, (path) => {
    const content = byPath.get(path);
    if (content === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return content;
  });
}

/** The ConfigError a parse is expected to throw. */
export async function failure(text: string, env: Record<string, string> = {}, files: Record<string, string> = {}): Promise<ConfigError> {
  try {
    await parse(text, env, files);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected the config to be rejected');
}

export async function issues(text: string, env: Record<string, string> = {}, files: Record<string, string> = {}): Promise<Issue[]> {
  return [...(await failure(text, env, files)).issues];
}

/** Strips a common leading indent so YAML can be written inline in tests. */
export function yaml(strings: TemplateStringsArray, ...values: unknown[]): string {
  const raw = strings.reduce((out, part, i) => out + part + (i < values.length ? String(values[i]) : ''), '').replace(/^\n/, '');
  const indent = Math.min(...raw.split('\n').filter((l) => l.trim() !== '').map((l) => /^ */.exec(l)![0].length));
  return raw.split('\n').map((l) => l.slice(indent)).join('\n');
}
