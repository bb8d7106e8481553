/**
 * The audit log: one JSON line per decision and outcome (SPEC §8), appended to a file. Each
 * line is written with a single write call, so a crash loses at most the line being written;
 * a line cut short by a crash is closed off on the next open so it never swallows the next one.
 * Secrets are masked by value before anything reaches the file.
 */
import { closeSync, fstatSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { maskSecrets } from '../log.js';
import { stableJson } from '../policy/index.js';
import { sha256Hex } from '../digest.js';

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

export const AUDIT_EVENT_NAMES: readonly AuditEventName[] = [
  'call.decided',
  'call.completed',
  'approval.requested',
  'approval.decided',
  'approval.expired',
  'pin.changed',
  'policy.reloaded',
  'lockdown.changed',
  'undo.completed',
  'auth.failed',
];

export interface AuditEvent {
  event: AuditEventName;
  callId?: string;
  agent?: string;
  session?: string;
  tool?: string;
  decision?: 'allow' | 'ask' | 'deny';
  rule?: string;
  reasons?: readonly string[];
  taint?: unknown;
  approval?: { id: string; by?: string; scope?: string };
  durationMs?: number;
  outcome?: string;
  /** The call's arguments: written per `audit.arguments` (full → args + argsDigest, digest → argsDigest, none → neither). */
  args?: unknown;
  /** A digest computed elsewhere (e.g. an approval's binding), used when `args` is not given. */
  argsDigest?: string;
  [key: string]: unknown;
}

/** One line of the audit file as read back. */
export type AuditRecord = Omit<AuditEvent, 'args'> & { ts: string; args?: unknown };

export interface AuditLog {
  record(event: AuditEvent): void;
  close(): void;
}

export type ArgumentsMode = 'full' | 'digest' | 'none';

/** The fields of SPEC §8 in the order they are written; any other fields follow. */
const FIELD_ORDER = ['event', 'callId', 'agent', 'session', 'tool', 'decision', 'rule', 'reasons', 'taint', 'approval', 'durationMs', 'outcome'] as const;

/** Canonical digest of call arguments (sorted keys), as recorded in the log and bound to approvals. */
export function argsDigest(args: unknown): string {
  return sha256Hex(stableJson(args ?? {}));
}

/** How deep maskDeep walks; a deeper subtree is kept only if its JSON text holds no secret. */
const MASK_DEPTH = 64;

/** A subtree too deep to walk: kept if no secret appears in its JSON text (raw or escaped), else masked whole. */
function maskTooDeep(value: unknown, secrets: readonly string[]): unknown {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    return '[REDACTED]';
  }
  if (text === undefined) return value;
  return secrets.some((s) => text.includes(s) || text.includes(JSON.stringify(s).slice(1, -1))) ? '[REDACTED]' : value;
}

/** Masks secrets inside every string of a JSON-like value (before serialisation, so escaping cannot hide one). */
function maskDeep(value: unknown, secrets: readonly string[], depth = 0): unknown {
  if (typeof value === 'string') return maskSecrets(value, secrets);
  if (value === null || typeof value !== 'object') return value;
  if (depth > MASK_DEPTH) return maskTooDeep(value, secrets);
  if (Array.isArray(value)) return value.map((v) => maskDeep(v, secrets, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[maskSecrets(k, secrets)] = maskDeep(v, secrets, depth + 1);
  return out;
}

const ORDERED = new Set<string>([...FIELD_ORDER, 'ts', 'args', 'argsDigest']);

/** Builds the line for one event, without the trailing newline. Exported for tests and tools. */
export function formatAuditLine(event: AuditEvent, options: { arguments: ArgumentsMode; secrets: readonly string[]; ts: number }): string {
  const line: Record<string, unknown> = { ts: new Date(options.ts).toISOString() };
  for (const key of FIELD_ORDER) if (event[key] !== undefined) line[key] = event[key];
  if (options.arguments !== 'none') {
    // A caller that already digested the arguments (once per call) passes the digest along.
    const digest = event.argsDigest ?? (event.args !== undefined ? argsDigest(event.args) : undefined);
    if (digest !== undefined) line.argsDigest = digest;
    if (options.arguments === 'full' && event.args !== undefined) line.args = event.args;
  }
  for (const key of Object.keys(event)) if (!ORDERED.has(key) && event[key] !== undefined) line[key] = event[key];
  const secrets = options.secrets.length > 0 ? options.secrets.filter((s) => s.length > 0) : options.secrets;
  // Masked value by value, never on the serialised text: the line must stay valid JSON.
  return JSON.stringify(secrets.length > 0 ? maskDeep(line, secrets) : line);
}

/** True when the file is non-empty and its last byte is not a newline (a crash cut a line). */
function endsMidLine(fd: number): boolean {
  const size = fstatSync(fd).size;
  if (size === 0) return false;
  const last = Buffer.alloc(1);
  readSync(fd, last, 0, 1, size - 1);
  return last[0] !== 0x0a;
}

/** Writes all of `data` at the end of the file: one write(2) in practice, looping only on a short write. */
function writeAll(fd: number, data: Buffer): void {
  let offset = 0;
  while (offset < data.length) offset += writeSync(fd, data, offset, data.length - offset);
}

export function createAuditLog(options: { file: string; arguments: ArgumentsMode; secrets: readonly string[]; now?: () => number }): AuditLog {
  mkdirSync(dirname(options.file), { recursive: true });
  let fd: number | undefined = openSync(options.file, 'a+', 0o600);
  if (endsMidLine(fd)) writeAll(fd, Buffer.from('\n'));
  const now = options.now ?? Date.now;
  return {
    record(event) {
      if (fd === undefined) return;
      const format = { arguments: options.arguments, secrets: options.secrets, ts: now() };
      let text: string;
      try {
        text = formatAuditLine(event, format);
      } catch (error) {
        // An unserialisable field must not lose the event: keep what identifies it.
        const { event: name, callId, agent, session, tool, decision, outcome } = event;
        text = formatAuditLine({ event: name, callId, agent, session, tool, decision, outcome, auditError: `unserialisable event: ${(error as Error).message}` }, format);
      }
      writeAll(fd, Buffer.from(`${text}\n`));
    },
    close() {
      if (fd === undefined) return;
      const f = fd;
      fd = undefined;
      closeSync(f);
    },
  };
}
