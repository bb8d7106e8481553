/**
 * A request as the outside sees it (REST API, stream, webhooks): flat, with ISO times. The
 * field list is documented at the top of routes.ts.
 */
import type { ApprovalRequest } from './types.js';

export function approvalView(request: ApprovalRequest): Record<string, unknown> {
  const s = request.subject;
  return {
    id: request.id,
    status: request.status,
    kind: s.kind ?? 'call',
    agent: s.agent,
    ...(s.owner ? { owner: s.owner } : {}),
    session: s.session,
    tool: s.tool,
    args: s.args,
    argsDigest: s.argsDigest,
    policyVersion: s.policyVersion,
    reasons: s.reasons,
    ...(s.rule ? { rule: s.rule } : {}),
    ...(s.taint === undefined ? {} : { taint: s.taint }),
    ...(s.provenance === undefined ? {} : { provenance: s.provenance }),
    createdAt: iso(request.createdAt),
    expiresAt: iso(request.expiresAt),
    ...(request.decidedAt === undefined ? {} : { decidedAt: iso(request.decidedAt) }),
    ...(request.usedAt === undefined ? {} : { usedAt: iso(request.usedAt) }),
    ...(request.decision ? { decision: request.decision } : {}),
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
