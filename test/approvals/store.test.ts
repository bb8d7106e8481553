/**
 * Durability (SPEC §6): pending requests and session grants survive a restart, a restart never
 * approves anything, expiry still applies, and the state file stays bounded and readable.
 */
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REVIEWER, harness, subject, type Harness } from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.cleanup();
  h = undefined;
});

const signal = () => new AbortController().signal;

describe('restart', () => {
  it('shows pending requests to a new queue on the same state folder and approves none of them', async () => {
    h = await harness({ config: { wait: 0, timeout: '15m' } });
    const a = await h.approvals.hold(subject({ args: { n: 1 } }), { signal: signal() });
    const b = await h.approvals.hold(subject({ args: { n: 2 } }), { signal: signal() });
    await h.approvals.close();
    const after = await h.reopen();
    expect(after.list({ status: 'pending' }).map((r) => r.id).sort()).toEqual([a.request.id, b.request.id].sort());
    expect(after.check(subject({ args: { n: 1 } })).status).toBe('none');
    // The retry joins the request from before the restart; a reviewer can still answer it.
    const retry = await after.hold(subject({ args: { n: 1 } }), { signal: signal() });
    expect(retry).toMatchObject({ status: 'pending', request: { id: a.request.id } });
    after.decide(a.request.id, { approve: true, by: REVIEWER, via: 'api' });
    expect(after.check(subject({ args: { n: 1 } })).status).toBe('approved');
  });

  it('expires at start a request whose timeout passed while the gateway was down', async () => {
    let clock = Date.parse('2026-01-01T10:00:00Z');
    h = await harness({ config: { wait: 0, timeout: '15m' }, now: () => clock });
    const { request } = await h.approvals.hold(subject(), { signal: signal() });
    await h.approvals.close();
    clock += 16 * 60_000;
    const after = await h.reopen({ now: () => clock });
    expect(after.get(request.id)?.status).toBe('expired');
    expect(h.audit().filter((e) => e.event === 'approval.expired')).toHaveLength(1);
  });

  it('remembers a session grant across a restart', async () => {
    h = await harness({ config: { wait: 0, timeout: '15m' } });
    const { request } = await h.approvals.hold(subject(), { signal: signal() });
    h.approvals.decide(request.id, { approve: true, by: REVIEWER, via: 'api', scope: 'session' });
    await h.approvals.close();
    const after = await h.reopen();
    expect(after.check(subject({ args: { other: true } })).status).toBe('approved');
    expect(after.check(subject({ session: 's-other' })).status).toBe('none');
  });

  it('keeps a used approve-once used after a crash (journal only, no snapshot)', async () => {
    h = await harness({ config: { wait: 0, timeout: '15m' } });
    const { request } = await h.approvals.hold(subject(), { signal: signal() });
    h.approvals.decide(request.id, { approve: true, by: REVIEWER, via: 'api' });
    expect(h.approvals.check(subject()).status).toBe('approved');
    // No close(): the journal is all a crashed gateway leaves behind.
    const after = await h.reopen();
    expect(after.get(request.id)?.status).toBe('used');
    expect(after.check(subject()).status).toBe('none');
  });

  it('ignores a torn last journal line', async () => {
    h = await harness({ config: { wait: 0, timeout: '15m' } });
    const { request } = await h.approvals.hold(subject(), { signal: signal() });
    appendFileSync(join(h.dir, 'state', 'approvals.journal'), '{"seq":999,"op":"put","request":{"id":"apr_x","sta');
    const after = await h.reopen();
    expect(after.get(request.id)?.status).toBe('pending');
    expect(after.get('apr_x')).toBeUndefined();
  });

  it('moves an unreadable state file aside and starts with nothing pending', async () => {
    h = await harness({ config: { wait: 0, timeout: '15m' } });
    await h.approvals.close();
    writeFileSync(join(h.dir, 'state', 'approvals.json'), '{ not json');
    const after = await h.reopen();
    expect(after.list()).toEqual([]);
    expect(readdirSync(join(h.dir, 'state')).some((f) => f.startsWith('approvals.json.corrupt-'))).toBe(true);
    expect(h.logText()).toContain('approval state file is unreadable');
  });
});

describe('state file', () => {
  it('writes approvals.json atomically, leaving no temp file, readable as JSON', async () => {
    h = await harness({ config: { wait: 0, timeout: '15m' } });
    const { request } = await h.approvals.hold(subject(), { signal: signal() });
    await h.approvals.close();
    const dir = join(h.dir, 'state');
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    const snapshot = JSON.parse(readFileSync(join(dir, 'approvals.json'), 'utf8')) as { requests: Array<{ id: string }> };
    expect(snapshot.requests.map((r) => r.id)).toEqual([request.id]);
    expect(readFileSync(join(dir, 'approvals.journal'), 'utf8')).toBe('');
  });

  it('keeps at most maxHistory decided requests, dropping the oldest, and every pending one', async () => {
    h = await harness({ config: { wait: 0, timeout: '15m' }, limits: { maxHistory: 5 } });
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const { request } = await h.approvals.hold(subject({ args: { i } }), { signal: signal() });
      ids.push(request.id);
      if (i < 10) h.approvals.decide(request.id, { approve: false, by: REVIEWER, via: 'api' });
    }
    const kept = h.approvals.list().map((r) => r.id);
    expect(kept).toHaveLength(7);
    expect(kept).toEqual(expect.arrayContaining([...ids.slice(5, 10), ids[10]!, ids[11]!]));
    await h.approvals.close();
    const after = await h.reopen({ limits: { maxHistory: 5 } });
    expect(after.list()).toHaveLength(7);
  });

  it('refuses to open more than maxPending requests at once', async () => {
    h = await harness({ config: { wait: 0, timeout: '15m' }, limits: { maxPending: 2 } });
    await h.approvals.hold(subject({ args: { i: 1 } }), { signal: signal() });
    await h.approvals.hold(subject({ args: { i: 2 } }), { signal: signal() });
    await expect(h.approvals.hold(subject({ args: { i: 3 } }), { signal: signal() })).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('creates the state folder when it does not exist', async () => {
    h = await harness();
    expect(existsSync(join(h.dir, 'state', 'approvals.json'))).toBe(true);
  });
});
