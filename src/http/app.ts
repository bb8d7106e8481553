/**
 * The HTTP application: /mcp for MCP clients, health and readiness. Host-header validation
 * protects loopback listeners from DNS rebinding; identity is established here, before the
 * MCP layer sees the request.
 */
import { Hono, type MiddlewareHandler } from 'hono';
import { hostHeaderValidation } from '@modelcontextprotocol/hono';
import type { HttpIdentity, McpHttpFront } from '../proxy/front/http.js';
import type { UpstreamRegistry } from '../proxy/upstream/registry.js';

export interface AppDeps {
  mcp: McpHttpFront;
  registry: UpstreamRegistry;
  /** Host names the Host header may carry. */
  allowedHosts: string[];
  /** Establishes who is calling, or answers the request itself (401/403). */
  identify: (request: Request) => Promise<HttpIdentity | Response>;
}

type Env = { Variables: { identity: HttpIdentity } };

function identity(deps: AppDeps): MiddlewareHandler<Env> {
  return async function identityMiddleware(c, next) {
    const who = await deps.identify(c.req.raw);
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

  app.all('/mcp', identity(deps), (c) => deps.mcp.handle(c.req.raw, c.get('identity')));

  app.notFound((c) => c.json({ error: 'not found' }, 404));
  app.onError((error, c) => c.json({ error: 'internal error', detail: error.message }, 500));
  return app;
}
