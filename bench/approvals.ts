/**
 * Approvals under load: N concurrent held calls (default 1,000) against an in-process queue and
 * its routes served over real HTTP on 127.0.0.1, all approved through the REST API. Reports the
 * time to open them, the time to drain them, and memory (RSS, heap delta per held call).
 *
 *   node --import tsx bench/approvals.ts [--calls 1000] [--concurrency 50]
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { argsDigest, createAuditLog } from '../src/audit/log.js';
import { ApprovalsSchema } from '../src/config/index.js';
import { createLogger } from '../src/log.js';
import { createApprovalRoutes, createApprovals, type ApprovalSubject, type HoldOutcome } from '../src/approvals/index.js';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '1000' }, concurrency: { type: 'string', default: '50' } } });
const CALLS = Number(values.calls);
const CONCURRENCY = Number(values.concurrency);
const DEADLINE_MS = 120_000;

const mib = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MiB`;
const gc = (globalThis as { gc?: () => void }).gc;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-approvals-'));
  const timer = setTimeout(() => {
    process.stderr.write(`bench did not finish within ${DEADLINE_MS / 1000} s\n`);
    process.exit(1);
  }, DEADLINE_MS);
  timer.unref();
  const audit = createAuditLog({ file: join(dir, 'audit.jsonl'), arguments: 'full', secrets: [] });
  const log = createLogger({ level: 'warn', destination: new Writable({ write: (_c, _e, done) => done() }) });
  const approvals = await createApprovals({
    config: ApprovalsSchema.parse({ wait: '110s', timeout: '15m' }),
    stateDir: join(dir, 'state'),
    audit,
    log,
    linkSecret: new Uint8Array(32).fill(1),
    limits: { maxPending: CALLS },
  });
  const app = new Hono();
  // The same HTTP stack with no approval work behind it: what the machine gives for bare POSTs.
  app.post('/noop', (c) => c.json({ ok: true }));
  app.route('/', createApprovalRoutes({ approvals, authorize: async () => ({ name: 'bench-reviewer', roles: ['reviewer'] }) }));
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

  try {
    gc?.();
    const before = process.memoryUsage();
    const opened = new Promise<void>((resolve) => {
      let n = 0;
      const off = approvals.subscribe((e) => {
        if (e.type === 'requested' && ++n === CALLS) {
          off();
          resolve();
        }
      });
    });
    const t0 = performance.now();
    const held: Array<Promise<HoldOutcome>> = [];
    for (let i = 0; i < CALLS; i++) {
      const args = { path: `/marketing/drafts/page-${i}.md`, text: `draft ${i} `.repeat(8) };
      const subject: ApprovalSubject = { agent: 'default', owner: 'alice@example.com', session: `s-${i % 50}`, tool: 'docs__update_page', args, argsDigest: argsDigest(args), policyVersion: 'bench', reasons: ['rule agents.default.rules[3] asks for approval'], rule: 'agents.default.rules[3]' };
      held.push(approvals.hold(subject, { signal: new AbortController().signal }));
    }
    await opened;
    const tOpened = performance.now();
    gc?.();
    const holding = process.memoryUsage();

    let failures = 0;
    /** POSTs to each path, CONCURRENCY at a time. */
    const postAll = async (paths: string[]) => {
      let next = 0;
      const worker = async () => {
        while (next < paths.length) {
          const res = await fetch(`${url}${paths[next++]!}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"scope":"once"}' });
          if (!res.ok) failures += 1;
          await res.arrayBuffer();
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    };
    const tBaseline = performance.now();
    await postAll(Array.from({ length: CALLS }, () => '/noop'));
    const baselineMs = performance.now() - tBaseline;

    const ids = approvals.list({ status: 'pending' }).map((r) => r.id);
    const tApprove = performance.now();
    await postAll(ids.map((id) => `/api/approvals/${id}/approve`));
    const tApproved = performance.now();
    const outcomes = await Promise.all(held);
    const tDrained = performance.now();
    const peak = process.memoryUsage();
    const approved = outcomes.filter((o) => o.status === 'approved').length;

    await approvals.close();
    gc?.();
    const after = process.memoryUsage();
    const stateBytes = statSync(join(dir, 'state', 'approvals.json')).size;

    const lines = [
      `approvals bench: ${CALLS} concurrent held calls, approved through POST /api/approvals/:id/approve (${CONCURRENCY} in parallel)${gc ? '' : '  (run with --expose-gc for steadier memory numbers)'}`,
      `  open ${CALLS} requests:        ${(tOpened - t0).toFixed(0)} ms`,
      `  baseline, ${CALLS} no-op POSTs: ${baselineMs.toFixed(0)} ms  (same server and client: the machine's bare HTTP cost)`,
      `  approve via REST:           ${(tApproved - tApprove).toFixed(0)} ms  (${((CALLS / (tApproved - tApprove)) * 1000).toFixed(0)} approvals/s, ${failures} failed)`,
      `  drain (all holds resolved): ${(tDrained - tApprove).toFixed(0)} ms after the first approval; ${approved}/${CALLS} approved`,
      `  RSS:  before ${mib(before.rss)}, holding ${mib(holding.rss)}, peak ${mib(peak.rss)}, after close ${mib(after.rss)}`,
      `  heap: before ${mib(before.heapUsed)}, holding ${mib(holding.heapUsed)} (+${((holding.heapUsed - before.heapUsed) / CALLS / 1024).toFixed(1)} KiB per held call)`,
      `  state file after close: ${(stateBytes / 1024).toFixed(0)} KiB`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    if (approved !== CALLS || failures > 0) process.exitCode = 1;
  } finally {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
    });
    await approvals.close();
    audit.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
