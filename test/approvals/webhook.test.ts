/**
 * Webhook channel: a real local HTTP server receives the POST, verifies the signature over
 * timestamp + body, and follows the signed link back to the gateway.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { REVIEWER, harness, listen, nextRequested, routesFor, subject, type Harness, type Served } from './helpers.js';

const SECRET = 'whsec-test-0123456789abcdef';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  url: string;
}

let h: Harness | undefined;
let hook: { server: Server; url: string; received: Received[] } | undefined;
let gateway: Served | undefined;

afterEach(async () => {
  await gateway?.close();
  await h?.cleanup();
  if (hook) await new Promise<void>((resolve) => hook!.server.close(() => resolve()));
  h = undefined;
  hook = undefined;
  gateway = undefined;
});

/** A receiver answering with the given statuses in turn (then 200). */
async function receiver(statuses: number[] = []): Promise<{ server: Server; url: string; received: Received[]; next: () => Promise<Received> }> {
  const received: Received[] = [];
  const waiting: Array<(r: Received) => void> = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      const r = { headers: req.headers, body, url: req.url ?? '' };
      received.push(r);
      res.statusCode = statuses.shift() ?? 200;
      res.end('ok');
      waiting.shift()?.(r);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const next = () => new Promise<Received>((resolve) => waiting.push(resolve));
  return { server, url: `http://127.0.0.1:${port}/hooks/T0001/B0002/s3cr3tpath`, received, next };
}

function verify(r: Received, secret: string): boolean {
  const timestamp = r.headers['x-portcullis-timestamp'];
  const signature = r.headers['x-portcullis-signature'];
  if (typeof timestamp !== 'string' || typeof signature !== 'string') return false;
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(`${timestamp}.${r.body}`).digest('hex')}`);
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

describe('webhooks', () => {
  it('posts a signed JSON summary whose approve link, followed with a POST, approves the held call', async () => {
    const rx = await receiver();
    hook = rx;
    let base = '';
    h = await harness({ config: { wait: '10s', timeout: '15m', channels: [{ webhook: { url: rx.url, secret: SECRET, format: 'json' } }] }, publicUrl: () => base });
    gateway = await listen(routesFor(h.approvals));
    base = gateway.url;
    const delivered = rx.next();
    const held = h.approvals.hold(subject(), { signal: new AbortController().signal });
    const r = await delivered;
    expect(verify(r, SECRET)).toBe(true);
    expect(verify(r, 'wrong-secret')).toBe(false);
    expect(r.headers['content-type']).toBe('application/json');
    const body = JSON.parse(r.body) as { type: string; request: { id: string; agent: string; tool: string; args: unknown; reasons: string[] }; links: { approve: string; deny: string; page: string } };
    expect(body).toMatchObject({ type: 'approval.requested', request: { agent: 'default', tool: 'docs__update_page', args: subject().args, reasons: subject().reasons } });
    expect(body.links.page).toBe(`${base}/approvals`);
    expect(body.links.approve.startsWith(`${base}/a/`)).toBe(true);
    // A link unfurler's GET changes nothing.
    expect((await fetch(body.links.approve)).status).toBe(200);
    expect(h.approvals.get(body.request.id)?.status).toBe('pending');
    const post = await fetch(body.links.approve, { method: 'POST', body: new URLSearchParams({ note: 'ok' }) });
    expect(post.status).toBe(200);
    expect(await held).toMatchObject({ status: 'approved', request: { id: body.request.id, decision: { via: 'link' } } });
  });

  it('retries after a 500 and delivers the same body, signed again', async () => {
    const rx = await receiver([500]);
    hook = rx;
    h = await harness({ config: { wait: 0, timeout: '15m', channels: [{ webhook: { url: rx.url, secret: SECRET, format: 'json' } }] }, webhookRetry: { baseDelayMs: 20 } });
    const first = rx.next();
    const second = first.then(() => rx.next());
    const outcome = await h.approvals.hold(subject(), { signal: new AbortController().signal });
    expect(outcome.status).toBe('pending');
    const [a, b] = await Promise.all([first, second]);
    expect(rx.received).toHaveLength(2);
    expect(b.body).toBe(a.body);
    expect(verify(a, SECRET) && verify(b, SECRET)).toBe(true);
    expect(h.logText()).toContain('webhook delivery failed; retrying');
  });

  it('gives up after the last attempt without holding the call, and never logs the secret or the URL path', async () => {
    const rx = await receiver([503, 503, 503, 503, 503]);
    hook = rx;
    h = await harness({ config: { wait: 0, timeout: '15m', channels: [{ webhook: { url: rx.url, secret: SECRET, format: 'json' } }] }, webhookRetry: { baseDelayMs: 5, attempts: 3 } });
    const done = rx.next().then(() => rx.next()).then(() => rx.next());
    const outcome = await h.approvals.hold(subject(), { signal: new AbortController().signal });
    expect(outcome.status).toBe('pending');
    await done;
    await vi.waitFor(() => expect(h!.logText()).toContain('giving up'));
    expect(rx.received).toHaveLength(3);
    const logged = h.logText();
    expect(logged).not.toContain(SECRET);
    expect(logged).not.toContain('s3cr3tpath');
  });

  it('posts a Slack message with the text and two link buttons', async () => {
    const rx = await receiver();
    hook = rx;
    h = await harness({ config: { wait: 0, timeout: '15m', channels: [{ webhook: { url: rx.url, secret: SECRET, format: 'slack' } }] } });
    const delivered = rx.next();
    await h.approvals.hold(subject({ args: { text: '<@here> & ```' } }), { signal: new AbortController().signal });
    const r = await delivered;
    expect(verify(r, SECRET)).toBe(true);
    const msg = JSON.parse(r.body) as { text: string; blocks: Array<{ type: string; text?: { text: string }; elements?: Array<{ type: string; url?: string; style?: string; action_id?: string }> }> };
    expect(msg.text).toContain('default wants to call `docs__update_page`');
    const actions = msg.blocks.find((b) => b.type === 'actions')!;
    expect(actions.elements!.filter((e) => e.type === 'button' && e.url?.includes('/a/')).map((e) => e.style)).toEqual(['primary', 'danger']);
    const args = msg.blocks.map((b) => b.text?.text ?? '').join('\n');
    expect(args).toContain('&lt;@here&gt; &amp;');
    expect(args).not.toContain('<@here>');
  });

  it('does not post again when an identical call joins the open request', async () => {
    const rx = await receiver();
    hook = rx;
    h = await harness({ config: { wait: '10s', timeout: '15m', channels: [{ webhook: { url: rx.url, secret: SECRET, format: 'json' } }] } });
    const requested = nextRequested(h.approvals);
    const delivered = rx.next();
    const a = h.approvals.hold(subject(), { signal: new AbortController().signal });
    const id = await requested;
    await delivered;
    const b = h.approvals.hold(subject(), { signal: new AbortController().signal });
    h.approvals.decide(id, { approve: true, by: REVIEWER, via: 'api', scope: 'session' });
    await Promise.all([a, b]);
    expect(rx.received).toHaveLength(1);
  });
});
