/**
 * The audit log: one JSON line per decision and outcome (SPEC §8), appended to a file. Each
 * line is written with a single write call, so a crash loses at most the line being written.
 * Secrets are masked by value before anything reaches the file.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, openSync, writeSync, closeSync } from 'node:fs';
import { dirname } from 'node:path';
import { maskSecrets } from '../log.js';

export type AuditEventName =
  | 'call.decided'
  | 'call.completed'
  | 'approval.requested'
  | 'approval.decided'
  | 'approval.expired'
  | 'pin.changed'
  | 'policy.reloaded'
  | 'lockdown.changed'
  | 'undo.completed'
  | 'auth.failed';

export interface AuditEvent {
  event: AuditEventName;
  callId?: string;
  agent?: string;
  session?: string;
  tool?: string;
  decision?: 'allow' | 'ask' | 'deny';
  rule?: string;
  reasons?: string[];
  taint?: unknown;
  approval?: { id: string; by?: string; scope?: string };
  durationMs?: number;
  outcome?: string;
  args?: unknown;
  [key: string]: unknown;
}

export interface AuditLog {
  record(event: AuditEvent): void;
  close(): void;
}

export type ArgumentsMode = 'full' | 'digest' | 'none';

/** Canonical digest of call arguments (sorted keys), as recorded in the log and bound to approvals. */
export function argsDigest(args: unknown): string {
  return createHash('sha256').update(stableStringify(args ?? {})).digest('hex');
}

function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const keys = Object.keys(value as Record<string, unknown>).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

export function createAuditLog(options: { file: string; arguments: ArgumentsMode; secrets: readonly string[]; now?: () => number }): AuditLog {
  mkdirSync(dirname(options.file), { recursive: true });
  let fd: number | undefined = openSync(options.file, 'a');
  const now = options.now ?? Date.now;
  return {
    record(event) {
      if (fd === undefined) return;
      const { args, ...rest } = event;
      const line: Record<string, unknown> = { ts: new Date(now()).toISOString(), ...rest };
      if (args !== undefined) {
        line.argsDigest = argsDigest(args);
        if (options.arguments === 'full') line.args = args;
      }
      writeSync(fd, `${maskSecrets(JSON.stringify(line), options.secrets)}\n`);
    },
    close() {
      if (fd === undefined) return;
      const f = fd;
      fd = undefined;
      closeSync(f);
    },
  };
}
