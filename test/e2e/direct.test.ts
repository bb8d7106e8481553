/**
 * A 2025-era client over stdio in front of a 2025-era stdio upstream: `tools/call` is taken
 * straight off the wire at the front and sent straight over the upstream's transport (the
 * forwarding hot path). Everything the SDK path guarantees must hold here too.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { fixtureServer, stdioClient, tempConfig, textOf, type TempConfig } from '../helpers/gateway.js';

describe('2025-era end to end over stdio (direct forwarding)', () => {
  let cfg: TempConfig;
  let client: Client;
  let events: string;

  beforeAll(async () => {
    cfg = tempConfig({});
    events = join(cfg.dir, 'events.log');
    cfg.write({
      servers: { flaky: fixtureServer('flaky-server.ts', { protocol: 'legacy', env: { FLAKY_EVENTS: events } }) },
      agents: { default: { rules: [{ allow: 'flaky__*' }, { deny: 'flaky__pid', reason: 'process ids stay private' }] } },
      gateway: { limits: { callTimeout: '1500ms' } },
    });
    ({ client } = await stdioClient(cfg.file, 'legacy'));
  });

  afterAll(async () => {
    await client?.close();
    cfg?.cleanup();
  });

  it('sends the call over the upstream transport with its own request id, and audits it', async () => {
    const result = await client.callTool({ name: 'flaky__request_id', arguments: {} });
    const seen = JSON.parse(textOf(result)) as { id: unknown; era: string };
    expect(seen.era).toBe('legacy');
    expect(seen.id).toMatch(/^pcd-\d+$/);
    const audit = readFileSync(join(cfg.dir, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const events = audit.filter((e) => e.tool === 'flaky__request_id').map((e) => `${String(e.event)}:${String(e.decision)}:${String(e.outcome ?? '')}`);
    expect(events).toEqual(['call.decided:allow:', 'call.completed:allow:ok']);
  });

  it('keeps each answer with its own request under concurrency', async () => {
    const texts = Array.from({ length: 40 }, (_, i) => `message ${i}`);
    const results = await Promise.all(texts.map((text) => client.callTool({ name: 'flaky__echo', arguments: { text } })));
    expect(results.map(textOf)).toEqual(texts);
  });

  it('still applies the policy: a denied tool gets the rule and reason', async () => {
    const result = await client.callTool({ name: 'flaky__pid', arguments: {} });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('process ids stay private');
  });

  it('forwards progress to a client that asked for it', async () => {
    const progress: string[] = [];
    const result = await client.callTool({ name: 'flaky__leak', arguments: {} }, { onprogress: (p) => progress.push(p.message ?? '') });
    expect(result.isError).toBe(true);
    expect(progress).toEqual(['using unset']);
  });

  it('cancels the upstream call when the client cancels, and the gateway stays usable', async () => {
    const controller = new AbortController();
    const call = client.callTool({ name: 'flaky__slow', arguments: { ms: 1_000 } }, { signal: controller.signal });
    setTimeout(() => controller.abort(), 150);
    await expect(call).rejects.toThrow();
    await vi.waitFor(() => expect(existsSync(events) ? readFileSync(events, 'utf8') : '').toContain('slow:cancelled'), { timeout: 3_000 });
    expect(textOf(await client.callTool({ name: 'flaky__echo', arguments: { text: 'after' } }))).toBe('after');
  });

  it('answers a call the upstream does not finish in time with a timeout', async () => {
    await expect(client.callTool({ name: 'flaky__slow', arguments: { ms: 3_000 } })).rejects.toThrow(/did not answer in time/);
  });

  it('relays a failing tool\'s error result', async () => {
    const result = await client.callTool({ name: 'flaky__leak_error', arguments: {} });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('upstream rejected key unset');
  });

  it('answers a call whose upstream crashes mid-call with a clear error, then works again once it is back', async () => {
    await expect(client.callTool({ name: 'flaky__crash', arguments: {} })).rejects.toThrow(/upstream flaky unavailable/);
    await vi.waitFor(
      async () => {
        const seen = JSON.parse(textOf(await client.callTool({ name: 'flaky__request_id', arguments: {} }))) as { id: string };
        expect(seen.id).toMatch(/^pcd-/);
      },
      { timeout: 15_000, interval: 250 },
    );
  });
});
