/**
 * Taint end to end (SPEC §5) through the real gateway with the demo servers: external results
 * are labelled, sanitised and wrapped; a tainted session's sink calls escalate; a suspicious
 * session's are refused; copied arguments are traced to their source; hidden characters in
 * arguments are blocked; a changed tool definition is blocked until re-pinned.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { pinsCommand } from '../../src/cli/pins.js';
import type { Client } from '@modelcontextprotocol/client';
import { demoServer, fixtureServer, httpClient, startHttpGateway, tempConfig, textOf, type RunningGateway, type TempConfig } from '../helpers/gateway.js';

const RULES = [
  { allow: 'notes__read_note' },
  { allow: 'notes__write_note' },
  { allow: 'notes__list_notes' },
  { allow: 'web__fetch' },
];

function taintConfig(taint: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    servers: {
      notes: demoServer('notes-server', { annotations: 'trusted' }),
      web: demoServer('web-server', { trust: 'external' }),
    },
    agents: { default: { rules: RULES } },
    taint: { onTaintedSink: 'ask', onSuspicious: 'deny', ...taint },
    // A held call answers "pending" after this long (approvals are tested on their own).
    approvals: { wait: '200ms', timeout: '1m' },
  };
}

const TAG_CHARACTERS = /[\u{E0000}-\u{E007F}]/u;

describe('a session that reads external content', () => {
  let cfg: TempConfig;
  let gw: RunningGateway;

  beforeAll(async () => {
    cfg = tempConfig(taintConfig());
    gw = await startHttpGateway(cfg.file);
  });

  afterAll(async () => {
    await gw?.stop();
    cfg?.cleanup();
  });

  it('may call sinks until it has seen external content, then they need a human', async () => {
    const client = await httpClient(gw.url);
    const before = await client.callTool({ name: 'notes__write_note', arguments: { path: '/marketing/drafts/a', text: 'first' } });
    expect(before.isError).toBeFalsy();

    const page = await client.callTool({ name: 'web__fetch', arguments: { url: 'https://example.com/pricing' } });
    expect(textOf(page)).toMatch(/^<untrusted-content-[0-9a-f]+ source="web__fetch"/);
    expect(textOf(page)).toMatch(/sales@example\.com/);
    expect(page._meta?.['portcullis/taint']).toMatchObject({ source: 'web__fetch', level: 'untrusted' });

    const after = await client.callTool({ name: 'notes__write_note', arguments: { path: '/marketing/drafts/a', text: 'second' } });
    expect(after.isError).toBe(true);
    expect(textOf(after)).toMatch(/Needs approval under the taint policy: .*web__fetch/);
    expect(textOf(after)).toMatch(/Pending approval: .*\(request apr_/);

    // Trusted read-only tools are not sinks: reading stays allowed.
    const read = await client.callTool({ name: 'notes__read_note', arguments: { path: '/marketing/drafts/a' } });
    expect(read.isError).toBeFalsy();
    await client.close();
  });

  it('keeps other sessions clean', async () => {
    const other = await httpClient(gw.url);
    const result = await other.callTool({ name: 'notes__write_note', arguments: { path: '/marketing/drafts/b', text: 'clean' } });
    expect(result.isError).toBeFalsy();
    await other.close();
  });

  it('strips hidden characters from a page, marks the session suspicious and refuses its sinks', async () => {
    const client = await httpClient(gw.url);
    const page = await client.callTool({ name: 'web__fetch', arguments: { url: 'https://blog.example.org/launch' } });
    expect(textOf(page)).not.toMatch(TAG_CHARACTERS);
    expect(textOf(page)).not.toMatch(/\u200B/);
    expect(textOf(page)).toMatch(/ignore previous instructions/);
    expect(page._meta?.['portcullis/taint']).toMatchObject({ level: 'suspicious' });
    const write = await client.callTool({ name: 'notes__write_note', arguments: { path: '/marketing/drafts/c', text: 'anything' } });
    expect(write.isError).toBe(true);
    expect(textOf(write)).toMatch(/Denied/);
    expect(textOf(write)).toMatch(/suspicious/i);
    await client.close();
  });

  it('blocks hidden characters in call arguments outright', async () => {
    const client = await httpClient(gw.url);
    const smuggled = `hello${String.fromCodePoint(0xe0041, 0xe0042)}`;
    const result = await client.callTool({ name: 'notes__write_note', arguments: { path: '/marketing/drafts/d', text: smuggled } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/hidden/i);
    await client.close();
  });

  it('escapes content that tries to close the wrapper', async () => {
    // The injection page cannot forge the boundary: the wrapper's closing tag appears exactly once.
    const client = await httpClient(gw.url);
    const page = textOf(await client.callTool({ name: 'web__fetch', arguments: { url: 'https://example.com/' } }));
    const token = /^<untrusted-content-([0-9a-f]+)/.exec(page)?.[1];
    expect(token).toBeDefined();
    expect(page.split(`</untrusted-content-${token}>`).length).toBe(2);
    await client.close();
  });

  it('records the taint label and escalation in the audit log', () => {
    const lines = readFileSync(join(cfg.dir, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.some((l) => l.event === 'call.completed' && l.tool === 'web__fetch' && (l.taint as { level?: string } | undefined)?.level === 'suspicious')).toBe(true);
    expect(lines.some((l) => l.event === 'call.decided' && l.tool === 'notes__write_note' && l.escalatedBy === 'suspicious' && l.decision === 'deny')).toBe(true);
  });
});

describe('argument provenance', () => {
  let cfg: TempConfig;
  let gw: RunningGateway;
  let client: Client;

  beforeAll(async () => {
    // Tainted sinks stay allowed here, so only provenance can escalate.
    cfg = tempConfig(taintConfig({ onTaintedSink: 'allow' }));
    gw = await startHttpGateway(cfg.file);
    client = await httpClient(gw.url);
    await client.callTool({ name: 'web__fetch', arguments: { url: 'https://example.com/pricing' } });
  });

  afterAll(async () => {
    await client?.close();
    await gw?.stop();
    cfg?.cleanup();
  });

  it('escalates a sink call whose argument carries an entity from tainted content, naming its source', async () => {
    const result = await client.callTool({ name: 'notes__write_note', arguments: { path: '/marketing/drafts/leads', text: 'Contact sales@example.com about the plan' } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/argument "text" contains email sales@example\.com from web__fetch/);
  });

  it('escalates text copied from tainted content', async () => {
    const result = await client.callTool({ name: 'notes__write_note', arguments: { path: '/marketing/drafts/copy', text: 'Team: $14 per user per month, with shared folders' } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/copied from web__fetch/);
  });

  it('lets an unrelated sink call through', async () => {
    const result = await client.callTool({ name: 'notes__write_note', arguments: { path: '/marketing/drafts/mine', text: 'my own words entirely' } });
    expect(result.isError).toBeFalsy();
  });
});

describe('tool-definition pins', () => {
  it('blocks a tool whose definition changed since it was pinned, across a restart', async () => {
    const cfg = tempConfig({ servers: { flaky: fixtureServer('flaky-server.ts') }, agents: { default: { rules: [{ allow: 'flaky__*' }] } } });
    try {
      let gw = await startHttpGateway(cfg.file);
      let client = await httpClient(gw.url);
      expect((await client.listTools()).tools.map((t) => t.name)).toContain('flaky__echo');
      await client.close();
      await gw.stop();

      cfg.write({ servers: { flaky: fixtureServer('flaky-server.ts', { env: { FLAKY_VARIANT: 'and also sends your files to evil.example' } }) }, agents: { default: { rules: [{ allow: 'flaky__*' }] } } });
      gw = await startHttpGateway(cfg.file);
      client = await httpClient(gw.url);
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names).not.toContain('flaky__echo');
      expect(names).toContain('flaky__slow');
      const call = await client.callTool({ name: 'flaky__echo', arguments: { text: 'x' } });
      expect(call.isError).toBe(true);
      expect(textOf(call)).toMatch(/changed since it was pinned \(\/tool\/description\)/);

      // The change waits on the approvals page as a pin request; an admin approving it re-pins.
      const base = gw.url.replace(/\/mcp$/, '');
      const out: string[] = [];
      const io = { out: (t: string) => void out.push(t), err: (t: string) => void out.push(t), env: {}, now: () => Date.now() };
      expect(await pinsCommand(['list', '--url', base], io)).toBe(0);
      expect(out.join('')).toMatch(/BLOCKED flaky__echo/);
      let pinRequest: { id: string } | undefined;
      await vi.waitFor(async () => {
        const body = (await (await fetch(`${base}/api/approvals?status=pending`)).json()) as { approvals?: Array<{ id: string; subject?: { kind?: string; tool?: string }; kind?: string; tool?: string }> };
        pinRequest = (body.approvals ?? []).find((r) => (r.subject?.kind ?? r.kind) === 'pin');
        expect(pinRequest).toBeDefined();
      });
      const approved = await fetch(`${base}/api/approvals/${pinRequest!.id}/approve`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(approved.status).toBe(200);
      await vi.waitFor(async () => expect((await client.listTools()).tools.map((t) => t.name)).toContain('flaky__echo'));
      expect(textOf(await client.callTool({ name: 'flaky__echo', arguments: { text: 'trusted again' } }))).toBe('trusted again');
      await client.close();
      await gw.stop();
      const audit = readFileSync(join(cfg.dir, 'audit.jsonl'), 'utf8');
      expect(audit).toMatch(/"event":"pin.changed".*"tool":"flaky__echo"/);
    } finally {
      cfg.cleanup();
    }
  });
});
