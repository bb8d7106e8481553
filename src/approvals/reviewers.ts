/**
 * Who may decide a request (SPEC §6): the agent's owner, reviewers and admins; admins only for
 * pin changes; never the agent's own identity. Signed links and the elicitation channel are
 * their own authority and do not pass through here.
 */
import type { ApprovalSubject, Principal } from './types.js';

export const REVIEWER_ROLE = 'reviewer';
export const ADMIN_ROLE = 'admin';

/** Undefined when `principal` may decide a request about `subject`, else why not. */
export function whyMayNotDecide(principal: Principal, subject: ApprovalSubject): string | undefined {
  // The agent's own identity first: no role it carries can let it approve its own call.
  if (principal.isAgent !== undefined && principal.isAgent === subject.agent) return `${principal.name} is the agent that made this request and cannot decide it`;
  if (principal.isAgent === undefined && principal.name === subject.agent) return `${principal.name} is the agent that made this request and cannot decide it`;
  const roles = new Set(principal.roles);
  if (subject.kind === 'pin') return roles.has(ADMIN_ROLE) ? undefined : 'tool-definition (pin) changes need an admin';
  if (roles.has(ADMIN_ROLE) || roles.has(REVIEWER_ROLE)) return undefined;
  if (subject.owner !== undefined && principal.name === subject.owner) return undefined;
  return `${principal.name} is neither the agent's owner nor a reviewer`;
}

/** Whether `principal` may see a request: reviewers and admins see all, an owner their agents'. */
export function mayView(principal: Principal, subject: ApprovalSubject): boolean {
  if (principal.roles.includes(REVIEWER_ROLE) || principal.roles.includes(ADMIN_ROLE)) return true;
  return subject.owner !== undefined && principal.name === subject.owner && principal.isAgent !== subject.agent;
}
