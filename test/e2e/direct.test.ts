/**
 * A 2025-era client, over stdio and over HTTP, in front of a 2025-era stdio upstream:
 * `tools/call` is served by the front itself rather than through the SDK server, and sent
 * straight over the upstream's transport (the forwarding hot path). Everything the SDK path
 * guarantees must hold here too.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CLIENT_INFO, fixtureServer, startHttpGateway, stdioClient, tempConfig, textOf, type RunningGateway, type TempConfig } from '../helpers/gateway.js';

const CLIENT_OPTIONS = { capabilities: { roots: {}, sampling: {} } };
const ROOTS = [{ uri: 'file:///work/project', name: 'project' }];

function flakyConfig(): { cfg: TempConfig; events: string } {
  const cfg = tempConfig({});
  const events = join(cfg.dir, 'events.log');
  cfg.write({
    servers: {
      flaky: fixtureServer('flaky-server.ts', { protocol: 'legacy', env: { FLAKY_EVENTS: events } }),
      // The same server speaking 2026-07-28: its calls take the SDK path, for comparison.
      modern: fixtureServer('flaky-server.ts'),
    },
    agents: { default: { rules: [{ allow: '{flaky,modern}__*' }, { deny: 'flaky__pid', reason: 'process ids stay private' }] } },
    gateway: { limits: { callTimeout: '1500ms' } },
  });
  return { cfg, events };
}

const count = (file: string, word: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l === word).length : 0);

describe.each(['stdio', 'http'] as const)('2025-era end to end over %s (direct forwarding)', (transport) => {
  let cfg: TempConfig;
  let gateway: RunningGateway | undefined;
  let client: Client;
  let events: string;
  /** The content type of each HTTP answer to a tools/call. */
  const answeredAs: string[] = [];

  beforeAll(async () => {
    ({ cfg, events } = flakyConfig());
    if (transport === 'http') {
      gateway = await startHttpGateway(cfg.file);
      client = new Client(CLIENT_INFO, CLIENT_OPTIONS);
      const recording: typeof fetch = async (input, init) => {
        const response = await fetch(input, init);
        if (typeof init?.body === 'string' && init.body.includes('"method":"tools/call"')) answeredAs.push(response.headers.get('content-type') ?? '');
        return response;
      };
      await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url), { fetch: recording }));
    } else {
      ({ client } = await stdioClient(cfg.file, 'legacy', CLIENT_OPTIONS));
    }
    client.setRequestHandler('roots/list', async () => ({ roots: ROOTS }));
  });

  afterAll(async () => {
    await client?.close();
    await gateway?.stop();
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

  it('asks the client on behalf of the upstream during the call', async () => {
    const result = await client.callTool({ name: 'flaky__list_roots', arguments: {} });
    expect(JSON.parse(textOf(result))).toEqual(ROOTS);
  });

  it('cancels the upstream call when the client cancels, and the gateway stays usable', async () => {
    const cancelled = count(events, 'slow:cancelled');
    const controller = new AbortController();
    const call = client.callTool({ name: 'flaky__slow', arguments: { ms: 1_000 } }, { signal: controller.signal });
    setTimeout(() => controller.abort(), 150);
    await expect(call).rejects.toThrow();
    await vi.waitFor(() => expect(count(events, 'slow:cancelled')).toBe(cancelled + 1), { timeout: 3_000 });
    expect(textOf(await client.callTool({ name: 'flaky__echo', arguments: { text: 'after' } }))).toBe('after');
  });

  it.each(['flaky', 'modern'])('audits a %s call the client gave up on as cancelled, not as an upstream timeout', async (prefix) => {
    const tool = `${prefix}__slow`;
    const audit = join(cfg.dir, 'audit.jsonl');
    const outcomes = () =>
      (existsSync(audit) ? readFileSync(audit, 'utf8') : '').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((e) => e.tool === tool && e.event === 'call.completed')
        .map((e) => e.outcome);
    const before = outcomes().length;
    await expect(client.callTool({ name: tool, arguments: { ms: 1_000 } }, { timeout: 200 })).rejects.toThrow(/timed out/i);
    await vi.waitFor(() => expect(outcomes().slice(before)).toEqual(['UPSTREAM_UNAVAILABLE']), { timeout: 3_000 });
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

  it.runIf(transport === 'http')('served those calls itself: a plain answer is JSON, not the SDK transport\'s event stream', () => {
    expect(answeredAs.filter((type) => type === 'application/json').length).toBeGreaterThanOrEqual(40);
    // Calls that reached the client first (progress, roots) were answered as event streams.
    expect(answeredAs).toContain('text/event-stream');
  });
});

describe('the HTTP front\'s direct answers', () => {
  let cfg: TempConfig;
  let events: string;
  let gateway: RunningGateway;
  let session: string;

  /** POSTs a message (a string is sent as it is) in the session. */
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  beforeAll(async () => {
    ({ cfg, events } = flakyConfig());
    gateway = await startHttpGateway(cfg.file);
    const init = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }),
    });
    session = init.headers.get('mcp-session-id') ?? '';
    await init.text();
    expect((await post({ jsonrpc: '2.0', method: 'notifications/initialized' })).status).toBe(202);
  });

  afterAll(async () => {
    await gateway?.stop();
    cfg?.cleanup();
  });

  it('answers a plain call with JSON, carrying the session id', async () => {
    const response = await post({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'flaky__echo', arguments: { text: 'plain' } } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('mcp-session-id')).toBe(session);
    expect(await response.json()).toEqual({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'plain' }] } });
  });

  it('turns the answer into an event stream when the call sends the client something first', async () => {
    const response = await post({ jsonrpc: '2.0', id: 'p', method: 'tools/call', params: { name: 'flaky__leak', arguments: {}, _meta: { progressToken: 'tok' } } });
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const messages = (await response.text())
      .split('\n')
      .filter((line) => line.startsWith('data: '))
      .map((line) => JSON.parse(line.slice(6)) as { method?: string; id?: unknown; params?: Record<string, unknown>; result?: Record<string, unknown> });
    expect(messages.map((m) => m.method ?? `answer ${String(m.id)}`)).toEqual(['notifications/progress', 'notifications/message', 'answer p']);
    expect(messages[0]!.params).toMatchObject({ progressToken: 'tok', message: 'using unset' });
    expect(messages[2]!.result).toMatchObject({ isError: true });
  });

  it('refuses arguments nested too deep for any recursive walk, on both paths, and audits the refusal', async () => {
    // Deeper than JSON.stringify (and the argument digest) can recurse: written by hand.
    const levels = 20_000;
    for (const name of ['flaky__echo', 'modern__echo']) {
      const id = `deep-${name}`;
      const response = await post(`{"jsonrpc":"2.0","id":"${id}","method":"tools/call","params":{"name":"${name}","arguments":{"text":"x","deep":${'['.repeat(levels)}${']'.repeat(levels)}}}}`);
      expect(response.status).toBe(200);
      const text = await response.text();
      // The direct path answers with JSON, the SDK path (a 2026-07-28 upstream) with an event stream.
      const answer = JSON.parse(response.headers.get('content-type') === 'text/event-stream' ? text.split('\n').findLast((l) => l.startsWith('data: '))!.slice(6) : text) as { id: unknown; result?: { isError?: boolean; content: Array<{ text: string }> } };
      expect(answer.id).toBe(id);
      expect(answer.result?.isError).toBe(true);
      expect(answer.result?.content[0]!.text).toMatch(/nest deeper than \d+ levels/);
    }
    const audit = readFileSync(join(cfg.dir, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const refusals = audit.filter((e) => (e.tool === 'flaky__echo' || e.tool === 'modern__echo') && e.decision === 'deny');
    expect(refusals.map((e) => `${String(e.event)} ${String(e.tool)}`)).toEqual(['call.decided flaky__echo', 'call.decided modern__echo']);
    expect(refusals[0]!.reasons).toEqual([expect.stringMatching(/nest deeper than \d+ levels/)]);
    // The session is still served.
    expect(await (await post({ jsonrpc: '2.0', id: 'after', method: 'tools/call', params: { name: 'flaky__echo', arguments: { text: 'still here' } } })).json()).toMatchObject({ id: 'after', result: { content: [{ text: 'still here' }] } });
  });

  it('leaves to the SDK the requests it refuses, and those it classes as 2026-07-28', async () => {
    const call = { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'flaky__echo', arguments: { text: 'x' } } };
    expect((await post(call, { accept: 'application/json' })).status).toBe(406);
    expect((await post(call, { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await post(call, { 'mcp-protocol-version': '1999-01-01' })).status).toBe(400);
    // An envelope claim makes it a 2026-07-28 request, whatever session id it carries: this one lacks the rest of the envelope.
    const claimed = await post({ ...call, params: { ...call.params, _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } } });
    expect(claimed.status).toBe(400);
    expect(await claimed.json()).toMatchObject({ error: { code: -32602, message: expect.stringMatching(/envelope/) } });
  });

  it('cancels a running call when the client cancels it in a POST of its own', async () => {
    const cancelled = count(events, 'slow:cancelled');
    const pending = post({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'flaky__slow', arguments: { ms: 1_000 } } });
    await vi.waitFor(() => expect(count(events, 'slow:start')).toBeGreaterThan(0), { timeout: 3_000 });
    expect((await post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 3, reason: 'changed my mind' } })).status).toBe(202);
    await vi.waitFor(() => expect(count(events, 'slow:cancelled')).toBe(cancelled + 1), { timeout: 3_000 });
    // A cancelled request is not answered: its response is an event stream with nothing in it.
    const answered = await pending;
    expect([answered.status, answered.headers.get('content-type'), await answered.text()]).toEqual([200, 'text/event-stream', '']);
  });

  it('ends the event stream of a call on the SDK path that the client cancels, which the SDK server never answers', async () => {
    const response = await post({ jsonrpc: '2.0', id: 'sdk-cancel', method: 'tools/call', params: { name: 'modern__slow', arguments: { ms: 1_000 } } });
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    expect((await post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'sdk-cancel', reason: 'changed my mind' } })).status).toBe(202);
    const body = await Promise.race([response.text(), new Promise<string>((resolve) => setTimeout(() => resolve('still open'), 5_000))]);
    expect(body).not.toBe('still open');
    // At most an error for the cancelled request (which the client ignores), never its result.
    const answers = body.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)) as { id?: unknown; result?: unknown; error?: unknown });
    expect(answers.filter((m) => m.id === 'sdk-cancel' && m.result !== undefined)).toEqual([]);
    // The id is free again once its stream has ended.
    expect((await post({ jsonrpc: '2.0', id: 'sdk-cancel', method: 'tools/call', params: { name: 'flaky__echo', arguments: { text: 'reused' } } })).status).toBe(200);
  });

  it('refuses a request that reuses the id of one not answered yet, on either path, and still answers the first', async () => {
    // Each path's call held, then the same id sent down the other path.
    for (const [name, other] of [['flaky__slow', 'modern__echo'], ['modern__slow', 'flaky__echo']] as const) {
      const id = `dup-${name}`;
      const first = post({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: { ms: 1_000 } } });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const second = await post({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: other, arguments: { text: 'second' } } });
      expect(second.status).toBe(400);
      expect(await second.json()).toMatchObject({ id, error: { code: -32600, message: expect.stringContaining('not been answered') } });
      const answered = await (await first).text();
      expect(answered).toContain(`"id":"${id}"`);
      expect(answered).toContain('"text":"done"');
    }
    // Once answered, the id may be used again.
    expect(await (await post({ jsonrpc: '2.0', id: 'dup-flaky__slow', method: 'tools/call', params: { name: 'flaky__echo', arguments: { text: 'again' } } })).json()).toMatchObject({ result: { content: [{ text: 'again' }] } });
  });

  it('cancels running calls when the session is deleted', async () => {
    const cancelled = count(events, 'slow:cancelled');
    const started = count(events, 'slow:start');
    const pending = post({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'flaky__slow', arguments: { ms: 1_000 } } });
    await vi.waitFor(() => expect(count(events, 'slow:start')).toBe(started + 1), { timeout: 3_000 });
    const deleted = await fetch(gateway.url, { method: 'DELETE', headers: { 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' } });
    expect(deleted.status).toBe(200);
    await vi.waitFor(() => expect(count(events, 'slow:cancelled')).toBe(cancelled + 1), { timeout: 3_000 });
    const answered = await pending;
    expect([answered.status, answered.headers.get('content-type'), await answered.text()]).toEqual([200, 'text/event-stream', '']);
    expect((await post({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'flaky__echo', arguments: { text: 'x' } } })).status).toBe(404);
  });
});
