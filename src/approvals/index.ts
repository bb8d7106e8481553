/** The approvals module's public surface: the queue, its routes, and the pieces channels share. */
export { createApprovals, newApprovalId } from './queue.js';
export type { ApprovalsOptions } from './queue.js';
export { createApprovalRoutes } from './routes.js';
export type { ApprovalRoutesDeps } from './routes.js';
export { holdOutcomeText } from './messages.js';
export { approvalView } from './view.js';
export { whyMayNotDecide, mayView, REVIEWER_ROLE, ADMIN_ROLE } from './reviewers.js';
export { loadOrCreateLinkSecret, MIN_LINK_SECRET_BYTES } from './channels/links.js';
export { signWebhook, SIGNATURE_HEADER, TIMESTAMP_HEADER } from './channels/webhook.js';
export type { WebhookRetry } from './channels/webhook.js';
export { ELICITATION_SCHEMA, elicitationMessage } from './channels/elicit.js';
export type {
  ApprovalDecision,
  ApprovalEvent,
  ApprovalEventType,
  ApprovalRequest,
  ApprovalScope,
  ApprovalStatus,
  ApprovalSubject,
  ApprovalVia,
  Approvals,
  CheckOutcome,
  DecideInput,
  Elicit,
  ElicitAnswer,
  HoldOptions,
  HoldOutcome,
  LinkView,
  Principal,
} from './types.js';
