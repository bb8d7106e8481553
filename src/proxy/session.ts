/**
 * Client sessions: who is calling (agent, claims), over which era, and the per-session state
 * later stages keep (log level, resource subscriptions, taint). A closed (or, for session-less
 * callers, evicted) session releases its per-session upstreams.
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

/** How many evicted session-less sessions' taint is remembered, per session kept. */
const REMEMBERED_PER_KEPT = 10;
/** How many of its sources an evicted session's remembered taint keeps (the newest): it stays small. */
const REMEMBERED_SOURCES = 4;

export interface SessionTableOptions {
  /** How many session-less (2026-07-28 HTTP) sessions are kept; the least recently used go first. */
  max: number;
  onClose: (session: Session) => void;
}

/**
 * A session a connection holds (a 2025-era HTTP session, stdio) lasts until the connection
 * closes it: evicting it would let its next call start afresh, with its taint forgotten. The
 * fronts bound how many connections there are. Sessions grouped by caller (2026-07-28 over
 * HTTP) have no connection to end them, so they are bounded here, least recently used first;
 * an evicted one's taint is remembered (for ten times as many), and given back if the same
 * caller comes back, so a busy gateway does not make a tainted caller clean again.
 */
function isHeld(session: Session): boolean {
  return session.transport === 'stdio' || session.era === 'legacy';
}

export class SessionTable {
  private readonly held = new Map<string, Session>();
  private readonly grouped: LRUCache<string, Session>;
  /** The taint of evicted session-less sessions that had any, by session id. */
  private readonly evictedTaint: LRUCache<string, SessionTaint>;
  private readonly onClose: (session: Session) => void;

  constructor(options: SessionTableOptions) {
    this.onClose = options.onClose;
    this.evictedTaint = new LRUCache<string, SessionTaint>({ max: options.max * REMEMBERED_PER_KEPT });
    this.grouped = new LRUCache<string, Session>({
      max: options.max,
      dispose: (session, id, reason) => {
        if (reason === 'evict' && session.taint.tainted) this.evictedTaint.set(id, { ...session.taint, sources: session.taint.sources.slice(-REMEMBERED_SOURCES) });
        options.onClose(session);
      },
    });
  }

  get(id: string): Session | undefined {
    return this.held.get(id) ?? this.grouped.get(id);
  }

  /** The session with this id, created with `init` when it does not exist yet. */
  open(id: string, init: () => Omit<Session, 'id'>): Session {
    const existing = this.get(id);
    if (existing) return existing;
    const session: Session = { id, ...init() };
    if (isHeld(session)) {
      this.held.set(id, session);
      return session;
    }
    const taint = this.evictedTaint.get(id);
    if (taint) {
      session.taint = taint;
      this.evictedTaint.delete(id);
    }
    this.grouped.set(id, session);
    return session;
  }

  close(id: string): void {
    const session = this.held.get(id);
    if (!session) {
      this.grouped.delete(id);
      return;
    }
    this.held.delete(id);
    this.onClose(session);
  }

  get size(): number {
    return this.held.size + this.grouped.size;
  }

  *all(): Iterable<Session> {
    yield* this.held.values();
    yield* this.grouped.values();
  }

  clear(): void {
    const held = [...this.held.values()];
    this.held.clear();
    for (const session of held) this.onClose(session);
    this.grouped.clear();
  }
}
