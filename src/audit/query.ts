/**
 * Reads the audit log back: streams the JSONL file line by line, skips lines that do not parse
 * (a crash may cut the last one), filters, and keeps only the newest `limit` matches, so memory
 * stays bounded whatever the file's size.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseDuration } from '../config/index.js';
import { compileGlob } from '../policy/index.js';
import type { AuditRecord } from './log.js';

export interface AuditQuery {
  /** Only events at or after this time (ms since the epoch). */
  since?: number;
  /** Only events before this time (ms since the epoch). */
  until?: number;
  agent?: string;
  /** Glob over the tool name (`docs__*`). */
  tool?: string;
  decision?: string;
  event?: string;
  callId?: string;
  /** Keep the newest N matches (default 1000, at most 100000). */
  limit?: number;
}

export const DEFAULT_QUERY_LIMIT = 1_000;
export const MAX_QUERY_LIMIT = 100_000;

/**
 * Parses a `since` value: a duration back from `now` (`15m`, `2d`), an ISO date/time, or epoch
 * milliseconds. Undefined when it is none of these.
 */
export function parseSince(value: string, now: number): number | undefined {
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed) && trimmed.length >= 10) return Number(trimmed);
  const ms = parseDuration(trimmed);
  if (ms !== undefined && /[a-z]$/i.test(trimmed)) return now - ms;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : date;
}

function isRecord(value: unknown): value is AuditRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as { event?: unknown }).event === 'string';
}

/** Events matching every given filter, oldest first, newest last. A missing file has no events. */
export async function queryAudit(file: string, query: AuditQuery = {}): Promise<AuditRecord[]> {
  const limit = Math.min(Math.max(1, Math.floor(query.limit ?? DEFAULT_QUERY_LIMIT)), MAX_QUERY_LIMIT);
  const toolMatch = query.tool === undefined ? undefined : compileGlob(query.tool);
  const matches = (r: AuditRecord): boolean => {
    if (query.event !== undefined && r.event !== query.event) return false;
    if (query.agent !== undefined && r.agent !== query.agent) return false;
    if (query.decision !== undefined && r.decision !== query.decision) return false;
    if (query.callId !== undefined && r.callId !== query.callId) return false;
    if (toolMatch && (typeof r.tool !== 'string' || !toolMatch(r.tool))) return false;
    if (query.since !== undefined || query.until !== undefined) {
      const ts = typeof r.ts === 'string' ? Date.parse(r.ts) : Number.NaN;
      if (Number.isNaN(ts)) return false;
      if (query.since !== undefined && ts < query.since) return false;
      if (query.until !== undefined && ts >= query.until) return false;
    }
    return true;
  };

  // A ring of the newest `limit` matches.
  const ring: AuditRecord[] = new Array<AuditRecord>(limit);
  let count = 0;
  const stream = createReadStream(file, { encoding: 'utf8' });
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      if (line.length === 0) continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        continue;
      }
      if (!isRecord(parsed) || !matches(parsed)) continue;
      ring[count % limit] = parsed;
      count++;
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  } finally {
    lines.close();
    stream.destroy();
  }
  if (count <= limit) return ring.slice(0, count);
  const start = count % limit;
  return [...ring.slice(start), ...ring.slice(0, start)];
}
