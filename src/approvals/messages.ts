/**
 * What the client is told when a held call does not run (SPEC §6). The agent learns the request
 * id, the reviewer's reason and whether to retry — never who reviewed or what other agents may do.
 */
import type { ApprovalRequest, HoldOutcome } from './types.js';

/** The `isError` text for a call that was not approved; undefined for an approved one. */
export function holdOutcomeText(outcome: { status: HoldOutcome['status'] | 'none'; request?: ApprovalRequest }): string | undefined {
  const request = outcome.request;
  if (!request) return undefined;
  switch (outcome.status) {
    case 'approved':
    case 'none':
      return undefined;
    case 'pending':
      return (
        `Pending approval: this call needs a human's approval (request ${request.id}). ` +
        `Retry the same call with the same arguments after it has been approved; the request expires at ${new Date(request.expiresAt).toISOString()}.`
      );
    case 'denied': {
      const reason = request.decision?.reason;
      return `Denied by a reviewer (request ${request.id})${reason ? `: ${reason}` : '.'}${reason && /[.!?]$/.test(reason) ? '' : reason ? '.' : ''} Do not retry this call.`;
    }
    case 'expired':
      return `Approval request ${request.id} expired without a decision, so the call is denied. Do not retry this call.`;
    case 'withdrawn':
      return `Cancelled: approval request ${request.id} was withdrawn because the call was cancelled.`;
  }
}
