/**
 * `GET /api/calls` (audit query) and `POST /api/calls/:id/undo`. Both are mounted behind
 * reviewer authentication; the undo route also behind the CSRF guard.
 */
import type { Handler } from 'hono';
import { GatewayError } from '../errors.js';
import { compileGlob } from '../policy/index.js';
import { DEFAULT_QUERY_LIMIT, MAX_QUERY_LIMIT, parseSince, queryAudit, type AuditQuery } from '../audit/query.js';
import type { UndoService } from '../audit/undo.js';
import type { ReviewerEnv } from './auth.js';
import { errorResponse } from './error-response.js';

/**
 * `GET /api/calls?since=&until=&agent=&tool=&decision=&event=&callId=&limit=` → `{ events }`,
 * newest last. `since`/`until`: a duration back from now (`1h`), an ISO time or epoch ms.
 */
export function auditQueryHandler(file: string, options: { now?: () => number } = {}): Handler {
  const now = options.now ?? Date.now;
  return async function auditQueryRoute(c) {
    try {
      const query: AuditQuery = {};
      for (const key of ['since', 'until'] as const) {
        const raw = c.req.query(key);
        if (raw === undefined || raw === '') continue;
        const at = parseSince(raw, now());
        if (at === undefined) throw new GatewayError('INVALID_PARAMS', `bad ${key} ${JSON.stringify(raw)}: write a duration (15m, 2d), an ISO time or epoch milliseconds`);
        query[key] = at;
      }
      for (const key of ['agent', 'tool', 'decision', 'event', 'callId'] as const) {
        const raw = c.req.query(key);
        if (raw !== undefined && raw !== '') query[key] = raw;
      }
      const limit = c.req.query('limit');
      if (limit !== undefined && limit !== '') {
        const n = Number(limit);
        if (!Number.isInteger(n) || n < 1 || n > MAX_QUERY_LIMIT) throw new GatewayError('INVALID_PARAMS', `bad limit ${JSON.stringify(limit)}: an integer from 1 to ${MAX_QUERY_LIMIT}`);
        query.limit = n;
      } else {
        query.limit = DEFAULT_QUERY_LIMIT;
      }
      if (query.tool !== undefined) {
        try {
          compileGlob(query.tool);
        } catch (error) {
          throw new GatewayError('INVALID_PARAMS', `bad tool pattern: ${(error as Error).message}`);
        }
      }
      return c.json({ events: await queryAudit(file, query) });
    } catch (error) {
      return errorResponse(error);
    }
  };
}

/** `POST /api/calls/:id/undo` → `{ callId, tool, result }`; needs `c.var.principal` (requireReviewer). */
export function undoHandler(service: UndoService): Handler<ReviewerEnv> {
  return async function undoRoute(c) {
    try {
      const principal = c.get('principal');
      if (!principal) throw new GatewayError('UNAUTHENTICATED', 'no reviewer identity on this request');
      const outcome = await service.undo(c.req.param('id') ?? '', principal);
      return c.json({ callId: outcome.callId, tool: outcome.tool, outcome: 'ok', result: outcome.result });
    } catch (error) {
      return errorResponse(error);
    }
  };
}

/**
 * `GET /api/undo`: calls that declared an undo, newest first — all of them for reviewers and
 * admins, an owner's own agents' otherwise. The approvals page lists them with an Undo button.
 */
export function undoListHandler(service: UndoService): Handler<ReviewerEnv> {
  return function undoListRoute(c) {
    const principal = c.get('principal');
    const sees = (owner: string | undefined) => principal.roles.includes('admin') || principal.roles.includes('reviewer') || owner === principal.name;
    const calls = service.store
      .list()
      .filter((e) => sees(e.owner))
      .reverse()
      .slice(0, 200)
      .map((e) => ({ callId: e.callId, agent: e.agent, tool: e.tool, undoTool: e.undo.tool, createdAt: e.createdAt, ...(e.done ? { done: e.done } : {}) }));
    return c.json({ calls });
  };
}
