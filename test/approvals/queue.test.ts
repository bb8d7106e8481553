/**
 * The queue's contract (SPEC §6): what a held call waits for, what an approval covers, who may
 * decide, expiry, withdrawal and the audit trail — with real stores on disk and fake timers.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { holdOutcomeText } from '../../src/approvals/index.js';
import { ADMIN, REVIEWER, harness, nextRequested, subject, type Harness } from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await h?.cleanup();
  h = undefined;
});

function signal(): AbortSignal {
  return new AbortController().signal;
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof GatewayError ? error.code : 'not a GatewayError';
  }
  return undefined;
}

describe('holding a call', () => {
  it('resolves approved when a reviewer approves the open request, and consumes the approve-once', async () => {
    h = await harness();
    const requested = nextRequested(h.approvals);
    const held = h.approvals.hold(subject(), { signal: signal() });
    const id = await requested;
    expect(h.approvals.get(id)?.status).toBe('pending');
    h.approvals.decide(id, { approve: true, by: REVIEWER, via: 'api', note: 'fine' });
    const outcome = await held;
    expect(outcome.status).toBe('approved');
    expect(outcome.request.status).toBe('used');
    expect(outcome.request.decision).toMatchObject({ by: 'rita', via: 'api', scope: 'once', note: 'fine' });
  });

  it('lets an approve-once run the identical call exactly once', async () => {
    h = await harness({ config: { wait: 0, timeout: '15m' } });
    const first = await h.approvals.hold(subject(), { signal: signal() });
    expect(first.status).toBe('pending');
    h.approvals.decide(first.request.id, { approve: true, by: REVIEWER, via: 'api' });
    expect(h.approvals.check(subject()).status).toBe('approved');
    expect(h.approvals.check(subject()).status).toBe('none');
    expect(h.approvals.get(first.request.id)?.status).toBe('used');
  });

  it('joins the open request when the identical call is held again', async () => {
    h = await harness();
    const requested = nextRequested(h.approvals);
    const a = h.approvals.hold(subject(), { signal: signal() });
    const id = await requested;
    const b = h.approvals.hold(subject(), { signal: signal() });
    await Promise.resolve();
    expect(h.approvals.list({ status: 'pending' })).toHaveLength(1);
    h.approvals.decide(id, { approve: true, by: REVIEWER, via: 'api', scope: 'session' });
    const [ra, rb] = await Promise.all([a, b]);
    expect([ra.status, rb.status]).toEqual(['approved', 'approved']);
    expect(ra.request.id).toBe(id);
  });

  it('gives a joined duplicate its own new request when the approve-once was used by the first call', async () => {
    vi.useFakeTimers();
    h = await harness({ config: { wait: '45s', timeout: '15m' } });
    const requested = nextRequested(h.approvals);
    const a = h.approvals.hold(subject(), { signal: signal() });
    const id = await requested;
    const b = h.approvals.hold(subject(), { signal: signal() });
    const second = nextRequested(h.approvals);
    h.approvals.decide(id, { approve: true, by: REVIEWER, via: 'api' });
    expect((await a).status).toBe('approved');
    const secondId = await second;
    expect(secondId).not.toBe(id);
    await vi.advanceTimersByTimeAsync(45_000);
    const rb = await b;
    expect(rb.status).toBe('pending');
    expect(rb.request.id).toBe(secondId);
  });

  it('opens a new request when the arguments change', async () => {
    h = await harness({ config: { wait: 0, timeout: '15m' } });
    const first = await h.approvals.hold(subject(), { signal: signal() });
    h.approvals.decide(first.request.id, { approve: true, by: REVIEWER, via: 'api' });
    const changed = subject({ args: { path: '/marketing/drafts/launch.md', text: 'HELLO' } });
    expect(h.approvals.check(changed).status).toBe('none');
    const second = await h.approvals.hold(changed, { signal: signal() });
    expect(second.status).toBe('pending');
    expect(second.request.id).not.toBe(first.request.id);
    // The approval for the original arguments is still there for the original call.
    expect(h.approvals.check(subject()).status).toBe('approved');
  });

  it('grants identical-tool calls in the same session only, when approved for the session', async () => {
    h = await harness({ config: { wait: 0, timeout: '15m' } });
    const first = await h.approvals.hold(subject(), { signal: signal() });
    h.approvals.decide(first.request.id, { approve: true, by: REVIEWER, via: 'api', scope: 'session' });
    expect(h.approvals.check(subject({ args: { path: '/other' } })).status).toBe('approved');
    expect(h.approvals.check(subject({ args: { path: '/third' } })).status).toBe('approved');
    expect(h.approvals.check(subject({ session: 's-2' })).status).toBe('none');
    expect(h.approvals.check(subject({ tool: 'docs__delete_page' })).status).toBe('none');
    expect(h.approvals.check(subject({ agent: 'release-bot' })).status).toBe('none');
  });

  it('answers pending after approvals.wait and keeps the request open for a later retry', async () => {
    vi.useFakeTimers();
    h = await harness({ config: { wait: '45s', timeout: '15m' } });
    const held = h.approvals.hold(subject(), { signal: signal() });
    await vi.advanceTimersByTimeAsync(45_000);
    const outcome = await held;
    expect(outcome.status).toBe('pending');
    expect(holdOutcomeText(outcome)).toContain(`request ${outcome.request.id}`);
    expect(holdOutcomeText(outcome)).toContain('Retry the same call with the same arguments');
    h.approvals.decide(outcome.request.id, { approve: true, by: REVIEWER, via: 'api' });
    const retry = await h.approvals.hold(subject(), { signal: signal() });
    expect(retry.status).toBe('approved');
    expect(retry.request.id).toBe(outcome.request.id);
  });

  it('calls onTick about every 10 s while the call waits', async () => {
    vi.useFakeTimers();
    h = await harness({ config: { wait: '45s', timeout: '15m' } });
    const ticks: number[] = [];
    const held = h.approvals.hold(subject(), { signal: signal(), onTick: (ms) => ticks.push(ms) });
    await vi.advanceTimersByTimeAsync(45_000);
    await held;
    expect(ticks).toEqual([10_000, 20_000, 30_000, 40_000]);
  });

  it('expires an unanswered request after approvals.timeout, which answers as denied with "do not retry"', async () => {
    vi.useFakeTimers();
    h = await harness({ config: { wait: '20m', timeout: '15m' } });
    const held = h.approvals.hold(subject(), { signal: signal() });
    await vi.advanceTimersByTimeAsync(15 * 60_000);
    const outcome = await held;
    expect(outcome.status).toBe('expired');
    expect(outcome.request.status).toBe('expired');
    expect(holdOutcomeText(outcome)).toMatch(/expired without a decision.*Do not retry/);
    expect(h.audit().map((e) => e.event)).toContain('approval.expired');
    expect(() => h!.approvals.decide(outcome.request.id, { approve: true, by: REVIEWER, via: 'api' })).toThrow(/already expired/);
  });

  it('lapses an approve-once that is not used within approvals.timeout', async () => {
    vi.useFakeTimers();
    h = await harness({ config: { wait: 0, timeout: '15m' } });
    const first = await h.approvals.hold(subject(), { signal: signal() });
    h.approvals.decide(first.request.id, { approve: true, by: REVIEWER, via: 'api' });
    await vi.advanceTimersByTimeAsync(15 * 60_000 + 1);
    expect(h.approvals.get(first.request.id)?.status).toBe('expired');
    expect(h.approvals.check(subject()).status).toBe('none');
    expect(h.audit().find((e) => e.event === 'approval.expired')?.outcome).toBe('approval-unused');
  });

  it('answers a retry of a denied call with the denial and its reason', async () => {
    h = await harness();
    const requested = nextRequested(h.approvals);
    const held = h.approvals.hold(subject(), { signal: signal() });
    h.approvals.decide(await requested, { approve: false, by: REVIEWER, via: 'api', reason: 'Not during the launch freeze.' });
    const outcome = await held;
    expect(outcome.status).toBe('denied');
    expect(holdOutcomeText(outcome)).toBe(`Denied by a reviewer (request ${outcome.request.id}): Not during the launch freeze. Do not retry this call.`);
    const retry = await h.approvals.hold(subject(), { signal: signal() });
    expect(retry.status).toBe('denied');
    expect(retry.request.id).toBe(outcome.request.id);
    expect(h.approvals.list()).toHaveLength(1);
  });

  it('withdraws the request when its only held call is cancelled', async () => {
    h = await harness();
    const controller = new AbortController();
    const requested = nextRequested(h.approvals);
    const held = h.approvals.hold(subject(), { signal: controller.signal });
    const id = await requested;
    controller.abort();
    const outcome = await held;
    expect(outcome.status).toBe('withdrawn');
    expect(h.approvals.get(id)?.status).toBe('withdrawn');
    expect(codeOf(() => h!.approvals.decide(id, { approve: true, by: REVIEWER, via: 'api' }))).toBe('CONFLICT');
  });

  it('keeps the request open when one of two held calls is cancelled', async () => {
    h = await harness();
    const controller = new AbortController();
    const requested = nextRequested(h.approvals);
    const a = h.approvals.hold(subject(), { signal: controller.signal });
    const id = await requested;
    const b = h.approvals.hold(subject(), { signal: signal() });
    await Promise.resolve();
    controller.abort();
    expect((await a).status).toBe('withdrawn');
    expect(h.approvals.get(id)?.status).toBe('pending');
    h.approvals.decide(id, { approve: true, by: REVIEWER, via: 'api' });
    expect((await b).status).toBe('approved');
  });
});

describe('who may decide', () => {
  it("refuses the agent's own identity, whatever roles it carries", async () => {
    h = await harness({ config: { wait: 0, timeout: '15m' } });
    const { request } = await h.approvals.hold(subject(), { signal: signal() });
    expect(codeOf(() => h!.approvals.decide(request.id, { approve: true, by: { name: 'default', roles: ['admin'], isAgent: 'default' }, via: 'api' }))).toBe('FORBIDDEN');
    expect(codeOf(() => h!.approvals.decide(request.id, { approve: true, by: { name: 'default', roles: ['reviewer'] }, via: 'api' }))).toBe('FORBIDDEN');
    expect(h.approvals.get(request.id)?.status).toBe('pending');
  });

  it("lets the agent's owner decide and refuses a principal who is neither owner nor reviewer", async () => {
    h = await harness({ config: { wait: 0, timeout: '15m' } });
    const { request } = await h.approvals.hold(subject(), { signal: signal() });
    expect(codeOf(() => h!.approvals.decide(request.id, { approve: true, by: { name: 'mallory', roles: [] }, via: 'api' }))).toBe('FORBIDDEN');
    const decided = h.approvals.decide(request.id, { approve: true, by: { name: 'alice@example.com', roles: [] }, via: 'cli' });
    expect(decided.decision).toMatchObject({ by: 'alice@example.com', via: 'cli' });
  });

  it('needs an admin for a pin request, and approves it once even when asked for the session', async () => {
    h = await harness({ config: { wait: 0, timeout: '15m' } });
    const { request } = await h.approvals.hold(subject({ kind: 'pin' }), { signal: signal() });
    expect(codeOf(() => h!.approvals.decide(request.id, { approve: true, by: REVIEWER, via: 'api' }))).toBe('FORBIDDEN');
    expect(codeOf(() => h!.approvals.decide(request.id, { approve: true, by: { name: 'alice@example.com', roles: [] }, via: 'api' }))).toBe('FORBIDDEN');
    const decided = h.approvals.decide(request.id, { approve: true, by: ADMIN, via: 'api', scope: 'session' });
    expect(decided.decision?.scope).toBe('once');
  });

  it('answers NOT_FOUND for an unknown id and CONFLICT for a second decision', async () => {
    h = await harness({ config: { wait: 0, timeout: '15m' } });
    const { request } = await h.approvals.hold(subject(), { signal: signal() });
    expect(codeOf(() => h!.approvals.decide('apr_nope', { approve: true, by: REVIEWER, via: 'api' }))).toBe('NOT_FOUND');
    h.approvals.decide(request.id, { approve: false, by: REVIEWER, via: 'api' });
    expect(codeOf(() => h!.approvals.decide(request.id, { approve: true, by: ADMIN, via: 'api' }))).toBe('CONFLICT');
  });

  it('gives every request an unguessable id', async () => {
    h = await harness({ config: { wait: 0, timeout: '15m' } });
    const ids = new Set<string>();
    for (let i = 0; i < 50; i++) ids.add((await h.approvals.hold(subject({ args: { i } }), { signal: signal() })).request.id);
    expect(ids.size).toBe(50);
    for (const id of ids) expect(id).toMatch(/^apr_[A-Za-z0-9_-]{22}$/);
  });
});

describe('elicitation channel', () => {
  it("approves when the client's human accepts with approve, recorded as elicitation", async () => {
    h = await harness();
    const asked: Array<{ message: string; schema: Record<string, unknown> }> = [];
    const outcome = await h.approvals.hold(subject(), {
      signal: signal(),
      elicit: async (message, schema) => {
        asked.push({ message, schema });
        return { action: 'accept', content: { decision: 'approve' } };
      },
    });
    expect(outcome.status).toBe('approved');
    expect(outcome.request.decision).toMatchObject({ by: 'elicitation:s-1', via: 'elicitation', scope: 'once' });
    expect(asked[0]!.message).toBe('Portcullis: default wants to call docs__update_page with {"path":"/marketing/drafts/launch.md","text":"hello"}. Reasons: rule agents.default.rules[3] asks for approval');
    expect(asked[0]!.schema).toMatchObject({ type: 'object', required: ['decision'], properties: { decision: { enum: ['approve', 'deny'] } } });
  });

  it('denies when the human declines, cancels or answers deny', async () => {
    h = await harness();
    const answers = [{ action: 'decline' as const }, { action: 'cancel' as const }, { action: 'accept' as const, content: { decision: 'deny', reason: 'no thanks' } }];
    for (const [i, answer] of answers.entries()) {
      const outcome = await h.approvals.hold(subject({ args: { i } }), { signal: signal(), elicit: async () => answer });
      expect(outcome.status).toBe('denied');
      expect(outcome.request.decision?.via).toBe('elicitation');
    }
    expect(h.approvals.list({ status: 'denied' })[0]!.decision?.reason).toBe('no thanks');
  });

  it('keeps waiting for the other channels when the client cannot answer', async () => {
    h = await harness();
    const requested = nextRequested(h.approvals);
    const held = h.approvals.hold(subject(), { signal: signal(), elicit: async () => Promise.reject(new Error('client does not support elicitation')) });
    const id = await requested;
    await new Promise((resolve) => setImmediate(resolve));
    expect(h.approvals.get(id)?.status).toBe('pending');
    h.approvals.decide(id, { approve: true, by: REVIEWER, via: 'page' });
    expect((await held).status).toBe('approved');
  });
});

describe('audit', () => {
  it('records requested and decided with who, how and the scope', async () => {
    h = await harness();
    const requested = nextRequested(h.approvals);
    const held = h.approvals.hold(subject(), { signal: signal() });
    const id = await requested;
    h.approvals.decide(id, { approve: true, by: REVIEWER, via: 'page', scope: 'session', note: 'ok for today' });
    await held;
    const events = h.audit();
    expect(events.find((e) => e.event === 'approval.requested')).toMatchObject({ agent: 'default', session: 's-1', tool: 'docs__update_page', approval: { id }, argsDigest: subject().argsDigest, reasons: subject().reasons });
    expect(events.find((e) => e.event === 'approval.decided')).toMatchObject({ approval: { id, by: 'rita', scope: 'session' }, outcome: 'approved', via: 'page', note: 'ok for today' });
  });
});
