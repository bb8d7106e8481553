/**
 * Identity end to end (SPEC §7): with auth.mode jwt the token's agent claim picks the profile,
 * its claims bind `where` conditions (read-and-reply: only the thread the token was minted for),
 * and bad tokens are refused with 401 and an audit line.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { CLIENT_INFO, fixtureServer, startHttpGateway, tempConfig, textOf, type RunningGateway, type TempConfig } from '../helpers/gateway.js';

const SECRET = 'test-hs256-secret-for-identity-e2e-0123456789';

async function token(claims: Record<string, unknown>, key = SECRET): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('5m').sign(new TextEncoder().encode(key));
}

async function connect(url: string, bearer: string): Promise<Client> {
  const client = new Client(CLIENT_INFO);
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${bearer}` } } }));
  return client;
}

describe('a gateway with JWT auth', () => {
  let cfg: TempConfig;
  let gw: RunningGateway;

  beforeAll(async () => {
    cfg = tempConfig({
      gateway: { auth: { mode: 'jwt', jwt: { secret: '${env:JWT_SECRET}', agentClaim: 'sub' } } },
      servers: { flaky: fixtureServer('flaky-server.ts'), old: fixtureServer('flaky-server.ts', { protocol: 'legacy' }) },
      agents: {
        'release-bot': { rules: [{ allow: 'flaky__echo', where: { text: { equals: '${claims.thread}' } } }] },
        'ops-bot': { rules: [{ allow: 'old__echo' }] },
        default: { rules: [] },
      },
    });
    gw = await startHttpGateway(cfg.file, [], { JWT_SECRET: SECRET });
  });

  afterAll(async () => {
    await gw?.stop();
    cfg?.cleanup();
  });

  it('maps the token to its agent profile, whose claims bind the where condition', async () => {
    const client = await connect(gw.url, await token({ sub: 'release-bot', thread: 'T-42' }));
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['flaky__echo']);
    expect(textOf(await client.callTool({ name: 'flaky__echo', arguments: { text: 'T-42' } }))).toBe('T-42');
    const elsewhere = await client.callTool({ name: 'flaky__echo', arguments: { text: 'T-99' } });
    expect(elsewhere.isError).toBe(true);
    expect(textOf(elsewhere)).toMatch(/Denied by policy/);
    await client.close();
  });

  it('refuses a token without the claim the condition needs', async () => {
    const client = await connect(gw.url, await token({ sub: 'release-bot' }));
    const result = await client.callTool({ name: 'flaky__echo', arguments: { text: 'T-42' } });
    expect(result.isError).toBe(true);
    await client.close();
  });

  it('answers 401 with a resource-metadata challenge for a wrongly signed token, 403 for an unknown agent', async () => {
    const init = (bearer: string) => ({
      method: 'POST',
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: CLIENT_INFO } }),
    });
    const forged = await fetch(gw.url, init(await token({ sub: 'release-bot' }, 'another-secret-another-secret-another')));
    expect(forged.status).toBe(401);
    expect(forged.headers.get('www-authenticate')).toMatch(/resource_metadata=".*\/\.well-known\/oauth-protected-resource"/);
    const stranger = await fetch(gw.url, init(await token({ sub: 'nobody' })));
    expect(stranger.status).toBe(403);
    const missing = await fetch(gw.url, { ...init(''), headers: { 'content-type': 'application/json' } });
    expect(missing.status).toBe(401);
    expect(readFileSync(join(cfg.dir, 'audit.jsonl'), 'utf8')).toMatch(/"event":"auth.failed"/);
  });

  it('keeps a 2025-era session to the agent that opened it, also for calls the gateway serves directly', async () => {
    const owner = new StreamableHTTPClientTransport(new URL(gw.url), { requestInit: { headers: { authorization: `Bearer ${await token({ sub: 'ops-bot' })}` } } });
    const client = new Client(CLIENT_INFO);
    await client.connect(owner);
    const call = (bearer: string) =>
      fetch(gw.url, {
        method: 'POST',
        headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': owner.sessionId!, 'mcp-protocol-version': '2025-06-18' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'old__echo', arguments: { text: 'hijacked' } } }),
      });
    const other = await call(await token({ sub: 'release-bot', thread: 'T-42' }));
    expect(other.status).toBe(403);
    expect(await other.json()).toMatchObject({ error: { code: -32003, message: 'this session belongs to another agent' } });
    const calls = () => readFileSync(join(cfg.dir, 'audit.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"tool":"old__echo"'));
    expect(calls()).toEqual([]);
    const own = await call(await token({ sub: 'ops-bot' }));
    expect(own.headers.get('content-type')).toBe('application/json');
    expect(await own.json()).toMatchObject({ id: 7, result: { content: [{ type: 'text', text: 'hijacked' }] } });
    expect(calls().map((l) => (JSON.parse(l) as { agent: string }).agent)).toEqual(['ops-bot', 'ops-bot']);
    await client.close();
  });
});
