/**
 * The HTTP application (SPEC §9): /mcp for MCP clients; health, readiness and metrics; the
 * approvals page and API; audit, undo, explain and lockdown for reviewers. Host-header
 * validation protects loopback listeners from DNS rebinding; identity is established here,
 * before the MCP layer sees a request.
 */
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { hostHeaderValidation } from '@modelcontextprotocol/hono';
import type { HttpIdentity, McpHttpFront } from '../proxy/front/http.js';
import type { UpstreamRegistry } from '../proxy/upstream/registry.js';
import { principalOf, requireCsrf, requireReviewer, type Authenticator, type Principal } from './auth.js';
import { auditQueryHandler, undoHandler, undoListHandler } from './calls.js';
import { metricsHandler, type Metrics } from './metrics.js';
import { remoteAddressOf } from './remote.js';
import { createApprovalRoutes, type Approvals } from '../approvals/index.js';
import type { UndoService } from '../audit/index.js';
import type { ExplainRow } from '../policy/index.js';

export interface AppDeps {
  mcp: McpHttpFront;
  registry: UpstreamRegistry;
  auth: Authenticator;
  metrics: Metrics;
  approvals: Approvals;
  undo: UndoService;
  auditFile: string;
  /** Host names the Host header may carry. */
  allowedHosts: string[];
  /** Base URL of links (webhooks, login); known once the listener is bound. */
  publicUrl: () => string;
  /** The effective permissions of an agent, or undefined for an unknown agent. */
  explain: (agent: string) => ExplainRow[] | undefined;
  /** POST /api/lockdown (admin). */
  lockdown: (c: Context) => Promise<Response>;
  /** /api/pins (see pins.ts). */
  pins: Hono<{ Variables: { principal: Principal } }>;
}

type Env = { Variables: { identity: HttpIdentity; principal: Principal } };

const API_BODY_LIMIT = 64 * 1024;

function identity(deps: AppDeps): MiddlewareHandler<Env> {
  return async function identityMiddleware(c, next) {
    const who = await deps.auth.identify(c.req.raw, remoteAddressOf(c));
    if (who instanceof Response) return who;
    c.set('identity', who);
    await next();
    return undefined;
  };
}

export function createApp(deps: AppDeps): Hono<Env> {
  const app = new Hono<Env>();
  app.use('*', hostHeaderValidation(deps.allowedHosts));

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) => {
    const upstreams = deps.registry.upstreams.map((u) => ({ name: u.name, state: u.state, ...(u.lastError ? { error: u.lastError } : {}) }));
    const ready = upstreams.every((u) => u.state === 'up');
    return c.json({ status: ready ? 'ready' : 'degraded', upstreams }, ready ? 200 : 503);
  });
  app.get('/metrics', metricsHandler(deps.metrics));

  const metadata = (c: Context) => c.json(deps.auth.protectedResourceMetadata());
  app.get('/.well-known/oauth-protected-resource', metadata);
  app.get('/.well-known/oauth-protected-resource/mcp', metadata);
  app.get('/login', deps.auth.loginHandler);

  app.all('/mcp', identity(deps), (c) => deps.mcp.handle(c.req.raw, c.get('identity')));

  const csrf = requireCsrf({ allowedOrigins: [deps.publicUrl()] });
  const limit = bodyLimit({ maxSize: API_BODY_LIMIT, onError: (c) => c.json({ error: { code: 'REQUEST_TOO_LARGE', message: `body larger than ${API_BODY_LIMIT} bytes` } }, 413) });
  app.use('/api/*', limit);

  app.route('/', createApprovalRoutes({ approvals: deps.approvals, authorize: principalOf(deps.auth, { anyRole: true }), publicUrl: deps.publicUrl() }));
  app.get('/api/calls', requireReviewer(deps.auth), auditQueryHandler(deps.auditFile));
  app.post('/api/calls/:id/undo', csrf, requireReviewer(deps.auth, { anyRole: true }), undoHandler(deps.undo));
  app.get('/api/undo', requireReviewer(deps.auth, { anyRole: true }), undoListHandler(deps.undo));
  app.get('/api/explain', requireReviewer(deps.auth), (c) => {
    const agent = c.req.query('agent') ?? 'default';
    const rows = deps.explain(agent);
    if (!rows) return c.json({ error: { code: 'NOT_FOUND', message: `unknown agent ${agent}` } }, 404);
    return c.json({ agent, rows });
  });
  app.post('/api/lockdown', csrf, requireReviewer(deps.auth, { admin: true }), (c) => deps.lockdown(c));
  app.route('/', deps.pins);

  app.notFound((c) => c.json({ error: { code: 'NOT_FOUND', message: 'not found' } }, 404));
  app.onError((error, c) => c.json({ error: { code: 'INTERNAL', message: 'internal error' } }, 500, { 'x-error': error.name }));
  return app;
}
