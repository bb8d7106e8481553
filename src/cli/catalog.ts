/**
 * `--live` for check, explain, diff and call: start the config's upstreams, wait until each has
 * connected or failed, and read what they really expose as a PolicyCatalog (exposed names,
 * trusted read-only hints, input-schema properties, resources, prompts). Closing reaps every
 * child process as a tree.
 */
import type { Config } from '../config/index.js';
import type { Logger } from '../log.js';
import type { PolicyCatalog } from '../policy/index.js';
import { policyCatalogOf } from '../proxy/catalog.js';

export interface UnreachableUpstream {
  readonly name: string;
  /** Why it did not come up, with its last stderr line when it had one. */
  readonly reason: string;
}

/** One or more upstreams could not be reached; the CLI exits 2. */
export class UpstreamsUnreachableError extends Error {
  override readonly name = 'UpstreamsUnreachableError';
  readonly upstreams: readonly UnreachableUpstream[];
  constructor(upstreams: readonly UnreachableUpstream[]) {
    super(upstreams.map((u) => `upstream ${u.name} (servers.${u.name}) is unreachable: ${u.reason}`).join('\n'));
    this.upstreams = upstreams;
  }
}

export interface LiveCatalog {
  readonly catalog: PolicyCatalog;
  /** Stops every upstream and reaps its process tree. Idempotent. */
  close(): Promise<void>;
}

/**
 * Connects to every upstream of `config` and returns their catalog. Throws
 * UpstreamsUnreachableError (after closing the others) when any upstream does not come up.
 */
export async function openLiveCatalog(config: Readonly<Config>, options: { secrets?: readonly string[]; log?: Logger } = {}): Promise<LiveCatalog> {
  // Loaded here, not at the top: commands without --live should not pay for the MCP SDK and pino.
  const [{ UpstreamRegistry }, { createLogger, maskSecrets }] = await Promise.all([import('../proxy/upstream/registry.js'), import('../log.js')]);
  const log = options.log ?? createLogger({ level: 'silent' });
  const registry = new UpstreamRegistry(config.servers, {
    log,
    hooks: {
      onNotification: () => undefined,
      onClientRequest: async (upstream, method) => {
        throw new Error(`portcullis is only reading ${upstream.name}'s catalog and cannot answer ${method}`);
      },
    },
    events: { onListsChanged: () => undefined },
  });
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= registry.close());
  try {
    await registry.start();
    const down = registry.upstreams.filter((u) => u.state !== 'up');
    if (down.length > 0) {
      const secrets = options.secrets ?? [];
      throw new UpstreamsUnreachableError(
        down.map((u) => {
          const stderr = u.lastStderr;
          const reason = `${u.lastError ?? 'did not connect'}${stderr ? ` (last stderr: ${stderr})` : ''}`;
          return { name: u.name, reason: maskSecrets(reason, secrets) };
        }),
      );
    }
    return { catalog: policyCatalogOf(registry), close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Runs `fn` with the live catalog of `config`, closing the upstreams afterwards. */
export async function withLiveCatalog<T>(config: Readonly<Config>, secrets: readonly string[], fn: (catalog: PolicyCatalog) => Promise<T> | T): Promise<T> {
  const live = await openLiveCatalog(config, { secrets });
  try {
    return await fn(live.catalog);
  } finally {
    await live.close();
  }
}

/** The advice printed with an UpstreamsUnreachableError. */
export const UNREACHABLE_HINT = 'start the upstream or fix its command/url under servers.NAME, or run without --live';
