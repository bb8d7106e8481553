/**
 * Approvals end to end (SPEC §6, §8 undo) through the real gateway: a held call is answered by a
 * reviewer on the API, by the client's own user through elicitation (both protocol eras), or
 * stays pending until retried; an approved write can be undone.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { CLIENT_INFO, demoServer, fixtureServer, httpClient, startHttpGateway, tempConfig, textOf, type RunningGateway, type TempConfig } from '../helpers/gateway.js';

interface ApprovalView {
  id: string;
  status: string;
  subject?: { tool: string; args: Record<string, unknown> };
  tool?: string;
}

const JSON_HEADERS = { 'content-type': 'application/json' };

async function pending(base: string): Promise<ApprovalView[]> {
  const res = await fetch(`${base}/api/approvals?status=pending`);
  expect(res.status).toBe(200);
  const body = (await res.json()) as { approvals?: ApprovalView[] } | ApprovalView[];
  return Array.isArray(body) ? body : (body.approvals ?? []);
}

async function waitForPending(base: string): Promise<ApprovalView> {
  let found: ApprovalView | undefined;
  await vi.waitFor(
    async () => {
      found = (await pending(base))[0];
      expect(found).toBeDefined();
    },
    { timeout: 10_000, interval: 100 },
  );
  return found!;
}

describe('reviewers and the held call', () => {
  let cfg: TempConfig;
  let gw: RunningGateway;
  let base: string;

  beforeAll(async () => {
    cfg = tempConfig({
      servers: { flaky: fixtureServer('flaky-server.ts') },
      agents: { default: { owner: 'alice@example.com', rules: [{ ask: 'flaky__echo', reason: 'Echo needs a human.' }] } },
      approvals: { wait: '20s', timeout: '5m' },
    });
    gw = await startHttpGateway(cfg.file);
    base = gw.url.replace(/\/mcp$/, '');
  });

  afterAll(async () => {
    await gw?.stop();
    cfg?.cleanup();
  });

  it('holds the call until a reviewer approves it on the API, then runs it', async () => {
    const client = await httpClient(gw.url);
    const call = client.callTool({ name: 'flaky__echo', arguments: { text: 'approved please' } });
    const request = await waitForPending(base);
    const res = await fetch(`${base}/api/approvals/${request.id}/approve`, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify({ scope: 'once', note: 'fine' }) });
    expect(res.status).toBe(200);
    expect(textOf(await call)).toBe('approved please');
    await client.close();
    const lines = readFileSync(join(cfg.dir, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const completed = lines.find((l) => l.event === 'call.completed' && l.outcome === 'ok');
    expect(completed?.approval).toMatchObject({ id: request.id, scope: 'once' });
  });

  it('answers a denied call with the reviewer reason and "do not retry"', async () => {
    const client = await httpClient(gw.url);
    const call = client.callTool({ name: 'flaky__echo', arguments: { text: 'deny me' } });
    const request = await waitForPending(base);
    await fetch(`${base}/api/approvals/${request.id}/deny`, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify({ reason: 'not today' }) });
    const result = await call;
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/not today/);
    expect(textOf(result)).toMatch(/do not retry/i);
    await client.close();
  });

  it('refuses a cross-site POST that lacks the JSON content type or CSRF header', async () => {
    const client = await httpClient(gw.url);
    const call = client.callTool({ name: 'flaky__echo', arguments: { text: 'csrf' } });
    const request = await waitForPending(base);
    const forged = await fetch(`${base}/api/approvals/${request.id}/approve`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'scope=once' });
    expect(forged.status).toBeGreaterThanOrEqual(400);
    expect((await pending(base)).map((r) => r.id)).toContain(request.id);
    await fetch(`${base}/api/approvals/${request.id}/deny`, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify({ reason: 'cleanup' }) });
    await call;
    await client.close();
  });
});

describe('pending, then retried', () => {
  it('answers "pending" after approvals.wait, and runs the identical retry once after approval', async () => {
    const cfg = tempConfig({
      servers: { flaky: fixtureServer('flaky-server.ts') },
      agents: { default: { rules: [{ ask: 'flaky__echo' }] } },
      approvals: { wait: '300ms', timeout: '5m' },
    });
    const gw = await startHttpGateway(cfg.file);
    const base = gw.url.replace(/\/mcp$/, '');
    try {
      const client = await httpClient(gw.url);
      const first = await client.callTool({ name: 'flaky__echo', arguments: { text: 'later' } });
      expect(first.isError).toBe(true);
      expect(textOf(first)).toMatch(/Pending approval/);
      const request = (await pending(base))[0]!;
      await fetch(`${base}/api/approvals/${request.id}/approve`, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify({ scope: 'once' }) });
      expect(textOf(await client.callTool({ name: 'flaky__echo', arguments: { text: 'later' } }))).toBe('later');
      // Approved once means once: the next identical call asks again.
      const third = await client.callTool({ name: 'flaky__echo', arguments: { text: 'later' } });
      expect(textOf(third)).toMatch(/Pending approval/);
      // Changed arguments need their own approval.
      const changed = await client.callTool({ name: 'flaky__echo', arguments: { text: 'other' } });
      expect(textOf(changed)).toMatch(/Pending approval/);
      expect((await pending(base)).length).toBe(2);
      await client.close();
    } finally {
      await gw.stop();
      cfg.cleanup();
    }
  });
});

describe('the client’s own user, by elicitation', () => {
  let cfg: TempConfig;
  let gw: RunningGateway;

  beforeAll(async () => {
    cfg = tempConfig({
      servers: { flaky: fixtureServer('flaky-server.ts') },
      agents: { default: { rules: [{ ask: 'flaky__echo' }] } },
      approvals: { wait: '20s', timeout: '5m', channels: [{ elicit: {} }] },
    });
    gw = await startHttpGateway(cfg.file);
  });

  afterAll(async () => {
    await gw?.stop();
    cfg?.cleanup();
  });

  it.each(['legacy', 'modern'] as const)('approves a call when the %s-era client’s user accepts', async (era) => {
    const client = new Client(CLIENT_INFO, { capabilities: { elicitation: { form: {} } }, ...(era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {}) });
    const asked: string[] = [];
    client.setRequestHandler('elicitation/create', async (req) => {
      asked.push(req.params.message);
      return { action: 'accept', content: { decision: 'approve' } };
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(gw.url)));
    const result = await client.callTool({ name: 'flaky__echo', arguments: { text: `by ${era} user` } });
    expect(textOf(result)).toBe(`by ${era} user`);
    expect(asked[0]).toMatch(/flaky__echo/);
    await client.close();
  });

  it('denies a call when the user declines', async () => {
    const client = new Client(CLIENT_INFO, { capabilities: { elicitation: { form: {} } } });
    client.setRequestHandler('elicitation/create', async () => ({ action: 'decline' }));
    await client.connect(new StreamableHTTPClientTransport(new URL(gw.url)));
    const result = await client.callTool({ name: 'flaky__echo', arguments: { text: 'declined' } });
    expect(result.isError).toBe(true);
    await client.close();
  });
});

describe('undo', () => {
  it('restores a note an approved write changed, once, for the owner', async () => {
    const cfg = tempConfig({
      servers: { notes: demoServer('notes-server', { annotations: 'trusted' }) },
      agents: {
        default: {
          owner: 'local',
          rules: [
            { allow: 'notes__read_note' },
            {
              allow: 'notes__write_note',
              undo: { tool: 'notes__restore_note', args: { path: '{{args.path}}', revision: '{{result.structured.previousRevision}}' } },
            },
          ],
        },
      },
    });
    const gw = await startHttpGateway(cfg.file);
    const base = gw.url.replace(/\/mcp$/, '');
    try {
      const client = await httpClient(gw.url);
      const before = textOf(await client.callTool({ name: 'notes__read_note', arguments: { path: '/marketing/launch-plan' } }));
      await client.callTool({ name: 'notes__write_note', arguments: { path: '/marketing/launch-plan', text: 'overwritten by mistake' } });
      expect(textOf(await client.callTool({ name: 'notes__read_note', arguments: { path: '/marketing/launch-plan' } }))).toMatch(/overwritten by mistake/);

      const lines = readFileSync(join(cfg.dir, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
      const callId = lines.find((l) => l.event === 'call.completed' && l.tool === 'notes__write_note' && l.outcome === 'ok')!.callId;
      const undo = await fetch(`${base}/api/calls/${callId}/undo`, { method: 'POST', headers: JSON_HEADERS, body: '{}' });
      expect(undo.status).toBe(200);
      expect(textOf(await client.callTool({ name: 'notes__read_note', arguments: { path: '/marketing/launch-plan' } }))).toBe(before);
      const again = await fetch(`${base}/api/calls/${callId}/undo`, { method: 'POST', headers: JSON_HEADERS, body: '{}' });
      expect(again.status).toBe(409);
      await client.close();
    } finally {
      await gw.stop();
      cfg.cleanup();
    }
  });
});
