/** Hot reload: watch the config file and hand over each new version that validates. */
import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { readFile as readFileFromDisk } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { ConfigError } from './issues.js';
import { parseConfigText } from './load.js';
import type { LoadedConfig, LoadOptions } from './load.js';
import { sha256Hex } from '../digest.js';

export interface WatchOptions extends LoadOptions {
  /** Hash of the config already in force (LoadedConfig.hash); that content is not reported again. */
  initialHash?: string;
  /** Quiet period after the last file event before reloading. */
  debounceMs?: number;
}

export interface ConfigWatcher {
  close(): void;
}

/**
 * Watches `file` and calls `onChange` with each new valid version, or `onError` with every
 * issue of an invalid one (the caller keeps the old config in force). Content identical to the
 * config in force, or to the last version reported, is ignored. Errors thrown by the callbacks
 * are not swallowed: they surface as uncaught exceptions, as from any event listener.
 */
export function watchConfig(
  file: string,
  onChange: (loaded: LoadedConfig) => void,
  onError: (error: ConfigError) => void,
  options: WatchOptions = {},
): ConfigWatcher {
  const path = resolve(file);
  const name = basename(path);
  const readFile = options.readFile ?? ((p: string) => readFileFromDisk(p, 'utf8'));
  const env = options.env ?? process.env;
  const debounceMs = options.debounceMs ?? 100;

  let inForce = options.initialHash;
  let lastSeen = options.initialHash;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let rerun = false;

  const deliver = (callback: () => void): void => {
    if (closed) return;
    try {
      callback();
    } catch (error) {
      setImmediate(() => {
        throw error;
      });
    }
  };

  const reload = async (): Promise<void> => {
    let text: string;
    try {
      text = await readFile(path);
    } catch (error) {
      // Mid-rename the file may be briefly absent; report only a state that outlived the debounce.
      const reason = (error as NodeJS.ErrnoException | undefined)?.code ?? String(error);
      const marker = `unreadable:${reason}`;
      if (lastSeen === marker) return;
      lastSeen = marker;
      const failure = new ConfigError(file, [{ path: '', message: `cannot read the config file (${reason})` }], { kind: 'unreadable', cause: error });
      deliver(() => onError(failure));
      return;
    }
    const hash = sha256Hex(text);
    if (hash === lastSeen) return;
    lastSeen = hash;
    if (hash === inForce) return;
    let loaded: LoadedConfig;
    try {
      loaded = await parseConfigText(text, file, env, readFile);
    } catch (error) {
      const failure = error instanceof ConfigError
        ? error
        : new ConfigError(file, [{ path: '', message: `cannot load the config: ${error instanceof Error ? error.message : String(error)}` }], { cause: error });
      deliver(() => onError(failure));
      return;
    }
    if (closed) return;
    inForce = hash;
    deliver(() => onChange(loaded));
  };

  const run = async (): Promise<void> => {
    if (running) {
      rerun = true;
      return;
    }
    running = true;
    try {
      await reload();
    } finally {
      running = false;
      if (rerun && !closed) {
        rerun = false;
        schedule();
      }
    }
  };

  const schedule = (): void => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(() => void run(), debounceMs);
  };

  // Watch the folder, not the file: editors and config managers replace files by renaming a new
  // one over them, which ends a watch on the old file. Kubernetes swaps a `..data` symlink.
  let watcher: FSWatcher | undefined = watch(dirname(path), (_event, changed) => {
    if (changed === null || changed === name || changed.startsWith('..')) schedule();
  });
  watcher.on('error', (error) => {
    const failure = new ConfigError(file, [{ path: '', message: `stopped watching the config file: ${error.message}` }], { kind: 'unreadable', cause: error });
    deliver(() => onError(failure));
    close();
  });

  if (inForce === undefined) {
    // Without a known starting point, take the file as it is now as the version in force.
    void Promise.resolve(readFile(path)).then(
      (text) => {
        inForce ??= sha256Hex(text);
        lastSeen ??= inForce;
      },
      () => undefined,
    );
  }

  function close(): void {
    if (closed) return;
    closed = true;
    clearTimeout(timer);
    try {
      watcher?.close();
    } finally {
      watcher = undefined;
    }
  }

  return { close };
}
