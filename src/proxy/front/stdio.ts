/**
 * The stdio front: one client on stdin/stdout, for assistants that launch their servers. The
 * SDK's serveStdio decides the era from the opening exchange; the connection is one session.
 */
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import type { Logger } from '../../log.js';
import type { FrontHub } from './hub.js';
import { createFrontServer, type FrontDeps } from './server.js';

export interface StdioFront {
  close(): Promise<void>;
}

export function startStdioFront(deps: FrontDeps & { hub: FrontHub; log: Logger; agent: string }): StdioFront {
  const { hub } = deps;
  const handle = serveStdio(
    ({ era }) => {
      const server = createFrontServer(deps, (_ctx, srv) =>
        hub.sessions.open('stdio', () => hub.newSession({ agent: deps.agent, claims: undefined, transport: 'stdio', era, server: srv })),
      );
      hub.track(server);
      return server;
    },
    { onerror: (error) => deps.log.debug({ err: error.message }, 'stdio front error') },
  );
  return {
    close: () => handle.close(),
  };
}
