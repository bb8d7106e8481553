/**
 * Approval routes (SPEC §9): the reviewer page, the REST API, its event stream, and the signed
 * one-time links.
 *
 *   GET  /approvals                      reviewer page (HTML)
 *   GET  /api/approvals[?status=S&limit=N]  → 200 { approvals: Approval[], now }   newest first; limit ≤ 1000 (default 1000)
 *   GET  /api/approvals/:id              → 200 { approval: Approval }
 *   POST /api/approvals/:id/approve  { scope?: 'once'|'session', note?: string }  → 200 { approval }
 *   POST /api/approvals/:id/deny     { reason?: string }                         → 200 { approval }
 *   GET  /api/approvals/stream           text/event-stream:
 *          event: snapshot   data: { approvals: Approval[] (pending), now }
 *          event: requested | decided | expired | withdrawn   data: { approval: Approval, now }
 *          a `: ping` comment every 15 s
 *   GET  /a/:token                       confirmation page; decides nothing
 *   POST /a/:token   (form: note | reason)  decides once; 4xx page when invalid/expired/used/decided
 *
 *   Approval = { id, status: pending|approved|denied|expired|withdrawn|used, kind: call|pin, agent, owner?,
 *                session, tool, args, argsDigest, policyVersion, reasons: string[], rule?, taint?, provenance?,
 *                createdAt, expiresAt, decidedAt?, usedAt?   (ISO 8601),
 *                decision?: { by, via: api|page|cli|link|elicitation, scope?: once|session, note?, reason? } }
 *   `now` is the server's clock (ISO 8601), for showing time left.
 *
 *   Errors: { error: { code, message } } — 400 INVALID_REQUEST, 401/403 from `authorize`, 403 FORBIDDEN
 *   (may not decide, or cross-site POST), 404 NOT_FOUND, 409 CONFLICT (already decided), 413 REQUEST_TOO_LARGE.
 *
 * The API's POSTs need `content-type: application/json` or an `X-Portcullis-CSRF` header, and a
 * same-origin `Origin` when one is sent, so a cross-site form cannot decide. `X-Portcullis-Via:
 * page|cli` only labels the channel in the audit log. Links need no cookie: the token is the
 * credential and the POST goes to the link itself.
 */
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { streamSSE } from 'hono/streaming';
import * as z from 'zod';
import { GatewayError, asGatewayError, httpStatusOf } from '../errors.js';
import { mayView } from './reviewers.js';
import { confirmPage, decidedPage, refusedPage } from './page/link-page.js';
import { newNonce, pageHeaders } from './page/html.js';
import { reviewerPage } from './page/reviewer-page.js';
import type { ApprovalEvent, ApprovalStatus, Approvals, Principal } from './types.js';
import { approvalView } from './view.js';

export interface ApprovalRoutesDeps {
  approvals: Approvals;
  /** Who is asking (reviewer, admin, owner), or the response that refuses them (401/403). */
  authorize: (c: Context) => Promise<Principal | Response>;
  /** The gateway's public base URL: its origin is accepted on POSTs besides the request's own. */
  publicUrl?: string;
  /** Keep-alive comment interval on the stream; default 15 s. */
  heartbeatMs?: number;
}

const MAX_BODY_BYTES = 16 * 1024;
const MAX_LIST = 1_000;

const StatusSchema = z.enum(['pending', 'approved', 'denied', 'expired', 'withdrawn', 'used']);
const ApproveBodySchema = z.strictObject({ scope: z.enum(['once', 'session']).optional(), note: z.string().max(2_000).optional() });
const DenyBodySchema = z.strictObject({ reason: z.string().max(2_000).optional() });

function errorJson(c: Context, error: unknown): Response {
  const e = asGatewayError(error);
  return c.json({ error: { code: e.code, message: e.code === 'INTERNAL' ? 'internal error' : e.message } }, httpStatusOf(e) as 400);
}

const LINK_PAGES: Record<string, { status: number; title: string }> = {
  invalid: { status: 403, title: 'This link is not valid' },
  expired: { status: 410, title: 'This link has expired' },
  used: { status: 409, title: 'This link was already used' },
  decided: { status: 409, title: 'This request is already decided' },
  'not-found': { status: 404, title: 'No such request' },
};

function linkRefusal(error: unknown): Response {
  const e = asGatewayError(error);
  const nonce = newNonce();
  const problem = typeof e.data?.link === 'string' ? e.data.link : undefined;
  const page = (problem === undefined ? undefined : LINK_PAGES[problem]) ?? { status: e.code === 'INTERNAL' ? 500 : httpStatusOf(e), title: 'This link cannot be used' };
  const message = e.code === 'INTERNAL' ? 'Something went wrong.' : e.message;
  return new Response(refusedPage(nonce, page.title, message), { status: page.status, headers: pageHeaders(nonce) });
}

/** The API's POSTs must not be triggerable by a cross-site form or a foreign page. */
function crossSiteRefusal(c: Context, publicUrl: string | undefined): string | undefined {
  const type = c.req.header('content-type') ?? '';
  const json = /^application\/json\s*(;|$)/i.test(type);
  if (!json && c.req.header('x-portcullis-csrf') === undefined) return 'send the body as application/json or add the X-Portcullis-CSRF header';
  const origin = c.req.header('origin');
  if (origin === undefined) return undefined;
  const allowed = new Set([new URL(c.req.url).origin]);
  if (publicUrl) allowed.add(new URL(publicUrl).origin);
  return allowed.has(origin) ? undefined : `requests from ${origin} may not decide approvals`;
}

async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new GatewayError('INVALID_REQUEST', 'the body is not valid JSON');
  }
}

function parseBody<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
    throw new GatewayError('INVALID_REQUEST', `${where}${issue?.message ?? 'invalid body'}`);
  }
  return parsed.data;
}

function via(c: Context): 'api' | 'page' | 'cli' {
  const v = c.req.header('x-portcullis-via');
  return v === 'page' || v === 'cli' ? v : 'api';
}

export function createApprovalRoutes(deps: ApprovalRoutesDeps): Hono {
  const { approvals } = deps;
  const heartbeatMs = deps.heartbeatMs ?? 15_000;
  const app = new Hono();
  const limit = bodyLimit({ maxSize: MAX_BODY_BYTES, onError: (c) => c.json({ error: { code: 'REQUEST_TOO_LARGE', message: `the body is larger than ${MAX_BODY_BYTES} bytes` } }, 413) });

  app.get('/approvals', async (c) => {
    const who = await deps.authorize(c);
    if (who instanceof Response) return who;
    const nonce = newNonce();
    return new Response(reviewerPage(nonce), { headers: pageHeaders(nonce, { connect: true }) });
  });

  app.get('/api/approvals', async (c) => {
    const who = await deps.authorize(c);
    if (who instanceof Response) return who;
    try {
      const status = c.req.query('status');
      const filter = status === undefined || status === '' ? {} : { status: parseBody(StatusSchema, status) as ApprovalStatus };
      const limitParam = Number(c.req.query('limit') ?? MAX_LIST);
      const max = Number.isInteger(limitParam) && limitParam > 0 ? Math.min(limitParam, MAX_LIST) : MAX_LIST;
      const visible = approvals.list(filter).filter((r) => mayView(who, r.subject));
      return c.json({ approvals: visible.slice(0, max).map(approvalView), now: new Date().toISOString() });
    } catch (error) {
      return errorJson(c, error);
    }
  });

  app.get('/api/approvals/stream', async (c) => {
    const who = await deps.authorize(c);
    if (who instanceof Response) return who;
    c.header('cache-control', 'no-store');
    c.header('x-accel-buffering', 'no');
    return streamSSE(c, async (stream) => {
      const queue: ApprovalEvent[] = [];
      let wake: (() => void) | undefined;
      const unsubscribe = approvals.subscribe((event) => {
        if (!mayView(who, event.request.subject)) return;
        queue.push(event);
        wake?.();
      });
      let closed = false;
      stream.onAbort(() => {
        closed = true;
        unsubscribe();
        wake?.();
      });
      try {
        const pending = approvals.list({ status: 'pending' }).filter((r) => mayView(who, r.subject));
        await stream.writeSSE({ event: 'snapshot', data: JSON.stringify({ approvals: pending.map(approvalView), now: new Date().toISOString() }) });
        while (!closed) {
          const event = queue.shift();
          if (event) {
            await stream.writeSSE({ event: event.type, id: `${event.request.id}:${event.request.status}`, data: JSON.stringify({ approval: approvalView(event.request), now: new Date().toISOString() }) });
            continue;
          }
          const idle = await new Promise<'event' | 'ping'>((resolve) => {
            const timer = setTimeout(() => resolve('ping'), heartbeatMs);
            timer.unref();
            wake = () => {
              clearTimeout(timer);
              resolve('event');
            };
          });
          wake = undefined;
          if (idle === 'ping' && !closed) await stream.write(': ping\n\n');
        }
      } finally {
        unsubscribe();
      }
    });
  });

  app.get('/api/approvals/:id', async (c) => {
    const who = await deps.authorize(c);
    if (who instanceof Response) return who;
    const request = approvals.get(c.req.param('id'));
    if (!request || !mayView(who, request.subject)) return errorJson(c, new GatewayError('NOT_FOUND', `no approval request ${c.req.param('id')}`));
    return c.json({ approval: approvalView(request) });
  });

  for (const action of ['approve', 'deny'] as const) {
    app.post(`/api/approvals/:id/${action}`, limit, async (c) => {
      const who = await deps.authorize(c);
      if (who instanceof Response) return who;
      try {
        const refusal = crossSiteRefusal(c, deps.publicUrl);
        if (refusal) throw new GatewayError('FORBIDDEN', refusal);
        const raw = await readJson(c);
        const input = action === 'approve' ? { approve: true, ...parseBody(ApproveBodySchema, raw) } : { approve: false, ...parseBody(DenyBodySchema, raw) };
        const decided = approvals.decide(c.req.param('id'), { ...input, by: who, via: via(c) });
        return c.json({ approval: approvalView(decided) });
      } catch (error) {
        return errorJson(c, error);
      }
    });
  }

  app.get('/a/:token', async (c) => {
    try {
      const view = await approvals.inspectLink(c.req.param('token'));
      if (view.state === 'used') throw new GatewayError('CONFLICT', 'This approval link has already been used.', { data: { link: 'used' } });
      if (view.state === 'decided') throw new GatewayError('CONFLICT', `This request is already ${view.request.status}.`, { data: { link: 'decided' } });
      const nonce = newNonce();
      return new Response(confirmPage(nonce, view.request, view.decision), { headers: pageHeaders(nonce) });
    } catch (error) {
      return linkRefusal(error);
    }
  });

  app.post('/a/:token', limit, async (c) => {
    try {
      const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
      const text = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim().slice(0, 2_000) : undefined);
      const note = text(form.note);
      const reason = text(form.reason);
      const decided = await approvals.useLink(c.req.param('token'), { ...(note ? { note } : {}), ...(reason ? { reason } : {}) });
      const nonce = newNonce();
      return new Response(decidedPage(nonce, decided), { headers: pageHeaders(nonce) });
    } catch (error) {
      return linkRefusal(error);
    }
  });

  return app;
}
