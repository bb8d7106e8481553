import { describe, expect, it } from 'vitest';
import { Hono } from 'hono';
import { register as globalRegistry } from 'prom-client';
import { OTHER_LABEL, createMetrics, metricsHandler } from '../../src/http/metrics.js';
import { parsePrometheus, sampleValue } from './helpers.js';

async function scrape(metrics: ReturnType<typeof createMetrics>) {
  const app = new Hono();
  app.get('/metrics', metricsHandler(metrics));
  const res = await app.request('/metrics');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await res.text());
}

describe('metrics', () => {
  it('counts calls by agent, tool and decision, and times the ones that ran by outcome', async () => {
    const metrics = createMetrics({ processMetrics: false });
    metrics.recordCall('default', 'docs__search', 'allow', 0.02, 'ok');
    metrics.recordCall('default', 'docs__search', 'allow', 0.3, 'ok');
    metrics.recordCall('default', 'docs__delete_page', 'deny');
    metrics.recordCall('bot', 'docs__search', 'ask', 2, 'tool-error');
    const s = await scrape(metrics);
    expect(sampleValue(s, 'portcullis_calls_total', { agent: 'default', tool: 'docs__search', decision: 'allow' })).toBe(2);
    expect(sampleValue(s, 'portcullis_calls_total', { agent: 'default', tool: 'docs__delete_page', decision: 'deny' })).toBe(1);
    expect(sampleValue(s, 'portcullis_calls_total', { agent: 'bot', tool: 'docs__search', decision: 'ask' })).toBe(1);
    const ok = { agent: 'default', tool: 'docs__search', outcome: 'ok' };
    expect(sampleValue(s, 'portcullis_call_duration_seconds_count', ok)).toBe(2);
    expect(sampleValue(s, 'portcullis_call_duration_seconds_sum', ok)).toBeCloseTo(0.32);
    expect(sampleValue(s, 'portcullis_call_duration_seconds_bucket', { ...ok, le: '0.025' })).toBe(1);
    expect(sampleValue(s, 'portcullis_call_duration_seconds_bucket', { ...ok, le: '+Inf' })).toBe(2);
    expect(sampleValue(s, 'portcullis_call_duration_seconds_count', { agent: 'default', tool: 'docs__delete_page' })).toBeUndefined();
  });

  it('exports approvals, upstreams, taint, reloads and auth failures', async () => {
    const metrics = createMetrics({ processMetrics: false });
    metrics.setPendingApprovals(3);
    metrics.observeApprovalWait(42);
    metrics.setUpstream('docs', true);
    metrics.setUpstream('web', true);
    metrics.setUpstream('web', false);
    metrics.recordUpstreamRestart('web');
    metrics.recordUpstreamRestart('web');
    metrics.recordTaintEvent('tainted');
    metrics.recordTaintEvent('suspicious');
    metrics.recordPolicyReload('ok');
    metrics.recordPolicyReload('error');
    metrics.recordAuthFailure('expired');
    const s = await scrape(metrics);
    expect(sampleValue(s, 'portcullis_pending_approvals')).toBe(3);
    expect(sampleValue(s, 'portcullis_approval_wait_seconds_count')).toBe(1);
    expect(sampleValue(s, 'portcullis_approval_wait_seconds_sum')).toBe(42);
    expect(sampleValue(s, 'portcullis_upstream_up', { upstream: 'docs' })).toBe(1);
    expect(sampleValue(s, 'portcullis_upstream_up', { upstream: 'web' })).toBe(0);
    expect(sampleValue(s, 'portcullis_upstream_restarts_total', { upstream: 'web' })).toBe(2);
    expect(sampleValue(s, 'portcullis_taint_events_total', { kind: 'suspicious' })).toBe(1);
    expect(sampleValue(s, 'portcullis_policy_reloads_total', { result: 'error' })).toBe(1);
    expect(sampleValue(s, 'portcullis_auth_failures_total', { reason: 'expired' })).toBe(1);
  });

  it('reads upstream states and the pending count from their sources at scrape time', async () => {
    const states = [{ name: 'docs', up: true }, { name: 'web', up: true }];
    let pending = 1;
    const metrics = createMetrics({ processMetrics: false, sources: { upstreams: () => states, pendingApprovals: () => pending } });
    let s = await scrape(metrics);
    expect(sampleValue(s, 'portcullis_upstream_up', { upstream: 'web' })).toBe(1);
    expect(sampleValue(s, 'portcullis_pending_approvals')).toBe(1);
    states[1]!.up = false;
    pending = 4;
    s = await scrape(metrics);
    expect(sampleValue(s, 'portcullis_upstream_up', { upstream: 'web' })).toBe(0);
    expect(sampleValue(s, 'portcullis_pending_approvals')).toBe(4);
  });

  it('reports tools beyond the label cap as "other" so a client cannot create unbounded series', async () => {
    const metrics = createMetrics({ processMetrics: false, maxLabelValues: 3 });
    for (let i = 0; i < 10; i++) metrics.recordCall('default', `t__tool_${i}`, 'deny');
    metrics.recordCall('default', 't__tool_1', 'deny');
    const s = await scrape(metrics);
    const tools = s.filter((x) => x.name === 'portcullis_calls_total').map((x) => x.labels.tool);
    expect(new Set(tools)).toEqual(new Set(['t__tool_0', 't__tool_1', 't__tool_2', OTHER_LABEL]));
    expect(sampleValue(s, 'portcullis_calls_total', { tool: OTHER_LABEL })).toBe(7);
    expect(sampleValue(s, 'portcullis_calls_total', { tool: 't__tool_1' })).toBe(2);
  });

  it('adds Node process metrics on its own registry, leaving the global registry alone', async () => {
    const before = (await globalRegistry.getMetricsAsJSON()).length;
    const s = await scrape(createMetrics());
    expect(s.some((x) => x.name === 'portcullis_process_cpu_user_seconds_total')).toBe(true);
    expect(s.some((x) => x.name === 'portcullis_nodejs_heap_size_used_bytes')).toBe(true);
    expect((await globalRegistry.getMetricsAsJSON()).length).toBe(before);
    // Two instances (e.g. two gateways in one test process) do not clash.
    expect(() => createMetrics()).not.toThrow();
  });
});
