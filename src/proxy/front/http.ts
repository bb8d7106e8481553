/**
 * The Streamable HTTP front at /mcp, for both protocol eras. 2025-era clients get real sessions
 * (Mcp-Session-Id: missing → 400, unknown → 404); 2026-07-28 requests are served per request
 * and grouped into a session by the caller's identity.
 */
import { randomUUID } from 'node:crypto';
import {
  WebStandardStreamableHTTPServerTransport,
  createMcpHandler,
  isInitializeRequest,
  isLegacyRequest,
  type AuthInfo,
  type McpHttpHandler,
  type Server,
} from '@modelcontextprotocol/server';
import type { Logger } from '../../log.js';
import { DirectHttpTransport } from './direct-http.js';
import type { FrontHub } from './hub.js';
import { createFrontServer, type FrontDeps } from './server.js';

/** Who is calling, as established by the HTTP edge (auth) before the MCP layer sees the request. */
export interface HttpIdentity {
  agent: string;
  claims: Readonly<Record<string, unknown>> | undefined;
  /** Session key for session-less (2026-07-28) requests: token sid, else jti, else the agent. */
  modernSessionKey: string;
}

export interface McpHttpFront {
  handle(request: Request, identity: HttpIdentity): Promise<Response>;
  readonly legacySessionCount: number;
  close(): Promise<void>;
}

interface LegacySession {
  transport: DirectHttpTransport;
  server: Server;
  agent: string;
}

function jsonRpcError(status: number, code: number, message: string, headers?: Record<string, string>): Response {
  return new Response(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

/** Reads a request body up to `max` bytes; undefined when it is larger. */
async function readCapped(request: Request, max: number): Promise<string | undefined> {
  const length = request.headers.get('content-length');
  if (length !== null && /^\d+$/.test(length)) {
    // The HTTP framing holds the body to its declared length: read it whole, in one go (the
    // Node adapter then skips building a web stream for it).
    return Number(length) > max ? undefined : request.text();
  }
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function createMcpHttpFront(deps: FrontDeps & { hub: FrontHub; log: Logger; maxRequestBytes: number; maxSessions: number }): McpHttpFront {
  const { hub, log } = deps;
  const legacy = new Map<string, LegacySession>();

  const modern: McpHttpHandler = createMcpHandler(
    ({ authInfo }) => {
      const identity = (authInfo?.extra?.portcullis ?? undefined) as HttpIdentity | undefined;
      if (!identity) throw new Error('request reached the MCP layer without an identity');
      const server = createFrontServer(deps, () =>
        hub.sessions.open(`m:${identity.modernSessionKey}`, () => hub.newSession({ agent: identity.agent, claims: identity.claims, transport: 'http', era: 'modern' })),
      );
      return server;
    },
    { legacy: 'reject', maxRequestBodySize: deps.maxRequestBytes, onerror: (error) => log.debug({ err: error.message }, 'mcp handler error') },
  );
  hub.onModernChange = (kinds) => {
    if (kinds.tools) modern.notify.toolsChanged();
    if (kinds.resources) modern.notify.resourcesChanged();
    if (kinds.prompts) modern.notify.promptsChanged();
  };
  hub.onModernResourceUpdated = (uri) => modern.notify.resourceUpdated(uri);

  async function openLegacySession(identity: HttpIdentity, request: Request, body: unknown, authInfo: AuthInfo): Promise<Response> {
    if (legacy.size >= deps.maxSessions) return jsonRpcError(503, -32000, 'too many open sessions; close one or try later');
    const sdkTransport: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        legacy.set(id, { transport, server, agent: identity.agent });
      },
      onsessionclosed: (id) => {
        legacy.delete(id);
        hub.sessions.close(`l:${id}`);
      },
    });
    const transport = new DirectHttpTransport(sdkTransport, deps.pipeline, deps.registry);
    transport.onclose = () => {
      const id = transport.sessionId;
      if (id) {
        legacy.delete(id);
        hub.sessions.close(`l:${id}`);
      }
    };
    const sessionOf = (sessionId: string | undefined) =>
      hub.sessions.open(`l:${sessionId ?? transport.sessionId ?? 'unknown'}`, () => hub.newSession({ agent: identity.agent, claims: identity.claims, transport: 'http', era: 'legacy', server }));
    const server: Server = createFrontServer(deps, (ctx) => sessionOf(ctx.sessionId));
    transport.connection = { server, session: () => sessionOf(undefined) };
    hub.track(server);
    await server.connect(transport);
    return transport.handleRequest(request, body, authInfo);
  }

  return {
    async handle(request, identity) {
      let body: unknown;
      if (request.method === 'POST') {
        const text = await readCapped(request, deps.maxRequestBytes);
        if (text === undefined) return jsonRpcError(413, -32600, `request body larger than ${deps.maxRequestBytes} bytes`);
        try {
          body = JSON.parse(text);
        } catch {
          return jsonRpcError(400, -32700, 'parse error: the request body is not valid JSON');
        }
        if (typeof body !== 'object' || body === null) return jsonRpcError(400, -32600, 'invalid request: expected a JSON-RPC object or batch');
      }
      const sessionId = request.headers.get('mcp-session-id');
      const existing = sessionId ? legacy.get(sessionId) : undefined;
      // The hot path first: a plain call in a 2025-era session is classified and served without the SDK.
      const direct = existing?.agent === identity.agent ? existing.transport.serveDirect(request, body) : undefined;
      if (direct) return direct;
      const authInfo: AuthInfo = { token: '', clientId: identity.agent, scopes: [], extra: { portcullis: identity } };
      if (!(await isLegacyRequest(request, body, { maxRequestBodySize: deps.maxRequestBytes }))) {
        return modern.fetch(request, { authInfo, parsedBody: body });
      }
      if (sessionId) {
        // 404, not 400: the client must re-initialize.
        if (!existing) return jsonRpcError(404, -32001, 'session not found: initialize a new session');
        if (existing.agent !== identity.agent) return jsonRpcError(403, -32003, 'this session belongs to another agent');
        return existing.transport.handleRequest(request, body, authInfo);
      }
      const isInit = request.method === 'POST' && (Array.isArray(body) ? body.some((m) => isInitializeRequest(m)) : isInitializeRequest(body));
      if (isInit) return openLegacySession(identity, request, body, authInfo);
      return jsonRpcError(400, -32000, 'bad request: missing Mcp-Session-Id header (send initialize first)');
    },
    get legacySessionCount() {
      return legacy.size;
    },
    async close() {
      const sessions = [...legacy.values()];
      legacy.clear();
      await Promise.allSettled(sessions.map((s) => s.server.close()));
      await modern.close().catch(() => undefined);
    },
  };
}
