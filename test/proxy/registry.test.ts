/** Reloaded `servers` (SPEC §3): which upstreams are kept, replaced or closed, and what a call held across the reload gets. */
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ServerSchema, type ServerConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/log.js';
import { UpstreamRegistry } from '../../src/proxy/upstream/registry.js';

const quiet = createLogger({ level: 'silent', destination: new Writable({ write: (_c, _e, done) => done() }) });
/** HTTP upstreams on ports nothing listens on: they go down at once, which is all these tests need. */
const server = (port: number, extra: Record<string, unknown> = {}): ServerConfig => ServerSchema.parse({ url: `http://127.0.0.1:${port}/mcp`, startTimeout: '2s', ...extra });

let registry: UpstreamRegistry | undefined;
afterEach(async () => registry?.close());

function open(servers: Record<string, ServerConfig>): UpstreamRegistry {
  return (registry = new UpstreamRegistry(servers, {
    log: quiet,
    hooks: { onNotification: () => undefined, onClientRequest: () => Promise.reject(new Error('no client')) },
    events: { onListsChanged: () => undefined },
  }));
}

describe('UpstreamRegistry.reconfigure', () => {
  it('keeps unchanged upstreams, replaces changed ones, starts added ones and closes removed ones', async () => {
    const r = open({ keep: server(9), change: server(9), drop: server(9) });
    const [keep, change, drop] = ['keep', 'change', 'drop'].map((n) => r.get(n)!);
    const changes = await r.reconfigure({ keep: server(9), change: server(9, { prefix: 'changed' }), add: server(9) });
    expect(changes).toEqual({ added: ['add'], removed: ['drop'], replaced: ['change'] });
    expect(r.get('keep')).toBe(keep);
    expect(r.get('change')).not.toBe(change);
    expect(r.get('change')!.prefix).toBe('changed');
    expect(r.get('drop')).toBeUndefined();
    expect([change!.state, drop!.state]).toEqual(['closed', 'closed']);
  });

  it('does nothing when the servers did not change', async () => {
    const r = open({ a: server(9) });
    const a = r.get('a');
    expect(await r.reconfigure({ a: server(9) })).toEqual({ added: [], removed: [], replaced: [] });
    expect(r.get('a')).toBe(a);
  });

  it('refuses a call routed to an upstream a reload retired, rather than start its old definition', async () => {
    const r = open({ a: server(9, { isolation: 'session' }) });
    const retired = r.get('a')!;
    await r.reconfigure({ a: server(10, { isolation: 'session' }) });
    await expect(r.forSession(retired, 'session-1')).rejects.toThrow(/upstream a unavailable: its definition changed in a reload/);
  });

  it('starts nothing once closed', async () => {
    const r = open({ a: server(9) });
    await r.close();
    expect(await r.reconfigure({ b: server(9) })).toEqual({ added: [], removed: [], replaced: [] });
    expect(r.get('b')).toBeUndefined();
  });
});
