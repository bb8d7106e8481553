/**
 * Prometheus metrics (SPEC §9 `/metrics`) on a registry of our own, never prom-client's global
 * one. Label values that come from outside the config (tool names, agents) are capped so a
 * misbehaving client cannot blow up the series count.
 */
import type { Handler } from 'hono';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const OTHER_LABEL = 'other';

export interface MetricsOptions {
  /** Distinct values kept per unbounded label (agent, tool, upstream, …); the rest become `other`. */
  maxLabelValues?: number;
  /** Also export Node process metrics (CPU, memory, event loop, GC). Default true. */
  processMetrics?: boolean;
  /** Read at scrape time, so the gauges need no event wiring (setUpstream/setPendingApprovals still work). */
  sources?: {
    upstreams?: () => Iterable<{ name: string; up: boolean }>;
    pendingApprovals?: () => number;
  };
}

export interface Metrics {
  readonly registry: Registry;
  /** One decided call: counts it by decision and, when it ran, observes its duration by outcome. */
  recordCall(agent: string, tool: string, decision: string, seconds?: number, outcome?: string): void;
  setPendingApprovals(count: number): void;
  observeApprovalWait(seconds: number): void;
  setUpstream(name: string, up: boolean): void;
  recordUpstreamRestart(name: string): void;
  /** `kind`: e.g. tainted, suspicious, provenance, hidden-characters. */
  recordTaintEvent(kind: string): void;
  recordPolicyReload(result: 'ok' | 'error'): void;
  recordAuthFailure(reason: string): void;
  /** The Prometheus text exposition of every metric. */
  render(): Promise<string>;
  readonly contentType: string;
}

/** Caps the distinct values one label may take; values beyond the cap are reported as `other`. */
function createLabelCap(max: number): (value: string) => string {
  const seen = new Set<string>();
  return (value) => {
    if (seen.has(value)) return value;
    if (seen.size >= max) return OTHER_LABEL;
    seen.add(value);
    return value;
  };
}

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const max = options.maxLabelValues ?? 1_000;
  if (!Number.isInteger(max) || max < 1) throw new Error(`maxLabelValues must be a positive integer, got ${max}`);
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'portcullis_' });
  const agentLabel = createLabelCap(max);
  const toolLabel = createLabelCap(max);
  const upstreamLabel = createLabelCap(max);
  // Bounded by our own code, but a cap costs nothing and guards against a free-text reason.
  const smallLabel = createLabelCap(100);

  const calls = new Counter({ name: 'portcullis_calls_total', help: 'Tool calls by agent, tool and decision.', labelNames: ['agent', 'tool', 'decision'] as const, registers: [registry] });
  const callDuration = new Histogram({
    name: 'portcullis_call_duration_seconds',
    help: 'Time from receiving a tool call to answering it, by outcome.',
    labelNames: ['agent', 'tool', 'outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [registry],
  });
  const sources = options.sources ?? {};
  const pending = new Gauge({
    name: 'portcullis_pending_approvals',
    help: 'Approval requests waiting for a reviewer.',
    registers: [registry],
    collect() {
      if (sources.pendingApprovals) this.set(sources.pendingApprovals());
    },
  });
  const approvalWait = new Histogram({
    name: 'portcullis_approval_wait_seconds',
    help: 'Time from an approval request to its decision.',
    buckets: [1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600],
    registers: [registry],
  });
  const upstreamUp = new Gauge({
    name: 'portcullis_upstream_up',
    help: '1 when the upstream is connected, 0 otherwise.',
    labelNames: ['upstream'] as const,
    registers: [registry],
    collect() {
      if (!sources.upstreams) return;
      for (const u of sources.upstreams()) this.set({ upstream: upstreamLabel(u.name) }, u.up ? 1 : 0);
    },
  });
  const restarts = new Counter({ name: 'portcullis_upstream_restarts_total', help: 'Upstream restarts.', labelNames: ['upstream'] as const, registers: [registry] });
  const taint = new Counter({ name: 'portcullis_taint_events_total', help: 'Taint events by kind.', labelNames: ['kind'] as const, registers: [registry] });
  const reloads = new Counter({ name: 'portcullis_policy_reloads_total', help: 'Policy reloads by result.', labelNames: ['result'] as const, registers: [registry] });
  const authFailures = new Counter({ name: 'portcullis_auth_failures_total', help: 'Rejected HTTP authentications by reason.', labelNames: ['reason'] as const, registers: [registry] });

  return {
    registry,
    recordCall(agent, tool, decision, seconds, outcome) {
      const a = agentLabel(agent);
      const t = toolLabel(tool);
      calls.inc({ agent: a, tool: t, decision: smallLabel(decision) });
      if (seconds !== undefined && Number.isFinite(seconds) && seconds >= 0) {
        callDuration.observe({ agent: a, tool: t, outcome: smallLabel(outcome ?? decision) }, seconds);
      }
    },
    setPendingApprovals(count) {
      pending.set(count);
    },
    observeApprovalWait(seconds) {
      if (Number.isFinite(seconds) && seconds >= 0) approvalWait.observe(seconds);
    },
    setUpstream(name, up) {
      upstreamUp.set({ upstream: upstreamLabel(name) }, up ? 1 : 0);
    },
    recordUpstreamRestart(name) {
      restarts.inc({ upstream: upstreamLabel(name) });
    },
    recordTaintEvent(kind) {
      taint.inc({ kind: smallLabel(kind) });
    },
    recordPolicyReload(result) {
      reloads.inc({ result });
    },
    recordAuthFailure(reason) {
      authFailures.inc({ reason: smallLabel(reason) });
    },
    render: () => registry.metrics(),
    contentType: registry.contentType,
  };
}

/** `GET /metrics`: the Prometheus text exposition. */
export function metricsHandler(metrics: Metrics): Handler {
  return async function metricsRoute() {
    return new Response(await metrics.render(), { headers: { 'content-type': metrics.contentType, 'cache-control': 'no-store' } });
  };
}
