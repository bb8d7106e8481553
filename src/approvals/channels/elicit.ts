/**
 * Elicitation channel (opt-in): the question put to the human behind the calling client, and
 * how their answer reads as a decision. Only `accept` with `decision: approve` approves.
 */
import type { ApprovalSubject, ElicitAnswer } from '../types.js';

export const ELICITATION_SCHEMA: Record<string, unknown> = Object.freeze({
  type: 'object',
  properties: {
    decision: { type: 'string', enum: ['approve', 'deny'], title: 'Decision' },
    reason: { type: 'string', title: 'Reason (optional)' },
  },
  required: ['decision'],
});

const MAX_ARGS_CHARS = 300;

export function argsSummary(args: Record<string, unknown>, max = MAX_ARGS_CHARS): string {
  const text = JSON.stringify(args) ?? '{}';
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export function elicitationMessage(subject: ApprovalSubject): string {
  const reasons = subject.reasons.length ? subject.reasons.join('; ') : 'approval required by policy';
  return `Portcullis: ${subject.agent} wants to call ${subject.tool} with ${argsSummary(subject.args)}. Reasons: ${reasons}`;
}

/** The decision an elicitation answer stands for. */
export function readElicitAnswer(answer: ElicitAnswer): { approve: boolean; reason?: string } {
  const reason = typeof answer.content?.reason === 'string' && answer.content.reason.trim() ? answer.content.reason.trim().slice(0, 2_000) : undefined;
  if (answer.action === 'accept' && answer.content?.decision === 'approve') return { approve: true, ...(reason ? { reason } : {}) };
  if (answer.action === 'accept') return { approve: false, reason: reason ?? 'denied in the client' };
  return { approve: false, reason: answer.action === 'decline' ? 'declined in the client' : 'cancelled in the client' };
}
