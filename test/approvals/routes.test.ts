/**
 * The REST API, its event stream and the reviewer page (SPEC §9), through real HTTP requests
 * to the hono app.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { REVIEWER, harness, nextRequested, routesFor, subject, type Harness } from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.cleanup();
  h = undefined;
});

const signal = () => new AbortController().signal;
const JSON_POST = { 'content-type': 'application/json' };

describe('REST API', () => {
  it('approves a held call through POST /api/approvals/:id/approve', async () => {
    h = await harness();
    const app = routesFor(h.approvals);
    const requested = nextRequested(h.approvals);
    const held = h.approvals.hold(subject(), { signal: signal() });
    const id = await requested;
    const res = await app.request(`/api/approvals/${id}/approve`, { method: 'POST', headers: JSON_POST, body: JSON.stringify({ scope: 'session', note: 'looks right' }) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { approval: Record<string, unknown> };
    expect(body.approval).toMatchObject({ id, status: 'approved', decision: { by: 'rita', via: 'api', scope: 'session', note: 'looks right' } });
    expect((await held).status).toBe('approved');
  });

  it('denies a held call through POST /api/approvals/:id/deny, and the reason reaches the call', async () => {
    h = await harness();
    const app = routesFor(h.approvals);
    const requested = nextRequested(h.approvals);
    const held = h.approvals.hold(subject(), { signal: signal() });
    const id = await requested;
    const res = await app.request(`/api/approvals/${id}/deny`, { method: 'POST', headers: { 'x-portcullis-csrf': '1', 'x-portcullis-via': 'page' }, body: JSON.stringify({ reason: 'wrong folder' }) });
    expect(res.status).toBe(200);
    const outcome = await held;
    expect(outcome).toMatchObject({ status: 'denied', request: { decision: { by: 'rita', via: 'page', reason: 'wrong folder' } } });
  });

  it('lists requests by status and shows one, newest first, with ISO times', async () => {
    h = await harness({ config: { wait: 0, timeout: '15m' } });
    const app = routesFor(h.approvals);
    const a = await h.approvals.hold(subject({ args: { n: 1 } }), { signal: signal() });
    const b = await h.approvals.hold(subject({ args: { n: 2 } }), { signal: signal() });
    h.approvals.decide(a.request.id, { approve: false, by: REVIEWER, via: 'api' });
    const pending = (await (await app.request('/api/approvals?status=pending')).json()) as { approvals: Array<{ id: string }>; now: string };
    expect(pending.approvals.map((r) => r.id)).toEqual([b.request.id]);
    const all = (await (await app.request('/api/approvals')).json()) as { approvals: Array<{ id: string }> };
    expect(all.approvals.map((r) => r.id)).toEqual([b.request.id, a.request.id]);
    const one = (await (await app.request(`/api/approvals/${b.request.id}`)).json()) as { approval: Record<string, unknown> };
    expect(one.approval).toMatchObject({ id: b.request.id, status: 'pending', agent: 'default', tool: 'docs__update_page', args: { n: 2 }, kind: 'call' });
    expect(one.approval.expiresAt).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('answers errors as { error: { code, message } } with their statuses', async () => {
    h = await harness({ config: { wait: 0, timeout: '15m' } });
    const app = routesFor(h.approvals);
    const { request } = await h.approvals.hold(subject(), { signal: signal() });
    const unknown = await app.request('/api/approvals/apr_nope');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'no approval request apr_nope' } });
    expect((await app.request('/api/approvals?status=bogus')).status).toBe(400);
    const badScope = await app.request(`/api/approvals/${request.id}/approve`, { method: 'POST', headers: JSON_POST, body: JSON.stringify({ scope: 'forever' }) });
    expect(badScope.status).toBe(400);
    expect(((await badScope.json()) as { error: { code: string } }).error.code).toBe('INVALID_REQUEST');
    expect((await app.request(`/api/approvals/${request.id}/approve`, { method: 'POST', headers: JSON_POST, body: '{' })).status).toBe(400);
    expect((await app.request(`/api/approvals/${request.id}/approve`, { method: 'POST', headers: JSON_POST, body: JSON.stringify({ note: 'x'.repeat(20_000) }) })).status).toBe(413);
    expect((await app.request(`/api/approvals/${request.id}/approve`, { method: 'POST', headers: JSON_POST, body: '{}' })).status).toBe(200);
    const again = await app.request(`/api/approvals/${request.id}/deny`, { method: 'POST', headers: JSON_POST, body: '{}' });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe('CONFLICT');
  });

  it("answers 403 when the principal is the agent's own identity", async () => {
    h = await harness({ config: { wait: 0, timeout: '15m' } });
    const app = routesFor(h.approvals, { name: 'default', roles: ['reviewer'], isAgent: 'default' });
    const { request } = await h.approvals.hold(subject(), { signal: signal() });
    const res = await app.request(`/api/approvals/${request.id}/approve`, { method: 'POST', headers: JSON_POST, body: '{}' });
    expect(res.status).toBe(403);
    expect(h.approvals.get(request.id)?.status).toBe('pending');
  });

  it('passes the response of authorize through unchanged (401)', async () => {
    h = await harness();
    const app = routesFor(h.approvals, async (c) => c.json({ error: { code: 'UNAUTHENTICATED', message: 'bearer token required' } }, 401));
    for (const path of ['/approvals', '/api/approvals', '/api/approvals/stream', '/api/approvals/apr_x']) expect((await app.request(path)).status).toBe(401);
    expect((await app.request('/api/approvals/apr_x/approve', { method: 'POST', headers: JSON_POST, body: '{}' })).status).toBe(401);
  });

  it('shows an owner only their own agents’ requests', async () => {
    h = await harness({ config: { wait: 0, timeout: '15m' } });
    await h.approvals.hold(subject(), { signal: signal() });
    const other = await h.approvals.hold(subject({ agent: 'release-bot', owner: 'bob@example.com' }), { signal: signal() });
    const bob = routesFor(h.approvals, { name: 'bob@example.com', roles: [] });
    const list = (await (await bob.request('/api/approvals')).json()) as { approvals: Array<{ id: string }> };
    expect(list.approvals.map((r) => r.id)).toEqual([other.request.id]);
  });
});

describe('cross-site protection', () => {
  it('refuses a POST that is neither JSON nor carries the CSRF header (a cross-site form)', async () => {
    h = await harness({ config: { wait: 0, timeout: '15m' } });
    const app = routesFor(h.approvals);
    const { request } = await h.approvals.hold(subject(), { signal: signal() });
    for (const type of ['application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=x']) {
      const res = await app.request(`/api/approvals/${request.id}/approve`, { method: 'POST', headers: { 'content-type': type }, body: 'scope=once' });
      expect(res.status).toBe(403);
    }
    expect(h.approvals.get(request.id)?.status).toBe('pending');
  });

  it('refuses a POST from a foreign Origin even with JSON', async () => {
    h = await harness({ config: { wait: 0, timeout: '15m' } });
    const app = routesFor(h.approvals);
    const { request } = await h.approvals.hold(subject(), { signal: signal() });
    const res = await app.request(`http://127.0.0.1:8787/api/approvals/${request.id}/approve`, { method: 'POST', headers: { ...JSON_POST, origin: 'https://evil.example' }, body: '{}' });
    expect(res.status).toBe(403);
    const same = await app.request(`http://127.0.0.1:8787/api/approvals/${request.id}/approve`, { method: 'POST', headers: { ...JSON_POST, origin: 'http://127.0.0.1:8787' }, body: '{}' });
    expect(same.status).toBe(200);
  });
});

describe('event stream', () => {
  it('sends a snapshot of pending requests, then requested and decided events', async () => {
    h = await harness({ config: { wait: 0, timeout: '15m' } });
    const app = routesFor(h.approvals);
    const before = await h.approvals.hold(subject({ args: { n: 0 } }), { signal: signal() });
    const controller = new AbortController();
    const res = await app.request('/api/approvals/stream', { signal: controller.signal });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const readUntil = async (needle: string) => {
      while (!text.includes(needle)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${needle}`);
        text += decoder.decode(value, { stream: true });
      }
    };
    await readUntil('event: snapshot');
    await readUntil(before.request.id);
    const next = await h.approvals.hold(subject({ args: { n: 1 } }), { signal: signal() });
    await readUntil('event: requested');
    await readUntil(next.request.id);
    h.approvals.decide(next.request.id, { approve: true, by: REVIEWER, via: 'api' });
    await readUntil('event: decided');
    const decided = text.slice(text.indexOf('event: decided'));
    expect(decided).toContain('"status":"approved"');
    controller.abort();
    await reader.cancel().catch(() => undefined);
  });
});

describe('reviewer page', () => {
  it('serves one self-contained HTML page with a nonce CSP and no external assets', async () => {
    h = await harness();
    const res = await routesFor(h.approvals).request('/approvals');
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toMatch(/script-src 'nonce-[^']+'/);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    const html = await res.text();
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/i);
    expect(html).not.toContain('innerHTML');
    expect(html).toContain('/api/approvals/stream');
  });
});
