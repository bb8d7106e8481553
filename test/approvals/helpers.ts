/**
 * Real parts for the approvals tests: a queue on a temp state folder with a real audit log and
 * a logger whose output the test can read, and a real HTTP server for the routes.
 */
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { serve, type ServerType } from '@hono/node-server';
import type { Context, Hono } from 'hono';
import { createAuditLog, argsDigest, type AuditEvent } from '../../src/audit/log.js';
import { ApprovalsSchema } from '../../src/config/index.js';
import { createLogger } from '../../src/log.js';
import { createApprovalRoutes, createApprovals, type Approvals, type ApprovalsOptions, type ApprovalSubject, type Principal } from '../../src/approvals/index.js';

export const LINK_SECRET = new Uint8Array(32).fill(7);
export const REVIEWER: Principal = { name: 'rita', roles: ['reviewer'] };
export const ADMIN: Principal = { name: 'ada', roles: ['admin'] };

export function subject(over: Partial<ApprovalSubject> = {}): ApprovalSubject {
  const args = over.args ?? { path: '/marketing/drafts/launch.md', text: 'hello' };
  return {
    agent: 'default',
    owner: 'alice@example.com',
    session: 's-1',
    tool: 'docs__update_page',
    policyVersion: 'v1',
    reasons: ['rule agents.default.rules[3] asks for approval'],
    rule: 'agents.default.rules[3]',
    ...over,
    args,
    argsDigest: argsDigest(args),
  };
}

export interface Harness {
  dir: string;
  approvals: Approvals;
  /** A second queue on the same state folder (after closing the first). */
  reopen(over?: Partial<ApprovalsOptions>): Promise<Approvals>;
  audit(): AuditEvent[];
  logText(): string;
  cleanup(): Promise<void>;
}

export type HarnessOptions = Partial<Omit<ApprovalsOptions, 'config'>> & { config?: Record<string, unknown> };

export async function harness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-approvals-'));
  const auditFile = join(dir, 'audit.jsonl');
  let logged = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logged += chunk.toString();
      done();
    },
  });
  const log = createLogger({ level: 'debug', destination: sink });
  const audit = createAuditLog({ file: auditFile, arguments: 'full', secrets: [] });
  const { config: rawConfig, ...rest } = options;
  const config = ApprovalsSchema.parse(rawConfig ?? { wait: '5s', timeout: '15m' });
  const open = (over: Partial<ApprovalsOptions> = {}) => createApprovals({ config, stateDir: join(dir, 'state'), audit, log, linkSecret: LINK_SECRET, publicUrl: 'http://127.0.0.1:8787', ...rest, ...over });
  const all: Approvals[] = [await open()];
  return {
    dir,
    approvals: all[0]!,
    async reopen(over) {
      const next = await open(over);
      all.push(next);
      return next;
    },
    audit: () =>
      existsSync(auditFile)
        ? readFileSync(auditFile, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as AuditEvent)
        : [],
    logText: () => logged,
    async cleanup() {
      for (const a of all) await a.close();
      audit.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves once the queue has an open request (the held call is waiting). */
export function nextRequested(approvals: Approvals): Promise<string> {
  return new Promise((resolve) => {
    const off = approvals.subscribe((e) => {
      if (e.type === 'requested') {
        off();
        resolve(e.request.id);
      }
    });
  });
}

/** The routes with a fixed principal (or the response `authorize` answers with). */
export function routesFor(approvals: Approvals, who: Principal | ((c: Context) => Promise<Principal | Response>) = REVIEWER): Hono {
  const authorize = typeof who === 'function' ? who : async () => who;
  return createApprovalRoutes({ approvals, authorize, publicUrl: 'http://127.0.0.1:8787', heartbeatMs: 60_000 });
}

export interface Served {
  url: string;
  close(): Promise<void>;
}

/** Serves a hono app on 127.0.0.1 at a free port. */
export async function listen(app: Hono): Promise<Served> {
  const server = await new Promise<ServerType>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}
