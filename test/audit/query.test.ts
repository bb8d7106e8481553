import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Hono } from 'hono';
import { createAuditLog, type AuditEvent } from '../../src/audit/log.js';
import { parseSince, queryAudit } from '../../src/audit/query.js';
import { auditQueryHandler } from '../../src/http/calls.js';
import { auditCommand } from '../../src/cli/audit.js';
import type { CliIo } from '../../src/cli/command-io.js';

const T0 = Date.UTC(2026, 4, 1, 12, 0, 0);
const MIN = 60_000;

let dir: string;
let file: string;

/** Writes events, one minute apart from T0. */
function writeLog(events: AuditEvent[]): void {
  let i = 0;
  const audit = createAuditLog({ file, arguments: 'full', secrets: [], now: () => T0 + i++ * MIN });
  for (const e of events) audit.record(e);
  audit.close();
}

const EVENTS: AuditEvent[] = [
  { event: 'call.decided', callId: 'c1', agent: 'default', tool: 'docs__search', decision: 'allow', args: { q: 'a' } },
  { event: 'call.completed', callId: 'c1', agent: 'default', tool: 'docs__search', decision: 'allow', outcome: 'ok' },
  { event: 'call.decided', callId: 'c2', agent: 'bot', tool: 'docs__delete_page', decision: 'deny', reasons: ['Deleting is never done by agents.'] },
  { event: 'call.decided', callId: 'c3', agent: 'default', tool: 'web__fetch', decision: 'ask' },
  { event: 'auth.failed', reason: 'expired', outcome: 'expired' },
  { event: 'call.decided', callId: 'c4', agent: 'default', tool: 'docs__update_page', decision: 'allow' },
];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-query-'));
  file = join(dir, 'audit.jsonl');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('queryAudit', () => {
  it('returns every event oldest first when no filter is given', async () => {
    writeLog(EVENTS);
    expect((await queryAudit(file)).map((e) => e.event)).toEqual(EVENTS.map((e) => e.event));
  });

  const cases: Array<{ name: string; query: Parameters<typeof queryAudit>[1]; calls: Array<string | undefined> }> = [
    { name: 'an agent', query: { agent: 'default' }, calls: ['c1', 'c1', 'c3', 'c4'] },
    { name: 'a tool glob', query: { tool: 'docs__*' }, calls: ['c1', 'c1', 'c2', 'c4'] },
    { name: 'a decision', query: { decision: 'deny' }, calls: ['c2'] },
    { name: 'an event', query: { event: 'call.completed' }, calls: ['c1'] },
    { name: 'a call id', query: { callId: 'c1' }, calls: ['c1', 'c1'] },
    { name: 'a start time', query: { since: T0 + 3 * MIN }, calls: ['c3', undefined, 'c4'] },
    { name: 'a time window', query: { since: T0 + MIN, until: T0 + 3 * MIN }, calls: ['c1', 'c2'] },
    { name: 'several filters at once', query: { agent: 'default', tool: 'docs__*', decision: 'allow', event: 'call.decided' }, calls: ['c1', 'c4'] },
    { name: 'a limit, keeping the newest', query: { limit: 2 }, calls: [undefined, 'c4'] },
  ];
  for (const c of cases) {
    it(`filters by ${c.name}`, async () => {
      writeLog(EVENTS);
      expect((await queryAudit(file, c.query)).map((e) => e.callId)).toEqual(c.calls);
    });
  }

  it('skips lines that do not parse, blank lines and non-events', async () => {
    writeLog(EVENTS.slice(0, 2));
    appendFileSync(file, '{"ts":"2026-05-01T12:05:00.000Z","event":"call.dec\n\n[1,2]\n"just a string"\n{"no":"event"}\n');
    writeLog(EVENTS.slice(5));
    expect((await queryAudit(file)).map((e) => e.callId)).toEqual(['c1', 'c1', 'c4']);
  });

  it('answers an empty list for a log that does not exist yet', async () => {
    expect(await queryAudit(join(dir, 'missing.jsonl'))).toEqual([]);
  });

  it('keeps memory bounded by the limit while reading a large log', async () => {
    const many: AuditEvent[] = Array.from({ length: 20_000 }, (_, i) => ({ event: 'call.decided', callId: `c${i}`, agent: 'default', tool: 'docs__search', decision: 'allow' }));
    writeLog(many);
    const last = await queryAudit(file, { limit: 3 });
    expect(last.map((e) => e.callId)).toEqual(['c19997', 'c19998', 'c19999']);
  });
});

describe('parseSince', () => {
  it.each([
    ['15m', T0 - 15 * MIN],
    ['2d', T0 - 2 * 86_400_000],
    ['2026-05-01T11:00:00Z', T0 - 60 * MIN],
    [String(T0 - 5), T0 - 5],
    ['yesterday', undefined],
  ])('reads %s', (value, expected) => {
    expect(parseSince(value, T0)).toBe(expected);
  });
});

describe('GET /api/calls', () => {
  function app() {
    const a = new Hono();
    a.get('/api/calls', auditQueryHandler(file, { now: () => T0 + 10 * MIN }));
    return a;
  }

  it('answers the filtered events as JSON', async () => {
    writeLog(EVENTS);
    const res = await app().request('/api/calls?agent=default&tool=docs__*&decision=allow&limit=10');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { events: Array<{ callId: string; args?: unknown }> };
    expect(body.events.map((e) => e.callId)).toEqual(['c1', 'c1', 'c4']);
    expect(body.events[0]!.args).toEqual({ q: 'a' });
  });

  it('reads since as a duration back from now', async () => {
    writeLog(EVENTS);
    const body = (await (await app().request('/api/calls?since=6m')).json()) as { events: Array<{ callId?: string }> };
    expect(body.events.map((e) => e.callId)).toEqual([undefined, 'c4']);
  });

  it.each([
    ['since=soon', 'since'],
    ['limit=0', 'limit'],
    ['limit=abc', 'limit'],
    ['tool=%7Bunclosed', 'tool pattern'],
  ])('rejects a bad query (%s) with 400', async (query, word) => {
    writeLog(EVENTS);
    const res = await app().request(`/api/calls?${query}`);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('INVALID_PARAMS');
    expect(body.error.message).toContain(word);
  });
});

describe('portcullis audit', () => {
  function captureIo(now = T0 + 10 * MIN): CliIo & { stdout: string; stderr: string } {
    const io = {
      stdout: '',
      stderr: '',
      out(text: string) {
        io.stdout += text;
      },
      err(text: string) {
        io.stderr += text;
      },
      env: {},
      now: () => now,
    };
    return io;
  }

  it('prints a table of the matching events', async () => {
    writeLog(EVENTS);
    const io = captureIo();
    expect(await auditCommand(['--file', file, '--agent', 'default', '--decision', 'allow'], io)).toBe(0);
    const rows = io.stdout.trimEnd().split('\n');
    expect(rows[0]).toMatch(/^TIME\s+EVENT\s+AGENT\s+TOOL\s+DECISION\s+OUTCOME\s+RULE\s+CALL$/);
    expect(rows).toHaveLength(4);
    expect(rows[3]).toMatch(/2026-05-01T12:05:00.000Z\s+call\.decided\s+default\s+docs__update_page\s+allow\s+-\s+-\s+c4/);
  });

  it('prints JSON lines with --json, filtered by --since and --tool', async () => {
    writeLog(EVENTS);
    const io = captureIo();
    expect(await auditCommand(['--file', file, '--json', '--since', '6m', '--tool', 'web__*'], io)).toBe(0);
    expect(io.stdout).toBe('');
    const io2 = captureIo();
    expect(await auditCommand(['--file', file, '--json', '--since', '30m', '--tool', 'web__*'], io2)).toBe(0);
    expect(io2.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as { callId: string }).callId)).toEqual(['c3']);
  });

  it('reads the audit file named by the config', async () => {
    writeLog(EVENTS);
    const config = join(dir, 'portcullis.yaml');
    writeFileSync(config, `version: 1\ngateway:\n  audit:\n    file: ${file}\n`);
    const io = captureIo();
    expect(await auditCommand(['-c', config, '--json', '--event', 'auth.failed'], io)).toBe(0);
    expect(JSON.parse(io.stdout)).toMatchObject({ event: 'auth.failed', reason: 'expired' });
  });

  it.each([
    [['--decision', 'maybe'], 'unknown --decision'],
    [['--since', 'soon'], 'bad --since'],
    [['--event', 'call.nope'], 'unknown --event'],
    [['--limit=-1'], 'bad --limit'],
    [['extra'], 'unexpected argument'],
  ])('refuses bad flags %j with exit 1', async (args, message) => {
    const io = captureIo();
    expect(await auditCommand(['--file', file, ...args], io)).toBe(1);
    expect(io.stderr).toContain(message);
  });

  it('exits 2 when the config cannot be read', async () => {
    const io = captureIo();
    expect(await auditCommand(['-c', join(dir, 'nope.yaml')], io)).toBe(2);
  });
});
