/**
 * The spine: every client request goes identity → session → policy → upstream → result
 * post-processing → audit, in that order. It holds no rules of its own; the policy decides,
 * this file orders the stages and turns their answers into MCP results.
 */
import { randomInt, randomUUID } from 'node:crypto';
import {
  LOG_LEVEL_META_KEY,
  type CallToolResult,
  type CompleteRequest,
  type CompleteResult,
  type GetPromptResult,
  type InputRequiredResult,
  type ListPromptsResult,
  type ListResourcesResult,
  type ListResourceTemplatesResult,
  type ListToolsResult,
  type ReadResourceResult,
  type Tool,
} from '@modelcontextprotocol/server';
import { GatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import { evaluate, formatDenial, isListed, isTemplateListed, lockdownFor, type CompiledPolicy, type Decision, type PolicyInput, type ToolFacts, type LockdownState, type UsageCounter } from '../policy/index.js';
import { argsDigest, type AuditLog } from '../audit/log.js';
import { Continuations, ParkedCall } from './continuations.js';
import { RELAYED, capResultSize, denial, explainRefusal, isInputRequired, isProtocolError, relayInputRequired, stripProgressToken, supports, toolFacts } from './results.js';
import { holdOutcomeText, type ApprovalSubject, type Approvals, type ElicitAnswer, type HoldOutcome } from '../approvals/index.js';
import {
  createProvenanceIndex,
  escalate,
  labelPrompt,
  labelReadResource,
  labelResult,
  MAX_JSON_DEPTH,
  nestsDeeperThan,
  recordTaint,
  removeTaintLabel,
  stripHiddenDeep,
  type CompiledTaint,
  type LabelContext,
  type LabelOutcome,
  type ProvenanceIndex,
} from '../taint/index.js';
import type { Session } from './session.js';
import type { ToolRoute, UpstreamRegistry } from './upstream/registry.js';
import { errorText, type ClientRequestMethod, type Upstream } from './upstream/connection.js';

/** Why a call stops when its client cancels it. */
export const CLIENT_CANCELLED = 'cancelled by the client';

/** What the front knows about the request being served. */
export interface Caller {
  session: Session;
  /**
   * Aborted when the client cancels the request (or goes away), with a reason the gateway words
   * ({@link CLIENT_CANCELLED}): the client's own text (a timeout, say) must not reach the
   * upstream or decide the audited outcome. See `ownSignal`.
   */
  signal: AbortSignal;
  /** Forwards a progress notification to the client, when it asked for progress. */
  progress?: (progress: { progress: number; total?: number; message?: string }) => Promise<void>;
  /** Sends a notification related to this request (log messages the upstream emits during it). */
  notify?: (method: string, params: Record<string, unknown>) => void;
  /** Asks the client behind this request something (sampling, elicitation, roots). */
  ask?: (method: ClientRequestMethod, params: Record<string, unknown>, signal: AbortSignal) => Promise<Record<string, unknown>>;
  /** The log level the client wants for this request (2026-07-28 envelope, or the session's setLevel). */
  logLevel?: string;
  /** A 2026-07-28 retry carrying answers to an earlier input_required round. */
  inputResponses?: Record<string, unknown>;
  requestState?: string;
}

/** What the pipeline reports besides the audit log: metrics, and calls that can be undone. */
export interface PipelineObservers {
  onCallCompleted?(call: { agent: string; tool: string; decision: string; outcome: string; seconds: number }): void;
  onTaint?(kind: 'tainted' | 'suspicious' | 'provenance' | 'hidden-characters'): void;
  /** A call whose deciding rule declares an undo succeeded. */
  onUndoable?(call: { callId: string; agent: string; owner: string | undefined; session: string; tool: string; args: Record<string, unknown> | undefined; result: CallToolResult; undo: { tool: string; args: Record<string, unknown> } }): void;
}

export interface PipelineOptions {
  registry: UpstreamRegistry;
  log: Logger;
  audit: AuditLog;
  observers?: PipelineObservers;
  /** Where `ask` decisions wait for a human; without it, asking means denying. */
  approvals?: Approvals;
  /** Whether the opt-in elicitation channel is configured (approvals.channels: [{ elicit: {} }]). */
  elicitApprovals?: boolean;
  callTimeoutMs: number;
  maxResultBytes: number;
  redact: <T>(value: T) => T;
  now?: () => number;
}

/** Runtime state the policy reads besides the compiled rules. */
export interface PolicyRuntime {
  policy: CompiledPolicy;
  taint: CompiledTaint;
  lockdown: LockdownState;
  usage: UsageCounter;
}

/** One tool call on its way through the pipeline. */
interface CallContext {
  callId: string;
  session: Session;
  route: ToolRoute;
  args: Record<string, unknown> | undefined;
  argsDigest: string;
  meta: Record<string, unknown> | undefined;
  decision: Decision & { escalatedBy?: string };
  /** How many of the decision's reasons are the policy's (the rest are taint's). */
  policyReasons: number;
  /** Its entry among the calls in flight. */
  entry?: InFlight;
  /** The taint label its result got, for the audit log. */
  label: Record<string, unknown> | undefined;
  /** The approval it ran under, for the audit log. */
  approval?: { id: string; by?: string; scope?: string };
  /** Set when the call was refused after the decision (approval denied): already audited. */
  denied?: boolean;
  completed: (outcome: string, extra?: Record<string, unknown>) => void;
}

type InFlight = {
  caller: Caller;
  /** Set once the call reaches its upstream. */
  upstream: Upstream | undefined;
  startedAt: number;
  parked?: ParkedCall<unknown>;
  /** The last progress notification sent to the client, and when. */
  lastProgress?: { sent: Promise<void>; at: number };
};


/** How long a result waits behind a progress notification sent just before it (see drive). */
const PROGRESS_GAP_MS = 15;

export class Pipeline {
  private readonly registry: UpstreamRegistry;
  private readonly log: Logger;
  private readonly audit: AuditLog;
  private readonly opts: PipelineOptions;
  private readonly now: () => number;
  /** Calls waiting on an upstream, newest last: server→client requests are routed to them. */
  private readonly inFlight = new Set<InFlight>();
  private readonly continuations: Continuations;
  runtime: PolicyRuntime;

  constructor(runtime: PolicyRuntime, opts: PipelineOptions) {
    this.continuations = new Continuations(opts.callTimeoutMs);
    this.runtime = runtime;
    this.registry = opts.registry;
    this.log = opts.log;
    this.audit = opts.audit;
    this.opts = opts;
    this.now = opts.now ?? Date.now;
  }

  private decide(input: PolicyInput): Decision {
    const { policy, lockdown, usage } = this.runtime;
    try {
      return evaluate(policy, input, { now: this.now(), lockdown, usage });
    } catch (error) {
      // An error while deciding is a denial, never an allow.
      return { effect: 'deny', reasons: [`policy evaluation failed: ${errorText(error)}`] };
    }
  }

  private listed(input: Omit<PolicyInput, 'args'>): boolean {
    const { policy, lockdown } = this.runtime;
    try {
      return isListed(policy, input, { lockdown });
    } catch {
      return false;
    }
  }

  private base(session: Session): { agent: string; claims?: Readonly<Record<string, unknown>> } {
    return { agent: session.agent, ...(session.claims ? { claims: session.claims } : {}) };
  }

  // ---- tools -------------------------------------------------------------------------------

  listTools(caller: Caller): ListToolsResult {
    const tools: Tool[] = [];
    for (const route of this.registry.tools()) {
      if (!this.listed({ ...this.base(caller.session), kind: 'tool', name: route.exposed, tool: toolFacts(route) })) continue;
      tools.push({ ...route.tool, name: route.exposed });
    }
    return { tools };
  }

  async callTool(caller: Caller, name: string, args: Record<string, unknown> | undefined, meta?: Record<string, unknown>): Promise<CallToolResult | InputRequiredResult> {
    const callId = `c-${randomUUID()}`;
    const session = caller.session;
    // Before anything walks them recursively (the digest, the audit line, the policy, the upstream
    // request): values this deep could only exhaust the stack, and are refused, with the refusal audited.
    if (nestsDeeperThan(args, MAX_JSON_DEPTH) || nestsDeeperThan(meta, MAX_JSON_DEPTH)) {
      const reason = `arguments or _meta nest deeper than ${MAX_JSON_DEPTH} levels`;
      this.audit.record({ event: 'call.decided', callId, agent: session.agent, session: session.id, tool: name, decision: 'deny', reasons: [reason] });
      return denial(`Denied: the call's ${reason}. Do not retry.`);
    }
    // Digested once: the audit lines and the approval/continuation bindings all use it.
    const digest = argsDigest(args ?? {});
    const audit = { callId, agent: session.agent, session: session.id, tool: name, argsDigest: digest };
    const startedAt = this.now();

    const blocked = this.registry.blockedTool(name);
    if (blocked) {
      this.audit.record({ event: 'call.decided', ...audit, args: args ?? {}, decision: 'deny', reasons: [blocked.reason] });
      return denial(`Denied: ${blocked.reason}`);
    }
    const route = this.registry.findTool(name) ?? this.registry.findUnlistedTool(name);
    const facts = route ? toolFacts(route) : { annotationsTrusted: false };
    const policyDecision = this.decide({ ...this.base(session), kind: 'tool', name, ...(args ? { args } : {}), tool: facts });
    const decision = this.escalate(session, name, facts, args, policyDecision);
    this.audit.record({
      event: 'call.decided',
      ...audit,
      args: args ?? {},
      decision: decision.effect,
      rule: decision.rule?.path,
      reasons: decision.reasons,
      ...(decision.escalatedBy ? { escalatedBy: decision.escalatedBy } : {}),
      ...(session.taint.tainted ? { taint: { suspicious: session.taint.suspicious, sources: session.taint.sources } } : {}),
    });
    const completed = (outcome: string, extra: Record<string, unknown> = {}) => {
      const durationMs = this.now() - startedAt;
      this.audit.record({ event: 'call.completed', ...audit, decision: decision.effect, rule: decision.rule?.path, outcome, durationMs, ...extra });
      this.opts.observers?.onCallCompleted?.({ agent: session.agent, tool: name, decision: decision.effect, outcome, seconds: durationMs / 1000 });
    };
    if (decision.escalatedBy) this.opts.observers?.onTaint?.(decision.escalatedBy === 'hidden-args' ? 'hidden-characters' : decision.escalatedBy === 'provenance' ? 'provenance' : decision.escalatedBy === 'suspicious' ? 'suspicious' : 'tainted');

    if (!route) {
      // Unknown (or its upstream is down): a JSON-RPC error, distinct from a denial, and still audited.
      const error = this.unknownOrUnavailable(name);
      completed(error.code);
      throw error;
    }
    // A retry must come from the same session, for the same tool and arguments.
    const binding = `${session.id}\n${name}\n${digest}`;
    const resumed = Continuations.isToken(caller.requestState) ? this.continuations.resume(caller.requestState, binding) : undefined;
    if (Continuations.isToken(caller.requestState) && !resumed) {
      throw new GatewayError('INVALID_PARAMS', 'unknown or expired requestState for this call: call the tool again without it');
    }
    if (decision.effect === 'deny') {
      resumed?.abort('denied by policy');
      completed('denied');
      return denial(explainRefusal(decision, policyDecision.reasons.length));
    }
    const call: CallContext = { callId, session, route, args, argsDigest: digest, meta, decision, policyReasons: policyDecision.reasons.length, label: undefined, completed };
    if (resumed) {
      // The client answers what an earlier round asked: the parked run goes on from there.
      resumed.answer(caller.inputResponses);
      return this.drive(caller, call, resumed as ParkedCall<CallToolResult | InputRequiredResult>, binding);
    }
    // A client that can be asked mid-call (2025-era) is asked directly, never by parking the call:
    // it runs on the client's own signal.
    const run = caller.ask ? undefined : new ParkedCall<CallToolResult | InputRequiredResult>();
    this.inFlight.add((call.entry = { caller, upstream: undefined, startedAt, ...(run ? { parked: run as ParkedCall<unknown> } : {}) }));
    run?.start((signal) => this.execute(call, signal));
    return this.drive(caller, call, run, binding);
  }

  /**
   * Everything after the decision: the approval hold for `ask`, then the upstream call. Runs
   * inside a ParkedCall, so a 2026-era client can be asked things in between (see drive).
   */
  private async execute(call: CallContext, signal: AbortSignal): Promise<CallToolResult | InputRequiredResult> {
    if (call.decision.effect === 'ask') {
      const refusal = await this.approve(call, signal);
      if (refusal) return refusal;
    }
    if (call.decision.limitKeys?.length) this.runtime.usage.record(call.decision.limitKeys, this.now());
    const upstream = await this.registry.forSession(call.route.upstream, call.session.id);
    const raw = await this.upstreamCall(call, upstream, signal);
    if (isInputRequired(raw)) return relayInputRequired(raw);
    // SDK clients handle a response at once but a notification a turn later, and drop progress
    // for a finished request: let the last progress reach the client before the result.
    const last = call.entry?.lastProgress;
    if (last) {
      await last.sent;
      const since = this.now() - last.at;
      if (since < PROGRESS_GAP_MS) await new Promise((resolve) => setTimeout(resolve, PROGRESS_GAP_MS - since));
    }
    return this.finishResult(raw, call);
  }

  /**
   * An `ask` decision: the call waits for a human (approval page, API, CLI, signed link, or the
   * client's own user by elicitation). Returns the result to answer instead of running the call,
   * or undefined when it was approved and may run.
   */
  private async approve(call: CallContext, signal: AbortSignal): Promise<CallToolResult | undefined> {
    const approvals = this.opts.approvals;
    const refuse = (outcome: string, text: string, extra: Record<string, unknown> = {}) => {
      call.denied = true;
      call.completed(outcome, extra);
      return denial(text);
    };
    if (!approvals) {
      return refuse('denied', `${explainRefusal(call.decision, call.policyReasons)} This call requires approval; no approval channel is configured, so it is denied. Do not retry.`);
    }
    const { session, route } = call;
    const subject: ApprovalSubject = {
      agent: session.agent,
      ...(this.ownerOf(session.agent) ? { owner: this.ownerOf(session.agent)! } : {}),
      session: session.id,
      tool: route.exposed,
      args: call.args ?? {},
      argsDigest: call.argsDigest,
      policyVersion: this.runtime.policy.version,
      reasons: call.decision.reasons,
      ...(call.decision.rule ? { rule: call.decision.rule.path } : {}),
      ...(session.taint.tainted ? { taint: session.taint } : {}),
    };
    const elicit =
      this.opts.elicitApprovals && supports(session, 'elicitation/create')
        ? (message: string, requestedSchema: Record<string, unknown>) => this.askClient(call, 'elicitation/create', { mode: 'form', message, requestedSchema }, signal) as unknown as Promise<ElicitAnswer>
        : undefined;
    let outcome: HoldOutcome;
    try {
      outcome = await approvals.hold(subject, {
        signal,
        onTick: (ms, request) => void call.entry?.caller.progress?.({ progress: Math.floor(ms / 1000), message: `waiting for approval ${request.id}` }),
        ...(elicit ? { elicit } : {}),
      });
    } catch (error) {
      if (error instanceof GatewayError && error.code === 'CONFLICT') return refuse('approval-unavailable', `${error.message} The call is denied; retry later.`);
      throw error;
    }
    const request = outcome.request;
    if (outcome.status === 'approved') {
      call.approval = { id: request.id, ...(request.decision?.by ? { by: request.decision.by } : {}), ...(request.decision?.scope ? { scope: request.decision.scope } : {}) };
      return undefined;
    }
    // Say why it needed a human as well as what became of the request.
    const why = explainRefusal(call.decision, call.policyReasons).replace(/^Denied by (taint )?policy/, 'Needs approval under the $1policy');
    return refuse(`approval-${outcome.status}`, `${why} ${holdOutcomeText(outcome) ?? 'No approval was given.'}`, { approval: { id: request.id } });
  }

  private ownerOf(agent: string): string | undefined {
    return this.runtime.policy.agents.get(agent)?.owner;
  }

  /** Asks the client behind a call: pushed to a 2025-era client, via input_required to a 2026-era one. */
  private askClient(call: CallContext, method: ClientRequestMethod, params: Record<string, unknown>, signal: AbortSignal): Promise<Record<string, unknown>> {
    const entry = call.entry;
    if (entry?.caller.ask) return entry.caller.ask(method, params, signal);
    if (entry?.parked) return entry.parked.ask(method, params);
    return Promise.reject(new GatewayError('METHOD_NOT_FOUND', `the client cannot be asked ${method}`));
  }

  /**
   * Runs (or resumes) a call until it has a result, or parks it when the client must be asked
   * something first. Without a parked run, the call runs here to its end.
   */
  private async drive(caller: Caller, call: CallContext, run: ParkedCall<CallToolResult | InputRequiredResult> | undefined, binding: string): Promise<CallToolResult | InputRequiredResult> {
    const entry = call.entry ?? (run ? [...this.inFlight].find((f) => f.parked === run) : undefined);
    if (entry) {
      entry.caller = caller;
      call.entry = entry;
    }
    const onAbort = run && (() => run.abort(CLIENT_CANCELLED));
    if (onAbort) {
      caller.signal.addEventListener('abort', onAbort, { once: true });
      if (caller.signal.aborted) onAbort();
    }
    let suspended = false;
    try {
      const step = run ? await run.next() : { done: true as const, value: await this.execute(call, caller.signal) };
      if (!step.done) {
        suspended = true;
        return this.continuations.park(run as ParkedCall<unknown>, binding, step.questions);
      }
      const result = step.value;
      if (!call.denied) {
        const outcome = isInputRequired(result) ? 'input-required' : result.isError ? 'tool-error' : 'ok';
        call.completed(outcome, { ...(call.label ? { taint: call.label } : {}), ...(call.approval ? { approval: call.approval } : {}) });
        const undo = call.decision.undo;
        if (outcome === 'ok' && undo) {
          const owner = this.runtime.policy.agents.get(call.session.agent)?.owner;
          this.opts.observers?.onUndoable?.({ callId: call.callId, agent: call.session.agent, owner, session: call.session.id, tool: call.route.exposed, args: call.args, result: result as CallToolResult, undo });
        }
      }
      return result;
    } catch (error) {
      const gatewayError = this.upstreamFailure(call.route.upstream, error);
      call.completed(gatewayError.code);
      throw gatewayError;
    } finally {
      if (onAbort) caller.signal.removeEventListener('abort', onAbort);
      if (!suspended && entry) this.inFlight.delete(entry);
    }
  }

  /**
   * Runs the compensating call of an undo. A human (the owner or an admin) asked for it, so the
   * agent's rules do not apply, but a deny-all lockdown still does; it is audited as rule `undo`.
   */
  async runCompensatingCall(agent: string, tool: string, args: Record<string, unknown>): Promise<CallToolResult> {
    const callId = `u-${randomUUID()}`;
    const startedAt = this.now();
    const base = { callId, agent, tool, args, rule: 'undo' };
    const lock = lockdownFor(this.runtime.lockdown, agent);
    if (lock?.mode === 'deny-all') {
      this.audit.record({ event: 'call.decided', ...base, decision: 'deny', reasons: [`agent ${agent} is locked down`] });
      throw new GatewayError('DENIED', `agent ${agent} is locked down (deny-all): the undo was not run`);
    }
    this.audit.record({ event: 'call.decided', ...base, decision: 'allow', reasons: ['compensating call requested by a reviewer'] });
    const route = this.registry.findTool(tool);
    if (!route) throw this.unknownOrUnavailable(tool);
    try {
      const client = route.upstream.requireClient();
      const raw = (await client.request({ method: 'tools/call', params: { name: route.tool.name, arguments: args } } as never, { timeout: this.opts.callTimeoutMs })) as unknown as CallToolResult;
      const result = capResultSize(removeTaintLabel(this.opts.redact(raw)), this.opts.maxResultBytes);
      this.audit.record({ event: 'call.completed', ...base, decision: 'allow', outcome: result.isError ? 'tool-error' : 'ok', durationMs: this.now() - startedAt });
      return result;
    } catch (error) {
      const failure = this.upstreamFailure(route.upstream, error);
      this.audit.record({ event: 'call.completed', ...base, decision: 'allow', outcome: failure.code, durationMs: this.now() - startedAt });
      throw failure;
    }
  }

  /**
   * The session's taint applied to the policy's decision: hidden characters in the arguments,
   * a tainted or suspicious session calling a sink, arguments copied from tainted content.
   * Only ever stricter than the policy.
   */
  private escalate(session: Session, name: string, facts: ToolFacts, args: Record<string, unknown> | undefined, decision: Decision): Decision & { escalatedBy?: string } {
    const taint = this.runtime.taint;
    const argsHidden = args ? stripHiddenDeep(args, { keys: false }).removed : 0;
    const provenance = session.taint.tainted && args ? this.provenanceOf(session).match(args, { minCopiedChars: taint.minCopiedChars }) : [];
    // What the client sent before any outside content arrived is its own, never "copied" later.
    if (!session.taint.tainted && args && this.taintActive) this.provenanceOf(session).addTrusted(args);
    return escalate(decision, { tool: { name, ...facts }, session: session.taint, provenance, argsHidden }, taint);
  }

  private provenanceOf(session: Session): ProvenanceIndex {
    session.provenance ??= createProvenanceIndex({
      maxEntries: 4_096,
      maxWindows: 131_072,
      windowChars: this.runtime.taint.minCopiedChars,
      seed: randomInt(2 ** 31),
    });
    return session.provenance;
  }

  /** True when some upstream can taint a session; otherwise no provenance work is done at all. */
  private get taintActive(): boolean {
    return this.registry.upstreams.some((u) => u.config.trust === 'external' || (u.config.taintSources?.length ?? 0) > 0);
  }

  /** The call to the upstream, with the client's log level and the gateway's own progress token. */
  private async upstreamCall(call: CallContext, upstream: Upstream, signal: AbortSignal): Promise<CallToolResult | InputRequiredResult> {
    const entry = call.entry!;
    entry.upstream = upstream;
    const caller = entry.caller;
    const client = upstream.requireClient();
    const params: Record<string, unknown> = { name: call.route.tool.name, ...(call.args ? { arguments: call.args } : {}) };
    let meta = stripProgressToken(call.meta);
    const logLevel = caller.logLevel ?? caller.session.logLevel;
    // A 2026-07-28 upstream has no setLevel: the level travels with each request.
    if (logLevel && upstream.era === 'modern') meta = { ...meta, [LOG_LEVEL_META_KEY]: logLevel };
    // Our own progress token, routed in wire order; progress goes to whichever request of the
    // client is current (a parked call may be resumed by a later one).
    const progressToken = `pc-${randomUUID()}`;
    params._meta = { ...meta, progressToken };
    // The client's answers to the upstream's own input_required round (2026-era upstreams).
    if (caller.inputResponses && !Continuations.isToken(caller.requestState)) params.inputResponses = caller.inputResponses;
    if (caller.requestState !== undefined && !Continuations.isToken(caller.requestState)) params.requestState = caller.requestState;
    const stopProgress = upstream.onProgress(progressToken, (p) => {
      const sent = entry.caller.progress?.(this.opts.redact(p));
      if (sent) entry.lastProgress = { sent, at: this.now() };
    });
    try {
      // A 2025-era stdio upstream is called straight over its transport: the hot path.
      if (upstream.acceptsDirect) return (await upstream.requestDirect('tools/call', params, { signal, timeoutMs: this.opts.callTimeoutMs })) as unknown as CallToolResult;
      return (await client.request({ method: 'tools/call', params } as never, RELAYED, { signal, timeout: this.opts.callTimeoutMs, allowInputRequired: true })) as CallToolResult | InputRequiredResult;
    } finally {
      stopProgress();
    }
  }

  /**
   * Every result on its way to the client: tainted sources are labelled, sanitised and wrapped
   * (and taint the session); all results are redacted and size-capped.
   */
  private finishResult(raw: CallToolResult, call: CallContext): CallToolResult {
    const { session, route } = call;
    let result: CallToolResult;
    if (route.upstream.isTaintSource(route.tool.name)) {
      const out = labelResult(raw, {
        source: route.exposed,
        callId: call.callId,
        boundary: session.boundary,
        wrap: this.runtime.taint.wrap,
        redact: this.opts.redact,
        toolNames: this.registry.toolNames,
      });
      const wasTainted = session.taint.tainted;
      session.taint = recordTaint(session.taint, out.label);
      if (!wasTainted) this.opts.observers?.onTaint?.(out.label.level === 'suspicious' ? 'suspicious' : 'tainted');
      this.provenanceOf(session).add(out.texts, { source: route.exposed, callId: call.callId });
      call.label = { ...out.label, removed: out.removed, markers: out.markers.map((m) => `${m.kind}:${m.severity}`) };
      result = out.result;
    } else {
      result = removeTaintLabel(this.opts.redact(raw));
      // Trusted context is what the session saw before outside content arrived. Afterwards an
      // internal tool may echo an attacker's value (a transfer confirmation naming the
      // recipient), which must not launder it into trusted context.
      if (this.taintActive && !session.taint.tainted) this.provenanceOf(session).addTrusted(result);
    }
    return capResultSize(result, this.opts.maxResultBytes);
  }

  /** Labels a resource or prompt from a tainted source, and taints the session with it. */
  private labelled<T>(session: Session, source: string, label: (ctx: LabelContext) => LabelOutcome<T>): T {
    const callId = `r-${randomUUID()}`;
    const out = label({ source, callId, boundary: session.boundary, wrap: this.runtime.taint.wrap, redact: this.opts.redact, toolNames: this.registry.toolNames });
    session.taint = recordTaint(session.taint, out.label);
    this.provenanceOf(session).add(out.texts, { source, callId });
    return out.result;
  }

  // ---- server→client requests -----------------------------------------------------------------

  /**
   * The calls in flight to an upstream, newest first. Upstream messages that carry no request id
   * (stdio has no per-request channel) are attributed to the newest call that can take them.
   */
  private inFlightTo(upstream: Upstream): InFlight[] {
    return [...this.inFlight].filter((f) => f.upstream !== undefined && (f.upstream === upstream || f.upstream.name === upstream.name)).reverse();
  }

  /** Sends an upstream's log message to the client whose call is running; false when there is none. */
  routeNotification(upstream: Upstream, method: string, params: Record<string, unknown>): boolean {
    if (method !== 'notifications/message') return false;
    const target = this.inFlightTo(upstream).find((f) => f.caller.notify);
    if (!target?.caller.notify) return false;
    target.caller.notify(method, params);
    return true;
  }

  /** Routes a request an upstream makes of the client to the client whose call caused it. */
  async routeClientRequest(upstream: Upstream, method: ClientRequestMethod, params: Record<string, unknown>, signal: AbortSignal): Promise<Record<string, unknown>> {
    const target = this.inFlightTo(upstream).find((f) => supports(f.caller.session, method) && (f.caller.ask || f.parked));
    if (target?.caller.ask) return target.caller.ask(method, params, signal);
    // A 2026-era client is asked by ending its request with input_required (see continuations.ts).
    if (target?.parked) return target.parked.ask(method, params);
    if (method === 'roots/list') return { roots: [] };
    throw new GatewayError('METHOD_NOT_FOUND', `no client can answer ${method} for upstream ${upstream.name}`);
  }

  // ---- resources ---------------------------------------------------------------------------

  async listResources(caller: Caller): Promise<ListResourcesResult> {
    const resources = [];
    for (const { resource } of this.registry.resources()) {
      if (this.listed({ ...this.base(caller.session), kind: 'resource', name: resource.uri })) resources.push(resource);
    }
    return { resources };
  }

  async listResourceTemplates(caller: Caller): Promise<ListResourceTemplatesResult> {
    const resourceTemplates = [];
    const { policy, lockdown } = this.runtime;
    for (const { template } of this.registry.resourceTemplates()) {
      if (isTemplateListed(policy, caller.session.agent, template.uriTemplate, { lockdown })) resourceTemplates.push(template);
    }
    return { resourceTemplates };
  }

  private resourceGate(caller: Caller, uri: string, method: string): Upstream {
    const decision = this.decide({ ...this.base(caller.session), kind: 'resource', name: uri });
    this.audit.record({ event: 'call.decided', agent: caller.session.agent, session: caller.session.id, tool: `${method} ${uri}`, decision: decision.effect, rule: decision.rule?.path, reasons: decision.reasons });
    if (decision.effect !== 'allow') throw new GatewayError('DENIED', formatDenial({ ...decision, effect: 'deny' }));
    const upstream = this.registry.findResourceUpstream(uri);
    if (!upstream) throw new GatewayError('UNKNOWN_RESOURCE', `unknown resource: ${uri}`, { data: { uri } });
    return upstream;
  }

  async readResource(caller: Caller, uri: string): Promise<ReadResourceResult> {
    const upstream = this.resourceGate(caller, uri, 'resources/read');
    try {
      const target = await this.registry.forSession(upstream, caller.session.id);
      const result = await target.requireClient().readResource({ uri }, { signal: caller.signal, timeout: this.opts.callTimeoutMs, cacheMode: 'bypass' });
      if (!upstream.isTaintSource(uri)) return removeTaintLabel(this.opts.redact(result));
      return this.labelled(caller.session, uri, (ctx) => labelReadResource(result, ctx));
    } catch (error) {
      throw this.upstreamFailure(upstream, error);
    }
  }

  async subscribe(caller: Caller, uri: string, subscribe: boolean): Promise<Record<string, never>> {
    const upstream = this.resourceGate(caller, uri, subscribe ? 'resources/subscribe' : 'resources/unsubscribe');
    const subscriptions = caller.session.subscriptions;
    // Idempotent per session: the upstream is watched once however often a client repeats itself.
    if (subscribe === subscriptions.has(uri)) return {};
    try {
      const target = await this.registry.forSession(upstream, caller.session.id);
      await target.watchResource(uri, subscribe);
      if (subscribe) subscriptions.add(uri);
      else subscriptions.delete(uri);
      return {};
    } catch (error) {
      throw this.upstreamFailure(upstream, error);
    }
  }

  // ---- prompts -----------------------------------------------------------------------------

  listPrompts(caller: Caller): ListPromptsResult {
    const prompts = [];
    for (const route of this.registry.prompts()) {
      if (this.listed({ ...this.base(caller.session), kind: 'prompt', name: route.exposed })) prompts.push({ ...route.prompt, name: route.exposed });
    }
    return { prompts };
  }

  private promptGate(caller: Caller, name: string): ReturnType<UpstreamRegistry['findPrompt']> & object {
    const decision = this.decide({ ...this.base(caller.session), kind: 'prompt', name });
    this.audit.record({ event: 'call.decided', agent: caller.session.agent, session: caller.session.id, tool: `prompts/get ${name}`, decision: decision.effect, rule: decision.rule?.path, reasons: decision.reasons });
    if (decision.effect !== 'allow') throw new GatewayError('DENIED', formatDenial({ ...decision, effect: 'deny' }));
    const route = this.registry.findPrompt(name);
    if (!route) throw new GatewayError('UNKNOWN_PROMPT', `unknown prompt: ${name}`);
    return route;
  }

  /**
   * A prompt may embed resources (a note, a file) in its messages; prompt rules name prompts
   * only, so the resource rules decide those: a prompt embedding a resource the agent may not
   * read is refused whole, and the refusal audited (a second `call.decided` line for the
   * prompt, naming the resource), as reading it directly would be. The URI is the upstream's:
   * it goes to the audit log (where secrets are masked), never back to the client.
   */
  private embeddedResourceGate(caller: Caller, name: string, result: GetPromptResult): void {
    for (const message of Array.isArray(result.messages) ? result.messages : []) {
      const content = (message as { content?: unknown }).content;
      for (const block of Array.isArray(content) ? (content as unknown[]) : [content]) {
        const uri = (block as { type?: unknown; resource?: { uri?: unknown } } | undefined)?.type === 'resource' ? (block as { resource?: { uri?: unknown } }).resource?.uri : undefined;
        if (typeof uri !== 'string') continue;
        const decision = this.decide({ ...this.base(caller.session), kind: 'resource', name: uri });
        if (decision.effect === 'allow') continue;
        const reason = "the prompt's result embeds a resource this agent may not read";
        this.audit.record({ event: 'call.decided', agent: caller.session.agent, session: caller.session.id, tool: `prompts/get ${name}`, resource: uri, decision: 'deny', rule: decision.rule?.path, reasons: [reason, ...decision.reasons] });
        throw new GatewayError('DENIED', decision.rule ? `Denied by policy (rule ${decision.rule.path}): ${reason}.` : `Denied by policy: ${reason}.`);
      }
    }
  }

  async getPrompt(caller: Caller, name: string, args: Record<string, string> | undefined): Promise<GetPromptResult | InputRequiredResult> {
    const route = this.promptGate(caller, name);
    try {
      const client = (await this.registry.forSession(route.upstream, caller.session.id)).requireClient();
      const params: Record<string, unknown> = { name: route.prompt.name, ...(args ? { arguments: args } : {}) };
      if (caller.inputResponses) params.inputResponses = caller.inputResponses;
      if (caller.requestState !== undefined) params.requestState = caller.requestState;
      const raw = (await client.request({ method: 'prompts/get', params } as never, { signal: caller.signal, timeout: this.opts.callTimeoutMs, allowInputRequired: true })) as unknown as GetPromptResult | InputRequiredResult;
      if (isInputRequired(raw)) return relayInputRequired(raw);
      this.embeddedResourceGate(caller, name, raw);
      if (!route.upstream.isTaintSource(route.prompt.name)) return removeTaintLabel(this.opts.redact(raw));
      return this.labelled(caller.session, name, (ctx) => labelPrompt(raw, ctx));
    } catch (error) {
      throw this.upstreamFailure(route.upstream, error);
    }
  }

  // ---- completion and logging --------------------------------------------------------------

  async complete(caller: Caller, params: CompleteRequest['params']): Promise<CompleteResult> {
    const ref = params.ref;
    let upstream: Upstream;
    let forwarded = params;
    if (ref.type === 'ref/prompt') {
      const route = this.promptGate(caller, ref.name);
      upstream = route.upstream;
      forwarded = { ...params, ref: { ...ref, name: route.prompt.name } };
    } else {
      upstream = this.resourceGate(caller, ref.uri, 'completion/complete');
    }
    try {
      const client = (await this.registry.forSession(upstream, caller.session.id)).requireClient();
      if (!upstream.capabilities.completions) return { completion: { values: [] } };
      return await client.complete(forwarded, { signal: caller.signal, timeout: this.opts.callTimeoutMs });
    } catch (error) {
      throw this.upstreamFailure(upstream, error);
    }
  }

  async setLoggingLevel(caller: Caller, level: NonNullable<Session['logLevel']>): Promise<Record<string, never>> {
    caller.session.logLevel = level;
    await Promise.all(
      this.registry.upstreams
        .filter((u) => u.state === 'up' && u.capabilities.logging && u.era === 'legacy')
        .map((u) => u.requireClient().setLoggingLevel(level).catch((error: unknown) => this.log.debug({ err: errorText(error), upstream: u.name }, 'setLevel failed'))),
    );
    return {};
  }

  /** A session ended: its resource subscriptions are released (the upstream unsubscribes with the last one). */
  releaseSession(session: Session): void {
    for (const uri of session.subscriptions) {
      const upstream = this.registry.findResourceUpstream(uri);
      if (upstream?.state === 'up') void upstream.watchResource(uri, false).catch(() => undefined);
    }
    session.subscriptions.clear();
  }

  /** Ends parked calls; the pipeline serves nothing after this. */
  close(): void {
    this.continuations.close();
  }

  // ---- errors ------------------------------------------------------------------------------

  private unknownOrUnavailable(name: string): GatewayError {
    for (const upstream of this.registry.upstreams) {
      if (upstream.state !== 'up' && (upstream.prefix === '' || name.startsWith(`${upstream.prefix}__`))) return upstream.unavailable();
    }
    return new GatewayError('UNKNOWN_TOOL', `unknown tool: ${name}`);
  }

  /** Upstream failures are the upstream's, never the client's: map them once, here. */
  private upstreamFailure(upstream: Upstream, error: unknown): GatewayError {
    if (error instanceof GatewayError) return error;
    if (isProtocolError(error)) {
      // The upstream answered with a JSON-RPC error: relay its code and message.
      return new GatewayError('UPSTREAM_ERROR', this.opts.redact(error.message), { relayed: { code: error.code, data: this.opts.redact(error.data) } });
    }
    const text = this.opts.redact(errorText(error));
    if (/timed? ?out/i.test(text)) return new GatewayError('UPSTREAM_TIMEOUT', `upstream ${upstream.name} did not answer in time`);
    if (/abort|cancel/i.test(text)) return new GatewayError('UPSTREAM_UNAVAILABLE', `request cancelled`);
    return upstream.unavailable(text);
  }
}
