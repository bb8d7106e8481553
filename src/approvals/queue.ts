/**
 * The approval queue: opens requests for held calls, lets reviewers and channels decide them,
 * expires them, and remembers what an approval covers (the identical call once, or a tool for
 * the rest of a session). Every transition is stored, audited and published to subscribers.
 */
import { randomBytes } from 'node:crypto';
import type { AuditLog } from '../audit/log.js';
import type { ApprovalsConfig } from '../config/index.js';
import { GatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import { ELICITATION_SCHEMA, elicitationMessage, readElicitAnswer } from './channels/elicit.js';
import { createLinkSigner, linkError } from './channels/links.js';
import { createWebhookSender, type WebhookRetry, type WebhookTarget } from './channels/webhook.js';
import { whyMayNotDecide } from './reviewers.js';
import { ApprovalStore, callKey, type StoreLimits } from './store.js';
import type { ApprovalDecision, ApprovalEvent, ApprovalRequest, ApprovalScope, ApprovalSubject, Approvals, CheckOutcome, Elicit, HoldOptions, HoldOutcome } from './types.js';
import { Waiters } from './wait.js';

export interface ApprovalsOptions {
  config: ApprovalsConfig;
  /** `gateway.state`; the store lives in `approvals.json` (+ journal) there. */
  stateDir: string;
  audit: AuditLog;
  log: Logger;
  /** Base of the links sent by webhooks (`gateway.publicUrl`, else the bound listener URL). */
  publicUrl?: string | (() => string | undefined);
  /** HS256 key for signed links, at least 32 bytes (see loadOrCreateLinkSecret). */
  linkSecret: Uint8Array;
  now?: () => number;
  fetch?: typeof fetch;
  /** How often a held call reports progress; default 10 s. */
  tickMs?: number;
  webhookRetry?: Partial<WebhookRetry>;
  /** Bounds: history and grants kept, and pending requests open at once (default 10,000). */
  limits?: Partial<StoreLimits> & { maxPending?: number };
}

const DEFAULT_TICK_MS = 10_000;
const DEFAULT_MAX_PENDING = 10_000;
const MAX_TEXT = 2_000;
/** setTimeout's ceiling; a longer expiry re-arms when it fires. */
const MAX_TIMER_MS = 2_147_483_647;

/** `apr_` + 128 random bits. */
export function newApprovalId(): string {
  return `apr_${randomBytes(16).toString('base64url')}`;
}

function cleanText(text: string | undefined): string | undefined {
  const trimmed = text?.trim();
  return trimmed ? trimmed.slice(0, MAX_TEXT) : undefined;
}

export async function createApprovals(opts: ApprovalsOptions): Promise<Approvals> {
  const now = opts.now ?? (() => Date.now());
  const { config, audit, log } = opts;
  const tickMs = opts.tickMs ?? DEFAULT_TICK_MS;
  const maxPending = opts.limits?.maxPending ?? DEFAULT_MAX_PENDING;
  const signer = createLinkSigner(opts.linkSecret, now);
  const store = ApprovalStore.open(opts.stateDir, { log, now, limits: opts.limits ?? {} });
  const targets: WebhookTarget[] = config.channels.flatMap((c) => ('webhook' in c ? [c.webhook] : []));
  const webhooks = createWebhookSender({ targets, log, fetch: opts.fetch ?? fetch, now, ...(opts.webhookRetry ? { retry: opts.webhookRetry } : {}) });
  const waiters = new Waiters();
  const listeners = new Set<(event: ApprovalEvent) => void>();
  const timers = new Map<string, NodeJS.Timeout>();
  const pendingIds = new Set<string>();
  const background = new Set<Promise<unknown>>();
  let closing: Promise<void> | undefined;

  const publicUrl = (): string | undefined => {
    const base = typeof opts.publicUrl === 'function' ? opts.publicUrl() : opts.publicUrl;
    return base?.replace(/\/+$/, '');
  };

  /** Takes the journal to the disk without waiting for it. */
  function syncSoon(): Promise<void> {
    const synced = store.sync().catch((error: unknown) => log.error({ err: error instanceof Error ? error.message : String(error) }, 'approval state could not be synced to disk'));
    track(synced);
    return synced;
  }

  function track(p: Promise<unknown>): void {
    background.add(p);
    void p.finally(() => background.delete(p));
  }

  function emit(type: ApprovalEvent['type'], request: ApprovalRequest): void {
    for (const listener of [...listeners]) {
      try {
        listener({ type, request });
      } catch (error) {
        log.warn({ err: error instanceof Error ? error.message : String(error) }, 'approval listener failed');
      }
    }
  }

  function baseAudit(request: ApprovalRequest) {
    const s = request.subject;
    return { agent: s.agent, session: s.session, tool: s.tool, ...(s.rule ? { rule: s.rule } : {}), kind: s.kind ?? 'call' };
  }

  // ---- expiry --------------------------------------------------------------------------------

  /** A pending request, or an approve-once still waiting for its call, has an expiry to enforce. */
  function hasDeadline(request: ApprovalRequest): boolean {
    return request.status === 'pending' || (request.status === 'approved' && request.decision?.scope !== 'session');
  }

  function schedule(request: ApprovalRequest): void {
    clearTimeout(timers.get(request.id));
    timers.delete(request.id);
    if (!hasDeadline(request) || closing) return;
    const timer = setTimeout(() => {
      timers.delete(request.id);
      const current = store.get(request.id);
      if (current) expireIfDue(current, true);
    }, Math.min(MAX_TIMER_MS, Math.max(0, request.expiresAt - now())));
    timer.unref();
    timers.set(request.id, timer);
  }

  /** The request as it stands now: expired first when its time has passed. */
  function expireIfDue(request: ApprovalRequest, rearm = false): ApprovalRequest {
    if (!hasDeadline(request)) return request;
    const t = now();
    if (t < request.expiresAt) {
      if (rearm) schedule(request);
      return request;
    }
    const wasPending = request.status === 'pending';
    const expired: ApprovalRequest = { ...request, status: 'expired', ...(wasPending ? { decidedAt: t } : {}) };
    store.put(expired);
    pendingIds.delete(request.id);
    clearTimeout(timers.get(request.id));
    timers.delete(request.id);
    audit.record({
      event: 'approval.expired',
      ...baseAudit(expired),
      approval: { id: expired.id, ...(expired.decision ? { by: expired.decision.by, scope: expired.decision.scope ?? 'once' } : {}) },
      // An approve-once whose call never came back lapses, too.
      outcome: wasPending ? 'expired' : 'approval-unused',
      durationMs: t - request.createdAt,
    });
    emit('expired', expired);
    waiters.wake(expired.id);
    return expired;
  }

  function current(id: string): ApprovalRequest | undefined {
    const request = store.get(id);
    return request ? expireIfDue(request) : undefined;
  }

  // ---- transitions ---------------------------------------------------------------------------

  function open(subject: ApprovalSubject): ApprovalRequest {
    for (const request of store.forKey(callKey(subject))) {
      const fresh = expireIfDue(request);
      if (fresh.status === 'pending') return fresh;
    }
    if (pendingIds.size >= maxPending) {
      throw new GatewayError('CONFLICT', `too many approval requests are open (${maxPending}); answer or let some expire before holding more calls`);
    }
    const t = now();
    const request: ApprovalRequest = { id: newApprovalId(), status: 'pending', subject: structuredClone(subject), createdAt: t, expiresAt: t + config.timeout };
    Object.freeze(request.subject);
    store.put(request);
    pendingIds.add(request.id);
    schedule(request);
    audit.record({
      event: 'approval.requested',
      ...baseAudit(request),
      args: request.subject.args,
      reasons: request.subject.reasons,
      ...(request.subject.taint === undefined ? {} : { taint: request.subject.taint }),
      ...(request.subject.provenance === undefined ? {} : { provenance: request.subject.provenance }),
      policyVersion: request.subject.policyVersion,
      approval: { id: request.id },
      expiresAt: new Date(request.expiresAt).toISOString(),
    });
    log.info({ approval: request.id, agent: subject.agent, tool: subject.tool }, 'approval requested');
    emit('requested', request);
    if (targets.length > 0) track(announce(request));
    return request;
  }

  async function announce(request: ApprovalRequest): Promise<void> {
    const base = publicUrl();
    if (!base) {
      log.warn({ approval: request.id }, 'webhook sent without approve/deny links: gateway.publicUrl is not known');
      webhooks.send(request, {});
      return;
    }
    const links = await signedLinks(request, base);
    webhooks.send(request, { ...links, page: `${base}/approvals` });
  }

  async function signedLinks(request: ApprovalRequest, base: string): Promise<{ approve: string; deny: string }> {
    const [approve, deny] = await Promise.all([signer.sign(request.id, 'approve', request.expiresAt), signer.sign(request.id, 'deny', request.expiresAt)]);
    return { approve: `${base}/a/${approve}`, deny: `${base}/a/${deny}` };
  }

  function settle(request: ApprovalRequest, approve: boolean, decision: ApprovalDecision): ApprovalRequest {
    const t = now();
    const scope: ApprovalScope | undefined = approve ? (request.subject.kind === 'pin' ? 'once' : (decision.scope ?? 'once')) : undefined;
    const note = cleanText(decision.note);
    const reason = cleanText(decision.reason);
    const next: ApprovalRequest = {
      ...request,
      status: approve ? 'approved' : 'denied',
      decidedAt: t,
      // From now on: how long the approval waits for its call, or how long the denial answers retries.
      expiresAt: t + config.timeout,
      decision: { by: decision.by, via: decision.via, ...(scope ? { scope } : {}), ...(note ? { note } : {}), ...(reason ? { reason } : {}) },
    };
    store.put(next);
    if (scope === 'session') {
      const s = next.subject;
      store.addGrant({ agent: s.agent, session: s.session, tool: s.tool, requestId: next.id, by: decision.by, at: t });
    }
    pendingIds.delete(next.id);
    schedule(next);
    audit.record({
      event: 'approval.decided',
      ...baseAudit(next),
      approval: { id: next.id, by: decision.by, ...(scope ? { scope } : {}) },
      outcome: approve ? 'approved' : 'denied',
      via: decision.via,
      ...(note ? { note } : {}),
      ...(reason ? { reason } : {}),
      durationMs: t - request.createdAt,
    });
    syncSoon();
    log.info({ approval: next.id, outcome: next.status, by: decision.by, via: decision.via }, 'approval decided');
    emit('decided', next);
    waiters.wake(next.id);
    return next;
  }

  function withdraw(request: ApprovalRequest): ApprovalRequest {
    const t = now();
    const next: ApprovalRequest = { ...request, status: 'withdrawn', decidedAt: t };
    store.put(next);
    pendingIds.delete(next.id);
    schedule(next);
    audit.record({ event: 'approval.decided', ...baseAudit(next), approval: { id: next.id, by: 'client' }, outcome: 'withdrawn', via: 'client-cancel', durationMs: t - request.createdAt });
    emit('withdrawn', next);
    waiters.wake(next.id);
    return next;
  }

  function check(subject: ApprovalSubject): CheckOutcome {
    const t = now();
    let approvedOnce: ApprovalRequest | undefined;
    for (const stored of store.forKey(callKey(subject))) {
      const request = expireIfDue(stored);
      // A denial of the identical call wins over any approval.
      if (request.status === 'denied' && t < request.expiresAt) return { status: 'denied', request };
      if (request.status === 'approved' && request.decision?.scope !== 'session') approvedOnce ??= request;
    }
    const grant = subject.kind === 'pin' ? undefined : store.findGrant(subject.agent, subject.session, subject.tool);
    const granted = grant ? store.get(grant.requestId) : undefined;
    if (granted) return { status: 'approved', request: granted };
    if (approvedOnce) {
      // Written before the call runs, so a crashed gateway cannot run it twice with one approval.
      const used: ApprovalRequest = { ...approvedOnce, status: 'used', usedAt: t };
      store.put(used);
      schedule(used);
      return { status: 'approved', request: used };
    }
    return { status: 'none' };
  }

  /**
   * Asks the human behind the client, in parallel with the other channels; the answer decides
   * whichever request the held call waits on by then. Not awaited by close(): a client may
   * never answer.
   */
  function askClient(elicit: Elicit, subject: ApprovalSubject, waitingOn: () => ApprovalRequest | undefined): void {
    void (async () => {
      try {
        const answer = await elicit(elicitationMessage(subject), ELICITATION_SCHEMA);
        const id = waitingOn()?.id;
        const target = id === undefined || closing ? undefined : current(id);
        if (target?.status !== 'pending') return;
        const { approve, reason } = readElicitAnswer(answer);
        settle(target, approve, { by: `elicitation:${subject.session}`, via: 'elicitation', ...(reason ? { reason } : {}) });
      } catch (error) {
        log.info({ approval: waitingOn()?.id, err: error instanceof Error ? error.message : String(error) }, 'elicitation did not answer; other channels stay open');
      }
    })();
  }

  function assertOpen(): void {
    if (closing) throw new GatewayError('INTERNAL', 'the approval queue is shutting down');
  }

  // ---- start: whatever expired while the gateway was down expires now ------------------------

  for (const request of [...store.values()]) {
    const fresh = expireIfDue(request);
    if (fresh.status === 'pending') pendingIds.add(fresh.id);
    schedule(fresh);
  }
  if (pendingIds.size > 0) log.info({ pending: pendingIds.size }, 'approval requests pending from before the restart');

  const approvals: Approvals = {
    check(subject) {
      assertOpen();
      const checked = check(subject);
      if (checked.status === 'approved' && checked.request.status === 'used') void syncSoon();
      return checked;
    },

    async hold(subject, holdOpts: HoldOptions): Promise<HoldOutcome> {
      assertOpen();
      const startedAt = now();
      const deadline = startedAt + config.wait;
      let waitingOn: ApprovalRequest | undefined;
      let asked = false;
      for (;;) {
        const checked = check(subject);
        if (checked.status === 'approved' && checked.request.status === 'used') await syncSoon(); // on the disk before the call runs
        if (checked.status !== 'none') return checked;
        const request = open(subject);
        waitingOn = request;
        if (holdOpts.elicit && !asked) {
          asked = true;
          askClient(holdOpts.elicit, subject, () => waitingOn);
        }
        const end = await waiters.wait(request.id, {
          timeoutMs: deadline - now(),
          signal: holdOpts.signal,
          tickMs,
          ...(holdOpts.onTick ? { onTick: () => holdOpts.onTick?.(now() - startedAt, current(request.id) ?? request) } : {}),
        });
        const latest = current(request.id) ?? request;
        if (end === 'aborted') {
          // Withdrawn only when no other held call waits for the same answer.
          const withdrawn = latest.status === 'pending' && waiters.count(latest.id) === 0 ? withdraw(latest) : latest;
          return { status: 'withdrawn', request: withdrawn };
        }
        switch (latest.status) {
          case 'pending':
            if (end === 'timeout' || closing) return { status: 'pending', request: latest };
            continue;
          case 'denied':
            return { status: 'denied', request: latest };
          case 'expired':
            return { status: 'expired', request: latest };
          default:
            // Approved: the next check consumes it (or finds the grant). Used by another held
            // duplicate, or withdrawn: this call needs its own request.
            if (closing) return { status: 'pending', request: latest };
            continue;
        }
      }
    },

    list(filter) {
      const out: ApprovalRequest[] = [];
      for (const stored of [...store.values()]) {
        const request = expireIfDue(stored);
        if (!filter?.status || request.status === filter.status) out.push(request);
      }
      // Stored in creation order: reversed first so requests created in the same millisecond stay newest first.
      return out.reverse().sort((a, b) => b.createdAt - a.createdAt);
    },

    get(id) {
      return current(id);
    },

    decide(id, d) {
      assertOpen();
      const request = current(id);
      if (!request) throw new GatewayError('NOT_FOUND', `no approval request ${id}`);
      if (request.status !== 'pending') throw new GatewayError('CONFLICT', `approval request ${id} is already ${request.status}`);
      const why = whyMayNotDecide(d.by, request.subject);
      if (why) {
        log.warn({ approval: id, principal: d.by.name }, 'approval decision refused');
        throw new GatewayError('FORBIDDEN', why);
      }
      return settle(request, d.approve, { by: d.by.name, via: d.via, ...(d.scope ? { scope: d.scope } : {}), ...(d.note ? { note: d.note } : {}), ...(d.reason ? { reason: d.reason } : {}) });
    },

    async links(id) {
      const request = current(id);
      if (!request) throw new GatewayError('NOT_FOUND', `no approval request ${id}`);
      if (request.status !== 'pending') throw new GatewayError('CONFLICT', `approval request ${id} is already ${request.status}`);
      return signedLinks(request, publicUrl() ?? '');
    },

    async inspectLink(token) {
      const claims = await signer.verify(token);
      const request = current(claims.requestId);
      if (!request) throw linkError('not-found', 'This approval request no longer exists.');
      const state = store.isLinkUsed(claims.jti) ? 'used' : request.status === 'pending' ? 'usable' : 'decided';
      return { decision: claims.decision, request, state };
    },

    async useLink(token, extra = {}) {
      assertOpen();
      const claims = await signer.verify(token);
      const request = current(claims.requestId);
      if (!request) throw linkError('not-found', 'This approval request no longer exists.');
      // No await from here on: checking and marking the link used is one step.
      if (store.isLinkUsed(claims.jti)) throw linkError('used', 'This approval link has already been used.');
      if (request.status !== 'pending') throw linkError('decided', `This request is already ${request.status}; the link can no longer decide it.`);
      store.useLink(claims.jti, claims.exp);
      const note = claims.decision === 'approve' ? extra.note : undefined;
      const reason = claims.decision === 'deny' ? extra.reason : undefined;
      const decided = settle(request, claims.decision === 'approve', { by: `signed-link:${claims.jti.slice(0, 8)}`, via: 'link', scope: 'once', ...(note ? { note } : {}), ...(reason ? { reason } : {}) });
      await syncSoon();
      return decided;
    },

    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },

    close() {
      closing ??= (async () => {
        for (const timer of timers.values()) clearTimeout(timer);
        timers.clear();
        try {
          waiters.releaseAll();
          await Promise.allSettled([...background]);
          await webhooks.close();
        } finally {
          listeners.clear();
          await store.close();
        }
      })();
      return closing;
    },
  };
  return approvals;
}
