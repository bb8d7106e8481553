/**
 * Failure behaviour with real processes: upstream crashes, upstreams that never start, hostile
 * HTTP requests, unknown sessions, and shutdown reaping every child process.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { descendantsOf, isAlive } from '../../src/proxy/upstream/process-tree.js';
import { BIN, demoServer, fixtureServer, httpClient, startHttpGateway, tempConfig, textOf, type RunningGateway, type TempConfig } from '../helpers/gateway.js';

const ALLOW_ALL = { default: { rules: [{ allow: '**' }], resources: [{ allow: '**' }], prompts: [{ allow: '**' }] } };

describe('upstream failures', () => {
  let cfg: TempConfig;
  let gw: RunningGateway;

  beforeAll(async () => {
    cfg = tempConfig({
      servers: {
        flaky: fixtureServer('flaky-server.ts'),
        broken: { command: process.execPath, args: ['-e', 'process.stderr.write("broken: missing API key\\n"); process.exit(3)'] },
      },
      agents: ALLOW_ALL,
    });
    gw = await startHttpGateway(cfg.file);
  });

  afterAll(async () => {
    await gw?.stop();
    cfg?.cleanup();
  });

  it('keeps serving the other upstreams when one never starts, and names it with its last stderr line', async () => {
    const client = await httpClient(gw.url);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain('flaky__echo');
    expect(tools.some((t) => t.name.startsWith('broken__'))).toBe(false);
    await expect(client.callTool({ name: 'broken__anything', arguments: {} })).rejects.toThrow(/upstream broken unavailable: .*broken: missing API key/);
    expect(gw.stderr()).toMatch(/upstream broken unavailable/);
    await client.close();
  });

  it('answers a call whose upstream crashes mid-call with a clear error, stays up, and brings the upstream back', async () => {
    const client = await httpClient(gw.url);
    await expect(client.callTool({ name: 'flaky__crash', arguments: {} })).rejects.toThrow(/upstream flaky unavailable/);
    // The gateway is still up and the upstream restarts with backoff.
    await vi.waitFor(
      async () => {
        const result = await client.callTool({ name: 'flaky__echo', arguments: { text: 'back' } });
        expect(textOf(result)).toBe('back');
      },
      { timeout: 15_000, interval: 250 },
    );
    await client.close();
  });
});

describe('hostile HTTP requests', () => {
  let cfg: TempConfig;
  let gw: RunningGateway;

  beforeAll(async () => {
    cfg = tempConfig({ servers: { flaky: fixtureServer('flaky-server.ts') }, agents: ALLOW_ALL, gateway: { limits: { maxRequestBytes: '64KiB' } } });
    gw = await startHttpGateway(cfg.file);
  });

  afterAll(async () => {
    await gw?.stop();
    cfg?.cleanup();
  });

  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }, body });

  it('answers malformed JSON with a JSON-RPC parse error', async () => {
    const res = await post('{"jsonrpc": "2.0", "method": ');
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: number } }).error.code).toBe(-32700);
  });

  it('answers a body over the size cap with 413 and a JSON-RPC error', async () => {
    const res = await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { pad: 'x'.repeat(100_000) } }));
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/larger than/);
  });

  it('answers a chunked body that grows over the size cap with 413, without a declared length to go by', async () => {
    const url = new URL(gw.url);
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'transfer-encoding': 'chunked' } }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.write(`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"pad":"`);
      for (let i = 0; i < 10; i++) req.write('x'.repeat(10_000));
      req.end('"}}');
    });
    expect(answer.status).toBe(413);
    expect(answer.body).toMatch(/larger than/);
  });

  it('answers a request without a session id with 400 and an unknown session id with 404', async () => {
    const missing = await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }));
    expect(missing.status).toBe(400);
    const unknown = await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }), { 'mcp-session-id': 'no-such-session' });
    expect(unknown.status).toBe(404);
  });

  it('rejects a Host header that is not the loopback listener (DNS rebinding)', async () => {
    // fetch() may not set Host, so this goes through node:http.
    const url = new URL(gw.url);
    const status = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request({ host: url.hostname, port: url.port, path: '/healthz', headers: { host } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    expect(await status('evil.example:8787')).toBe(403);
    expect(await status(`127.0.0.1:${url.port}`)).toBe(200);
  });

  it('still serves after all of the above', async () => {
    const client = await httpClient(gw.url);
    expect(textOf(await client.callTool({ name: 'flaky__echo', arguments: { text: 'ok' } }))).toBe('ok');
    await client.close();
  });
});

describe('isolation: session', () => {
  it('gives each client session its own upstream process, kept for the session', async () => {
    const cfg = tempConfig({ servers: { flaky: fixtureServer('flaky-server.ts', { isolation: 'session' }) }, agents: ALLOW_ALL });
    const gw = await startHttpGateway(cfg.file);
    try {
      const a = await httpClient(gw.url);
      const b = await httpClient(gw.url);
      const pidOf = async (c: typeof a) => textOf(await c.callTool({ name: 'flaky__pid', arguments: {} }));
      const first = await pidOf(a);
      expect(await pidOf(a)).toBe(first);
      const other = await pidOf(b);
      expect(other).not.toBe(first);
      await a.close();
      await b.close();
    } finally {
      await gw.stop();
      cfg.cleanup();
    }
  });
});

describe('shutdown', () => {
  it('leaves no child or grandchild process behind after SIGTERM', async () => {
    const cfg = tempConfig({ servers: { flaky: fixtureServer('flaky-server.ts') }, agents: ALLOW_ALL });
    const gw = await startHttpGateway(cfg.file);
    try {
      const client = await httpClient(gw.url);
      const grandchild = Number(textOf(await client.callTool({ name: 'flaky__spawn_grandchild', arguments: {} })));
      await client.close();
      const tree = descendantsOf(gw.child.pid!);
      expect(tree).toContain(grandchild);
      expect(await gw.stop('SIGTERM')).toBe(0);
      await vi.waitFor(() => expect(tree.filter(isAlive)).toEqual([]), { timeout: 5_000, interval: 100 });
    } finally {
      await gw.stop('SIGKILL');
      cfg.cleanup();
    }
  });

  it('ends, leaving no process behind, when its stdio client goes away while it is starting', async () => {
    // Every process started for this gateway carries the mark in its environment.
    const mark = `PORTCULLIS_TEST_MARK=${randomUUID()}`;
    const marked = () =>
      readdirSync('/proc')
        .filter((entry) => /^\d+$/.test(entry))
        .filter((pid) => {
          try {
            return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(mark);
          } catch {
            return false; // gone, or not ours to read
          }
        });
    const [name, value] = mark.split('=') as [string, string];
    const cfg = tempConfig({ servers: { notes: demoServer('notes-server') }, agents: ALLOW_ALL });
    const gateway = spawn(process.execPath, [BIN, 'serve', '--stdio', '-c', cfg.file], { stdio: ['pipe', 'pipe', 'ignore'], env: { ...process.env, [name]: value } });
    try {
      const exited = new Promise<number | null>((resolve) => gateway.once('exit', (code) => resolve(code)));
      gateway.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } })}\n`);
      // Gone before the gateway has even answered: its stdin ends while it is still starting.
      gateway.stdin.destroy();
      gateway.stdout.destroy();
      const code = await Promise.race([exited, new Promise<string>((resolve) => setTimeout(() => resolve('still running'), 15_000))]);
      expect(code).toBe(0);
      await vi.waitFor(() => expect(marked()).toEqual([]), { timeout: 5_000, interval: 100 });
    } finally {
      gateway.kill('SIGKILL');
      cfg.cleanup();
    }
  });

  it('writes the audit log for calls it served', async () => {
    const cfg = tempConfig({ servers: { flaky: fixtureServer('flaky-server.ts') }, agents: { default: { rules: [{ allow: 'flaky__echo' }] } } });
    const gw = await startHttpGateway(cfg.file);
    try {
      const client = await httpClient(gw.url);
      await client.callTool({ name: 'flaky__echo', arguments: { text: 'audited' } });
      const denied = await client.callTool({ name: 'flaky__crash', arguments: {} });
      expect(denied.isError).toBe(true);
      await client.close();
    } finally {
      await gw.stop();
    }
    const file = join(cfg.dir, 'audit.jsonl');
    expect(existsSync(file)).toBe(true);
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.some((l) => l.event === 'call.completed' && l.tool === 'flaky__echo' && l.outcome === 'ok')).toBe(true);
    expect(lines.some((l) => l.event === 'call.decided' && l.tool === 'flaky__crash' && l.decision === 'deny')).toBe(true);
    cfg.cleanup();
  });
});
