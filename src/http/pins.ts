/**
 * Tool-definition pins over HTTP: `GET /api/pins` (reviewers) lists pins and blocked tools,
 * `POST /api/pins/:tool/approve` and `POST /api/pins/reset` (admins) re-pin. A changed
 * definition also opens a `pin` request on the approvals page; an admin approving it re-pins.
 */
import { Hono } from 'hono';
import type { AuditLog } from '../audit/index.js';
import type { Approvals } from '../approvals/index.js';
import type { BlockedTool, UpstreamRegistry } from '../proxy/upstream/registry.js';
import { requireCsrf, requireReviewer, type Authenticator, type Principal } from './auth.js';

export interface PinRoutesDeps {
  registry: UpstreamRegistry;
  auth: Authenticator;
  audit: AuditLog;
  allowedOrigins: string[];
}

export function createPinRoutes(deps: PinRoutesDeps): Hono<{ Variables: { principal: Principal } }> {
  const { registry, audit } = deps;
  const app = new Hono<{ Variables: { principal: Principal } }>();
  const csrf = requireCsrf({ allowedOrigins: deps.allowedOrigins });
  const admin = requireReviewer(deps.auth, { admin: true });

  app.get('/api/pins', requireReviewer(deps.auth), (c) => c.json({ pins: registry.pinned(), blocked: [...registry.blockedTools()] }));
  app.post('/api/pins/reset', csrf, admin, (c) => {
    registry.resetPins();
    audit.record({ event: 'pin.changed', outcome: 'reset', by: c.get('principal').name });
    return c.json({ pins: registry.pinned() });
  });
  app.post('/api/pins/:tool/approve', csrf, admin, (c) => {
    const tool = c.req.param('tool');
    const approved = registry.approvePin(tool);
    if (!approved) return c.json({ error: { code: 'NOT_FOUND', message: `${tool} is not blocked by a changed pin` } }, 404);
    audit.record({ event: 'pin.changed', tool, outcome: 'approved', by: c.get('principal').name });
    return c.json({ approved: tool });
  });
  return app;
}

/**
 * Puts a changed definition on the approvals page as a `pin` request (admins only may decide);
 * approving it re-pins the tool. Returns a function that stops listening.
 */
export function offerPinApprovals(deps: { approvals: Approvals; registry: UpstreamRegistry; audit: AuditLog; policyVersion: () => string }): { offer(blocked: BlockedTool): void; close(): void } {
  const { approvals, registry, audit } = deps;
  const stop = approvals.subscribe((event) => {
    const subject = event.request.subject;
    if (event.type !== 'decided' || subject.kind !== 'pin' || event.request.status !== 'approved') return;
    if (registry.approvePin(subject.tool)) audit.record({ event: 'pin.changed', tool: subject.tool, outcome: 'approved', by: event.request.decision?.by, approval: { id: event.request.id } });
  });
  const never = new AbortController();
  return {
    offer(blocked) {
      void approvals
        .hold(
          {
            kind: 'pin',
            agent: 'gateway',
            session: 'pins',
            tool: blocked.exposed,
            args: { changes: blocked.changes ?? [] },
            argsDigest: blocked.digest ?? blocked.exposed,
            policyVersion: deps.policyVersion(),
            reasons: [blocked.reason],
          },
          { signal: never.signal },
        )
        .catch(() => undefined);
    },
    close() {
      stop();
      never.abort();
    },
  };
}
