/**
 * The approval queue's vocabulary (SPEC §6): what a held call is bound to, the request a reviewer
 * answers, who may answer, and the service the pipeline and the routes talk to.
 */

/** What a held call is bound to. The identical call is the same agent, session, tool and argsDigest. */
export interface ApprovalSubject {
  agent: string;
  /** The agent profile's owner: may approve its requests. */
  owner?: string;
  session: string;
  /** The exposed tool name (`prefix__tool`). */
  tool: string;
  args: Record<string, unknown>;
  /** Canonical digest of `args` (audit/log.ts `argsDigest`). */
  argsDigest: string;
  policyVersion: string;
  /** Why the call needs a human: the rule's reasons, taint, provenance. */
  reasons: readonly string[];
  /** The deciding rule's path, e.g. `agents.default.rules[3]`. */
  rule?: string;
  taint?: unknown;
  provenance?: unknown;
  /** `pin`: a changed tool definition; only admins may decide. Default `call`. */
  kind?: 'call' | 'pin';
}

export type ApprovalScope = 'once' | 'session';

export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'expired' | 'withdrawn' | 'used';

export type ApprovalVia = 'api' | 'page' | 'cli' | 'link' | 'elicitation';

export interface ApprovalDecision {
  by: string;
  via: ApprovalVia;
  scope?: ApprovalScope;
  note?: string;
  reason?: string;
}

export interface ApprovalRequest {
  /** Unguessable: `apr_` + 128 random bits, base64url. */
  id: string;
  status: ApprovalStatus;
  subject: ApprovalSubject;
  createdAt: number;
  /**
   * Pending: when the request expires unanswered. Decided: until when the decision is in force
   * (an approve-once must be used by then; a denial answers identical retries until then).
   */
  expiresAt: number;
  decidedAt?: number;
  /** When an approve-once was consumed by the call it allowed. */
  usedAt?: number;
  decision?: ApprovalDecision;
}

/** Someone asking to decide: a reviewer on the API, page or CLI. */
export interface Principal {
  name: string;
  /** `reviewer` and/or `admin`. */
  roles: string[];
  /** Set when the principal is an agent identity (the agent profile it names). */
  isAgent?: string;
}

export type ApprovalEventType = 'requested' | 'decided' | 'expired' | 'withdrawn';

export interface ApprovalEvent {
  type: ApprovalEventType;
  request: ApprovalRequest;
}

export type CheckOutcome = { status: 'approved'; request: ApprovalRequest } | { status: 'denied'; request: ApprovalRequest } | { status: 'none' };

export interface ElicitAnswer {
  action: 'accept' | 'decline' | 'cancel';
  content?: Record<string, unknown>;
}

export type Elicit = (message: string, requestedSchema: Record<string, unknown>) => Promise<ElicitAnswer>;

export interface HoldOptions {
  /** Aborted when the client cancels its call: withdraws the request if nobody else waits on it. */
  signal: AbortSignal;
  /** Called about every 10 s while waiting (the pipeline sends progress notifications). */
  onTick?: (elapsedMs: number, request: ApprovalRequest) => void;
  /** Asks the human behind the client (opt-in elicitation channel), in parallel with the others. */
  elicit?: Elicit;
}

export interface HoldOutcome {
  status: 'approved' | 'denied' | 'expired' | 'pending' | 'withdrawn';
  request: ApprovalRequest;
}

export interface DecideInput {
  approve: boolean;
  by: Principal;
  via: Exclude<ApprovalVia, 'link' | 'elicitation'>;
  scope?: ApprovalScope;
  note?: string;
  reason?: string;
}

/** What a signed link says, once verified; `state` says whether it can still be used. */
export interface LinkView {
  decision: 'approve' | 'deny';
  request: ApprovalRequest;
  state: 'usable' | 'used' | 'decided';
}

export interface Approvals {
  /**
   * Before holding: an approval that already covers this identical call (an approved-once
   * request not yet used, which this consumes; or a session-scope grant for this agent, session
   * and tool), or a denial of the identical call still in force. A denial wins over a grant.
   */
  check(subject: ApprovalSubject): CheckOutcome;
  /**
   * Opens a request (or joins the open one for the identical call) and waits up to
   * `approvals.wait` for a decision. Approved once → consumed by this call.
   */
  hold(subject: ApprovalSubject, opts: HoldOptions): Promise<HoldOutcome>;
  /** Newest first. */
  list(filter?: { status?: ApprovalStatus }): ApprovalRequest[];
  get(id: string): ApprovalRequest | undefined;
  /**
   * A reviewer decides. Throws GatewayError FORBIDDEN when `by` may not decide (the agent
   * itself never may; pin requests need admin), NOT_FOUND, CONFLICT when already decided.
   */
  decide(id: string, d: DecideInput): ApprovalRequest;
  /** Signed approve/deny link URLs for a pending request (also sent by webhooks). */
  links(id: string): Promise<{ approve: string; deny: string }>;
  /** Verifies a link token without using it (the confirmation page). Throws GatewayError. */
  inspectLink(token: string): Promise<LinkView>;
  /** Verifies a link token and decides with it, once. Throws GatewayError. */
  useLink(token: string, extra?: { note?: string; reason?: string }): Promise<ApprovalRequest>;
  subscribe(listener: (event: ApprovalEvent) => void): () => void;
  /** Settles outstanding webhook deliveries, writes the state file, stops timers. Idempotent. */
  close(): Promise<void>;
}
