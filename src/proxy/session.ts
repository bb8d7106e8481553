/**
 * Client sessions: who is calling (agent, claims), over which era, and the per-session state
 * later stages keep (log level, resource subscriptions, taint). The table is bounded; an
 * evicted or closed session releases its per-session upstreams.
 */
import { LRUCache } from 'lru-cache';
import type { ClientCapabilities, LoggingLevel } from '@modelcontextprotocol/server';
import type { ProvenanceIndex, SessionTaint } from '../taint/index.js';

export type Era = 'legacy' | 'modern';

export interface Session {
  readonly id: string;
  readonly agent: string;
  readonly claims: Readonly<Record<string, unknown>> | undefined;
  readonly transport: 'stdio' | 'http';
  era: Era;
  readonly createdAt: number;
  clientCapabilities: ClientCapabilities | undefined;
  logLevel: LoggingLevel | undefined;
  readonly subscriptions: Set<string>;
  /** What tainted content the session has seen; replaced, never mutated (taint never decays). */
  taint: SessionTaint;
  /** Random per session: tainted text is wrapped in `<untrusted-content-BOUNDARY …>`. */
  readonly boundary: string;
  /** Entities and text of tainted content, created on first use. */
  provenance: ProvenanceIndex | undefined;
  /** Pushes a notification to this session's client (legacy sessions, stdio); absent when it cannot. */
  push: ((method: string, params: Record<string, unknown>) => Promise<void>) | undefined;
}

export interface SessionTableOptions {
  max: number;
  onClose: (session: Session) => void;
}

export class SessionTable {
  private readonly table: LRUCache<string, Session>;

  constructor(options: SessionTableOptions) {
    this.table = new LRUCache<string, Session>({
      max: options.max,
      dispose: (session) => options.onClose(session),
    });
  }

  get(id: string): Session | undefined {
    return this.table.get(id);
  }

  /** The session with this id, created with `init` when it does not exist yet. */
  open(id: string, init: () => Omit<Session, 'id'>): Session {
    const existing = this.table.get(id);
    if (existing) return existing;
    const session: Session = { id, ...init() };
    this.table.set(id, session);
    return session;
  }

  close(id: string): void {
    this.table.delete(id);
  }

  get size(): number {
    return this.table.size;
  }

  *all(): Iterable<Session> {
    yield* this.table.values();
  }

  clear(): void {
    this.table.clear();
  }
}
