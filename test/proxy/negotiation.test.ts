/**
 * `protocol: auto` on stdio upstreams: the era probe runs on a disposable sibling process, so a
 * 2025-era server that exits (or goes quiet) on a request before `initialize` still comes up,
 * and a 2026-07-28 server is found as one. This holds the SDK's negotiation to the transport
 * shape ChildStdioTransport keeps (see its file comment).
 */
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ServerSchema } from '../../src/config/index.js';
import { createLogger } from '../../src/log.js';
import { descendantsOf } from '../../src/proxy/upstream/process-tree.js';
import { Upstream, type UpstreamHooks } from '../../src/proxy/upstream/connection.js';
import { fixtureServer } from '../helpers/gateway.js';

const quiet = createLogger({ level: 'silent', destination: new Writable({ write: (_c, _e, done) => done() }) });
const hooks: UpstreamHooks = { onCatalogChanged: () => undefined, onNotification: () => undefined, onClientRequest: () => Promise.reject(new Error('no client')) };

let upstream: Upstream | undefined;
afterEach(async () => upstream?.close());

async function connect(file: string, args: string[] = [], extra: Record<string, unknown> = {}): Promise<Upstream> {
  const base = fixtureServer(file) as { args: string[] };
  const config = ServerSchema.parse({ ...base, args: [...base.args, ...args], protocol: 'auto', startTimeout: '10s', ...extra });
  upstream = new Upstream('up', config, { log: quiet, hooks });
  await upstream.start();
  return upstream;
}

describe('era negotiation with stdio upstreams', () => {
  it('brings up a 2025-era server that exits on a request before initialize', async () => {
    const u = await connect('strict-legacy-server.ts', ['exit']);
    expect([u.state, u.era, u.lastError]).toEqual(['up', 'legacy', undefined]);
    expect(u.catalog.tools.map((t) => t.name)).toEqual(['echo']);
  });

  it('brings up a 2025-era server that ignores a request before initialize once the probe times out, and reaps the probe', async () => {
    const u = await connect('strict-legacy-server.ts', ['ignore'], { startTimeout: '1500ms' });
    expect([u.state, u.era]).toEqual(['up', 'legacy']);
    // The sibling that was probed would wait forever; only the upstream's own process is left.
    expect(descendantsOf(process.pid).filter((pid) => commandLine(pid).includes('strict-legacy-server.ts ignore'))).toHaveLength(1);
  });

  it('finds a server that speaks 2026-07-28 as one', async () => {
    const u = await connect('flaky-server.ts');
    expect([u.state, u.era]).toEqual(['up', 'modern']);
  });
});

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}
