import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig, watchConfig } from '../../src/config/index.js';
import type { ConfigError, ConfigWatcher, LoadedConfig } from '../../src/config/index.js';

const version = (owner: string): string => `version: 1\nagents:\n  default:\n    owner: ${owner}\n`;

describe('watchConfig', () => {
  let dir: string;
  let file: string;
  let watcher: ConfigWatcher | undefined;
  let changes: LoadedConfig[];
  let errors: ConfigError[];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-watch-'));
    file = join(dir, 'portcullis.yaml');
    await writeFile(file, version('alice@example.com'));
    const initial = await loadConfig(file, { env: {} });
    changes = [];
    errors = [];
    watcher = watchConfig(file, (loaded) => changes.push(loaded), (error) => errors.push(error), { env: {}, initialHash: initial.hash });
  });

  afterEach(async () => {
    watcher?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reports an edit in place with the new config', async () => {
    await writeFile(file, version('bob@example.com'));
    await vi.waitFor(() => expect(changes).toHaveLength(1));
    expect(changes[0]?.config.agents['default']?.owner).toBe('bob@example.com');
    expect(errors).toEqual([]);
  });

  it('reports a file replaced by rename, as editors save', async () => {
    const temp = join(dir, '.portcullis.yaml.swp');
    await writeFile(temp, version('carol@example.com'));
    await rename(temp, file);
    await vi.waitFor(() => expect(changes).toHaveLength(1));
    expect(changes[0]?.config.agents['default']?.owner).toBe('carol@example.com');
  });

  it('reports an invalid edit to onError with every issue, and not to onChange', async () => {
    await writeFile(file, 'version: 1\nagents:\n  default:\n    ownr: x\n    rules: [ { alow: y } ]\n');
    await vi.waitFor(() => expect(errors).toHaveLength(1));
    expect(errors[0]?.issues.map((i) => i.path)).toEqual(['agents.default.ownr', 'agents.default.rules[0]', 'agents.default.rules[0].alow']);
    expect(changes).toEqual([]);

    await writeFile(file, version('dave@example.com'));
    await vi.waitFor(() => expect(changes).toHaveLength(1));
    expect(changes[0]?.config.agents['default']?.owner).toBe('dave@example.com');
    expect(errors).toHaveLength(1);
  });

  it('ignores a rewrite with identical content', async () => {
    watcher?.close();
    const reads: string[] = [];
    const initial = await loadConfig(file, { env: {} });
    watcher = watchConfig(file, (loaded) => changes.push(loaded), (error) => errors.push(error), {
      env: {},
      initialHash: initial.hash,
      readFile: async (path) => {
        const text = await readFile(path, 'utf8');
        reads.push(path);
        return text;
      },
    });
    await writeFile(file, version('alice@example.com'));
    await vi.waitFor(() => expect(reads.length).toBeGreaterThan(0));
    expect(changes).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('can be closed more than once', () => {
    watcher?.close();
    expect(() => watcher?.close()).not.toThrow();
  });
});
