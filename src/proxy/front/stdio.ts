/**
 * The stdio front: one client on stdin/stdout, for assistants that launch their servers. The
 * SDK's serveStdio decides the era from the opening exchange; the connection is one session.
 * For a 2025-era client, `tools/call` is served straight off the wire (see direct-calls.ts).
 */
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import type { Server } from '@modelcontextprotocol/server';
import type { Logger } from '../../log.js';
import type { Era } from '../session.js';
import { DirectCallsTransport } from './direct-calls.js';
import type { FrontHub } from './hub.js';
import { createFrontServer, type FrontDeps } from './server.js';
import { StdioWire } from './stdio-wire.js';

export interface StdioFront {
  /** Settles once the connection has closed: the client went away (stdin ended, stdout broke) or `close` was called. */
  readonly closed: Promise<void>;
  close(): Promise<void>;
}

export function startStdioFront(deps: FrontDeps & { hub: FrontHub; log: Logger; agent: string; maxRequestBytes: number }): StdioFront {
  const { hub } = deps;
  const stdio = new StdioWire(process.stdin, process.stdout, deps.maxRequestBytes);
  const wire = new DirectCallsTransport(stdio, deps.pipeline, deps.registry);
  const sessionOf = (era: Era, server: Server) => hub.sessions.open('stdio', () => hub.newSession({ agent: deps.agent, claims: undefined, transport: 'stdio', era, server }));
  const handle = serveStdio(
    ({ era }) => {
      const server = createFrontServer(deps, (_ctx, srv) => sessionOf(era, srv));
      hub.track(server);
      wire.connection = era === 'legacy' ? { server, session: () => sessionOf(era, server) } : undefined;
      return server;
    },
    { transport: wire, onerror: (error) => deps.log.debug({ err: error.message }, 'stdio front error') },
  );
  return {
    closed: stdio.closed,
    close: () => handle.close(),
  };
}
