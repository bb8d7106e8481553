/**
 * Signed one-time links (`/a/:token`): a GET only shows a confirmation page (link unfurlers and
 * scanners open links), the POST decides once; reused, expired and tampered links are refused.
 */
import { SignJWT, UnsecuredJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { LINK_SECRET, REVIEWER, harness, routesFor, subject, type Harness } from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.cleanup();
  h = undefined;
});

const signal = () => new AbortController().signal;
const path = (url: string) => new URL(url).pathname;
const form = (fields: Record<string, string>) => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });

async function pendingWithLinks(h: Harness) {
  const { request } = await h.approvals.hold(subject(), { signal: signal() });
  const links = await h.approvals.links(request.id);
  return { id: request.id, approve: path(links.approve), deny: path(links.deny) };
}

describe('signed links', () => {
  it('shows a confirmation page on GET and decides nothing, however often it is opened', async () => {
    h = await harness({ config: { wait: 0, timeout: '15m' } });
    const app = routesFor(h.approvals);
    const { id, approve } = await pendingWithLinks(h);
    for (let i = 0; i < 3; i++) {
      const res = await app.request(approve);
      expect(res.status).toBe(200);
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      const html = await res.text();
      expect(html).toContain('<form method="post"');
      expect(html).toContain('Opening this link did not decide anything');
      expect(await app.request(approve, { method: 'HEAD' })).toHaveProperty('status', 200);
    }
    expect(h.approvals.get(id)?.status).toBe('pending');
  });

  it('approves once on POST, recorded as a link decision', async () => {
    h = await harness({ config: { wait: 0, timeout: '15m' } });
    const app = routesFor(h.approvals);
    const { id, approve } = await pendingWithLinks(h);
    const res = await app.request(approve, form({ note: 'via slack' }));
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('Approved once');
    expect(h.approvals.get(id)).toMatchObject({ status: 'approved', decision: { via: 'link', scope: 'once', note: 'via slack' } });
    expect(h.approvals.get(id)?.decision?.by).toMatch(/^signed-link:/);
    expect(h.approvals.check(subject()).status).toBe('approved');
  });

  it('denies on POST of the deny link, with the reason', async () => {
    h = await harness({ config: { wait: 0, timeout: '15m' } });
    const app = routesFor(h.approvals);
    const { id, deny } = await pendingWithLinks(h);
    expect(await (await app.request(deny)).text()).toContain('Deny this call?');
    const res = await app.request(deny, form({ reason: 'not now' }));
    expect(res.status).toBe(200);
    expect(h.approvals.get(id)).toMatchObject({ status: 'denied', decision: { via: 'link', reason: 'not now' } });
  });

  it('refuses a reused link with 409, and the other link once the request is decided', async () => {
    h = await harness({ config: { wait: 0, timeout: '15m' } });
    const app = routesFor(h.approvals);
    const { approve, deny } = await pendingWithLinks(h);
    expect((await app.request(approve, form({}))).status).toBe(200);
    const reused = await app.request(approve, form({}));
    expect(reused.status).toBe(409);
    expect(await reused.text()).toContain('already used');
    expect((await app.request(approve)).status).toBe(409);
    const other = await app.request(deny, form({}));
    expect(other.status).toBe(409);
    expect(await other.text()).toContain('already decided');
  });

  it('refuses a link of a request decided elsewhere', async () => {
    h = await harness({ config: { wait: 0, timeout: '15m' } });
    const app = routesFor(h.approvals);
    const { id, approve } = await pendingWithLinks(h);
    h.approvals.decide(id, { approve: false, by: REVIEWER, via: 'api' });
    const res = await app.request(approve, form({}));
    expect(res.status).toBe(409);
    expect(h.approvals.get(id)?.status).toBe('denied');
  });

  it('refuses an expired link with 410', async () => {
    let clock = Date.parse('2026-03-01T09:00:00Z');
    h = await harness({ config: { wait: 0, timeout: '15m' }, now: () => clock });
    const app = routesFor(h.approvals);
    const { approve } = await pendingWithLinks(h);
    clock += 15 * 60_000 + 1_000;
    const res = await app.request(approve, form({}));
    expect(res.status).toBe(410);
    expect(await res.text()).toContain('expired');
    expect((await app.request(approve)).status).toBe(410);
  });

  it('refuses a tampered, re-signed or unsigned link with 403', async () => {
    h = await harness({ config: { wait: 0, timeout: '15m' } });
    const app = routesFor(h.approvals);
    const { id, approve, deny } = await pendingWithLinks(h);
    const token = approve.slice('/a/'.length);
    const [head, , sig] = token.split('.');
    // The deny link's payload under the approve link's signature.
    const swapped = `${head}.${deny.slice('/a/'.length).split('.')[1]}.${sig}`;
    const flipped = `${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`;
    const wrongKey = await new SignJWT({ rid: id, d: 'approve' }).setProtectedHeader({ alg: 'HS256' }).setAudience('portcullis:approval-link').setJti('x').setExpirationTime('1h').sign(new Uint8Array(32).fill(9));
    const unsigned = new UnsecuredJWT({ rid: id, d: 'approve', jti: 'y', aud: 'portcullis:approval-link' }).setExpirationTime('1h').encode();
    for (const bad of [swapped, flipped, wrongKey, unsigned, 'not-a-token']) {
      const res = await app.request(`/a/${bad}`, form({}));
      expect(res.status).toBe(403);
      expect(await res.text()).toContain('Nothing was decided');
    }
    expect(h.approvals.get(id)?.status).toBe('pending');
    expect(LINK_SECRET.byteLength).toBe(32);
  });

  it('escapes what the agent put in its arguments on the confirmation page', async () => {
    h = await harness({ config: { wait: 0, timeout: '15m' } });
    const app = routesFor(h.approvals);
    const { request } = await h.approvals.hold(subject({ args: { html: '<script>alert(1)</script>' }, reasons: ['<img src=x onerror=alert(1)>'] }), { signal: signal() });
    const links = await h.approvals.links(request.id);
    const html = await (await app.request(path(links.approve))).text();
    expect(html).not.toContain('<script>alert(1)');
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
  });
});
