/**
 * The MCP server clients talk to: a low-level SDK `Server` whose every handler hands the
 * request to the pipeline. The same factory serves stdio, 2025-era HTTP sessions and
 * 2026-07-28 requests; only how the session is found differs, and that is passed in.
 */
import {
  CLIENT_CAPABILITIES_META_KEY,
  LOG_LEVEL_META_KEY,
  ProtocolError,
  Server,
  type ClientCapabilities,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { asGatewayError, toJsonRpcError } from '../../errors.js';
import type { Caller, Pipeline } from '../pipeline.js';
import { callerOf, ownSignal } from './caller.js';
import type { Session } from '../session.js';
import type { UpstreamRegistry } from '../upstream/registry.js';

export const GATEWAY_INFO = { name: 'portcullis', version: '0.1.0' } as const;

export interface FrontDeps {
  pipeline: Pipeline;
  registry: UpstreamRegistry;
}

/** Finds (or opens) the session a request belongs to. */
export type SessionResolver = (ctx: ServerContext, server: Server) => Session;

/** Instructions for the client: each connected upstream's, labelled with its name. */
function instructionsOf(registry: UpstreamRegistry): string | undefined {
  const parts: string[] = [];
  for (const u of registry.upstreams) {
    const text = u.state === 'up' ? u.instructions : undefined;
    if (text) parts.push(registry.upstreams.length === 1 ? text : `[${u.name}] ${text}`);
  }
  return parts.length > 0 ? parts.join('\n\n') : undefined;
}

/** Rethrows anything as the JSON-RPC error the client should see. */
function toProtocolError(error: unknown): never {
  const gatewayError = asGatewayError(error);
  const { code, message, data } = toJsonRpcError(gatewayError);
  throw new ProtocolError(code, message, data);
}

export function createFrontServer(deps: FrontDeps, resolveSession: SessionResolver): Server {
  const { pipeline, registry } = deps;
  const capabilities = { ...registry.capabilities(), logging: {}, completions: {} };
  const instructions = instructionsOf(registry);
  const server = new Server(GATEWAY_INFO, { capabilities, ...(instructions ? { instructions } : {}) });

  const callerFor = (ctx: ServerContext, params?: { _meta?: Record<string, unknown> }): Caller => {
    const session = resolveSession(ctx, server);
    const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
    const envelopeCaps = envelope?.[CLIENT_CAPABILITIES_META_KEY] as ClientCapabilities | undefined;
    if (envelopeCaps) session.clientCapabilities = envelopeCaps;
    else session.clientCapabilities ??= server.getClientCapabilities();
    const caller = callerOf(session, ownSignal(ctx.mcpReq.signal), params?._meta?.progressToken ?? ctx.mcpReq._meta?.progressToken, {
      notify: (method, notifyParams) => ctx.mcpReq.notify({ method, params: notifyParams } as never),
      // A 2025-era client is asked mid-request; a 2026-07-28 one through input_required.
      ...(session.era === 'legacy' ? { request: (method, askParams, options) => ctx.mcpReq.send({ method, params: askParams } as never, options) as Promise<Record<string, unknown>> } : {}),
    });
    const level = envelope?.[LOG_LEVEL_META_KEY];
    if (typeof level === 'string') caller.logLevel = level;
    if (ctx.mcpReq.inputResponses) caller.inputResponses = ctx.mcpReq.inputResponses;
    const state = ctx.mcpReq.requestState<string>();
    if (typeof state === 'string') caller.requestState = state;
    return caller;
  };

  const guard = async <T>(run: () => T | Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      return toProtocolError(error);
    }
  };

  server.setRequestHandler('tools/list', (_req, ctx) => guard(() => pipeline.listTools(callerFor(ctx))));
  server.setRequestHandler('tools/call', (req, ctx) =>
    guard(() => pipeline.callTool(callerFor(ctx, req.params), req.params.name, req.params.arguments as Record<string, unknown> | undefined, req.params._meta as Record<string, unknown> | undefined)) as never,
  );
  // The SDK refuses handlers for capabilities the server did not declare.
  if (capabilities.resources) {
    server.setRequestHandler('resources/list', (_req, ctx) => guard(() => pipeline.listResources(callerFor(ctx))));
    server.setRequestHandler('resources/templates/list', (_req, ctx) => guard(() => pipeline.listResourceTemplates(callerFor(ctx))));
    server.setRequestHandler('resources/read', (req, ctx) => guard(() => pipeline.readResource(callerFor(ctx), req.params.uri)) as never);
  }
  if (capabilities.resources?.subscribe) {
    server.setRequestHandler('resources/subscribe', (req, ctx) => guard(() => pipeline.subscribe(callerFor(ctx), req.params.uri, true)));
    server.setRequestHandler('resources/unsubscribe', (req, ctx) => guard(() => pipeline.subscribe(callerFor(ctx), req.params.uri, false)));
  }
  if (capabilities.prompts) {
    server.setRequestHandler('prompts/list', (_req, ctx) => guard(() => pipeline.listPrompts(callerFor(ctx))));
    server.setRequestHandler('prompts/get', (req, ctx) => guard(() => pipeline.getPrompt(callerFor(ctx), req.params.name, req.params.arguments)) as never);
  }
  server.setRequestHandler('completion/complete', (req, ctx) => guard(() => pipeline.complete(callerFor(ctx), req.params)));
  server.setRequestHandler('logging/setLevel', (req, ctx) => guard(() => pipeline.setLoggingLevel(callerFor(ctx), req.params.level)));
  return server;
}
