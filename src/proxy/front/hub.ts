/**
 * What all fronts share: the session table, the live front servers, and the fan-out of
 * upstream events (list changes, log messages, resource updates) to the clients that should
 * see them.
 */
import type { Server } from '@modelcontextprotocol/server';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../log.js';
import { CLEAN_SESSION } from '../../taint/index.js';
import { SessionTable, type Era, type Session } from '../session.js';

export type ListKinds = { tools: boolean; resources: boolean; prompts: boolean };

const LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];

export class FrontHub {
  readonly sessions: SessionTable;
  private readonly servers = new Set<Server>();
  private readonly log: Logger;
  private readonly now: () => number;
  /** Set by the HTTP front: publishes to 2026-07-28 subscription streams. */
  onModernChange: ((kinds: ListKinds) => void) | undefined;
  onModernResourceUpdated: ((uri: string) => void) | undefined;

  constructor(opts: { log: Logger; maxSessions: number; onSessionClosed: (session: Session) => void; now?: () => number }) {
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.sessions = new SessionTable({ max: opts.maxSessions, onClose: opts.onSessionClosed });
  }

  newSession(init: { agent: string; claims: Readonly<Record<string, unknown>> | undefined; transport: 'stdio' | 'http'; era: Era; server?: Server }): Omit<Session, 'id'> {
    const server = init.server;
    return {
      agent: init.agent,
      claims: init.claims,
      transport: init.transport,
      era: init.era,
      createdAt: this.now(),
      clientCapabilities: undefined,
      logLevel: undefined,
      subscriptions: new Set(),
      taint: CLEAN_SESSION,
      boundary: randomBytes(12).toString('hex'),
      provenance: undefined,
      push: server ? (method, params) => server.notification({ method, params } as never) : undefined,
    };
  }

  /** Remembers a front server that can push notifications, until it closes. */
  track(server: Server): void {
    this.servers.add(server);
    const previous = server.onclose;
    server.onclose = () => {
      this.servers.delete(server);
      previous?.();
    };
  }

  listsChanged(kinds: ListKinds): void {
    for (const server of this.servers) {
      const send = (fn: () => Promise<void>) => void fn().catch(() => undefined);
      try {
        if (kinds.tools) send(() => server.sendToolListChanged());
        if (kinds.resources && server.getCapabilities().resources) send(() => server.sendResourceListChanged());
        if (kinds.prompts && server.getCapabilities().prompts) send(() => server.sendPromptListChanged());
      } catch (error) {
        this.log.debug({ err: String(error) }, 'could not send list_changed');
      }
    }
    this.onModernChange?.(kinds);
  }

  /** Relays an upstream notification to the sessions it concerns. */
  upstreamNotification(method: string, params: Record<string, unknown> | undefined): void {
    if (method === 'notifications/resources/updated') {
      const uri = typeof params?.uri === 'string' ? params.uri : undefined;
      if (!uri) return;
      for (const session of this.sessions.all()) {
        if (session.subscriptions.has(uri)) void session.push?.(method, params ?? {}).catch(() => undefined);
      }
      this.onModernResourceUpdated?.(uri);
      return;
    }
    if (method === 'notifications/message') {
      const level = typeof params?.level === 'string' ? LOG_LEVELS.indexOf(params.level) : -1;
      for (const session of this.sessions.all()) {
        const min = session.logLevel ? LOG_LEVELS.indexOf(session.logLevel) : 0;
        if (level >= min) void session.push?.(method, params ?? {}).catch(() => undefined);
      }
    }
  }

  async close(): Promise<void> {
    const servers = [...this.servers];
    this.servers.clear();
    await Promise.allSettled(servers.map((s) => s.close()));
    this.sessions.clear();
  }
}
