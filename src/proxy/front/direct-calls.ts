/**
 * `tools/call` served without the SDK server for 2025-era clients: the forwarding hot path. The
 * request goes to the same `pipeline.callTool` as through the SDK server (policy, taint,
 * approvals, audit are all there); only the SDK's per-request machinery is skipped. Only calls
 * that are 2025-era end to end are served here (the upstream too, see `Upstream.acceptsDirect`):
 * anything else (a client that has not initialised, params of another shape, a 2026-07-28
 * client or upstream, whose input_required rounds the SDK server relays) is left to the SDK
 * server, which answers it as before.
 *
 * This file holds what both fronts share (which messages qualify, running one, cancelling it)
 * and the stdio wire's side; the HTTP front's side is direct-http.ts.
 *
 * Direct calls start as they arrive, not behind requests the SDK server is still working through;
 * MCP does not order a client's concurrent requests, and clients that need an order (setLevel
 * before a call) wait for the earlier answer.
 */
import { specTypeSchemas, type JSONRPCMessage, type Server, type Transport, type TransportSendOptions } from '@modelcontextprotocol/server';
import { asGatewayError, GatewayError, toJsonRpcError } from '../../errors.js';
import type { Intercept } from '../json-lines.js';
import { CLIENT_CANCELLED, type Pipeline } from '../pipeline.js';
import type { Session } from '../session.js';
import type { UpstreamRegistry } from '../upstream/registry.js';
import { callerOf } from './caller.js';

/** Longest tool name served directly; longer ones get the SDK's (and the pipeline's) answer. */
const MAX_NAME_LENGTH = 1_024;
/** The keys a plain 2025-era tools/call carries. */
const PARAM_KEYS = new Set(['name', 'arguments', '_meta']);

export type Params = { name: string; arguments?: Record<string, unknown>; _meta?: Record<string, unknown> };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A JSON-RPC id (and a progress token) as MCP's schema has it: a string or an integer. */
export function isRequestId(value: unknown): value is string | number {
  return typeof value === 'string' || Number.isSafeInteger(value);
}

/** The keys a JSON-RPC request carries; one with others is left to the SDK's (strict) schema. */
const REQUEST_KEYS = new Set(['jsonrpc', 'id', 'method', 'params']);

function plainCallParams(params: unknown): Params | undefined {
  if (!isPlainObject(params)) return undefined;
  for (const key in params) if (!PARAM_KEYS.has(key)) return undefined;
  const { name, arguments: args, _meta: meta } = params;
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_LENGTH) return undefined;
  if (args !== undefined && !isPlainObject(args)) return undefined;
  if (meta !== undefined && !isPlainObject(meta)) return undefined;
  if (meta?.progressToken !== undefined && !isRequestId(meta.progressToken)) return undefined;
  return params as Params;
}

/**
 * A tool whose upstream is 2025-era over stdio, shared by all sessions: a session-isolated
 * upstream gets its own instance per session, which the shared one's era says nothing about.
 */
function isDirectRoute(registry: UpstreamRegistry, name: string): boolean {
  const upstream = registry.findTool(name)?.upstream;
  return upstream !== undefined && upstream.acceptsDirect && upstream.config.isolation !== 'session';
}

const CALL_TOOL_RESULT = specTypeSchemas.CallToolResult['~standard'];
/** Keys that make a result another kind (a task, an input_required round); the SDK adds no content to those. */
const FOREIGN_RESULT_KEYS = ['task', 'inputRequests', 'requestState'];

/**
 * The result as the SDK server sends it to a 2025-era client: a result without content gets an
 * empty one, content blocks keep only the keys their schema has, and a result that is still not
 * a tools/call result is refused with invalid params, as the SDK refuses it.
 */
function wireResult(result: unknown, name: string): Record<string, unknown> {
  const normalised = isPlainObject(result) && result.content === undefined && !FOREIGN_RESULT_KEYS.some((key) => key in result) ? { ...result, content: [] } : result;
  const checked = CALL_TOOL_RESULT.validate(normalised);
  const value = checked instanceof Promise || checked.issues ? undefined : checked.value;
  if (!isPlainObject(value) || (value.structuredContent !== undefined && !isPlainObject(value.structuredContent))) {
    throw new GatewayError('INVALID_PARAMS', `invalid tools/call result from ${name}`);
  }
  return value;
}

/** A plain 2025-era tools/call the direct path can serve. */
export interface DirectCall {
  readonly id: string | number;
  readonly params: Params;
}

/**
 * The message (parsed, not yet validated) as a call the direct path can serve: a plain
 * tools/call request to a direct route. Undefined leaves it to the SDK server.
 */
export function directCallOf(m: Record<string, unknown>, registry: UpstreamRegistry): DirectCall | undefined {
  if (m.jsonrpc !== '2.0' || m.method !== 'tools/call' || !isRequestId(m.id)) return undefined;
  for (const key in m) if (!REQUEST_KEYS.has(key)) return undefined;
  const params = plainCallParams(m.params);
  if (!params || !isDirectRoute(registry, params.name)) return undefined;
  return { id: m.id, params };
}

/** The id a client's notifications/cancelled names, if it is one. */
export function cancelledId(m: Record<string, unknown>): string | number | undefined {
  if (m.jsonrpc !== '2.0' || m.method !== 'notifications/cancelled' || !isPlainObject(m.params)) return undefined;
  const requestId = m.params.requestId;
  return isRequestId(requestId) ? requestId : undefined;
}

/** The direct calls of one connection (or HTTP session): runs them, and cancels them. */
export class DirectCalls {
  private readonly inFlight = new Map<string | number, AbortController>();

  constructor(private readonly pipeline: Pipeline) {}

  /** Whether a call with this id is running here (the stdio front leaves a reused id to the SDK server; the HTTP front refuses it). */
  has(id: string | number): boolean {
    return this.inFlight.has(id);
  }

  /** Takes a client's notifications/cancelled for a call running here; false when it is not one. */
  cancel(m: Record<string, unknown>): boolean {
    const id = cancelledId(m);
    const controller = id === undefined ? undefined : this.inFlight.get(id);
    if (!controller) return false;
    controller.abort(new Error(CLIENT_CANCELLED));
    return true;
  }

  /** Aborts every running call (the client went away). */
  abortAll(reason: string): void {
    for (const controller of this.inFlight.values()) controller.abort(new Error(reason));
    this.inFlight.clear();
  }

  /**
   * Runs the call through the pipeline: its JSON-RPC answer, or undefined when the client
   * cancelled it (a cancelled request is not answered). Never rejects. Notifications for the
   * client go to `notify`; requests go through the connection's SDK server, marked with
   * `relatedRequestId` when the transport routes by it (HTTP).
   */
  async answer(call: DirectCall, connection: DirectConnection, notify: (message: JSONRPCMessage) => Promise<void>, relatedRequestId?: string): Promise<JSONRPCMessage | undefined> {
    const { id, params } = call;
    const controller = new AbortController();
    this.inFlight.set(id, controller);
    let response: JSONRPCMessage;
    try {
      const session = connection.session();
      session.clientCapabilities ??= connection.server.getClientCapabilities();
      const caller = callerOf(session, controller.signal, params._meta?.progressToken, {
        notify: (method, notifyParams) => notify({ jsonrpc: '2.0', method, params: notifyParams } as JSONRPCMessage),
        request: (method, askParams, options) =>
          connection.server.request({ method, params: askParams } as never, relatedRequestId === undefined ? options : { ...options, relatedRequestId }) as Promise<Record<string, unknown>>,
      });
      const result = await this.pipeline.callTool(caller, params.name, params.arguments, params._meta);
      response = { jsonrpc: '2.0', id, result: wireResult(result, params.name) } as JSONRPCMessage;
    } catch (error) {
      const { code, message, data } = toJsonRpcError(asGatewayError(error));
      // The 2025 revision has no -32002 for a call: the SDK sends invalid params instead.
      response = { jsonrpc: '2.0', id, error: { code: code === -32002 ? -32602 : code, message, ...(data === undefined ? {} : { data }) } };
    } finally {
      this.inFlight.delete(id);
    }
    return controller.signal.aborted ? undefined : response;
  }
}

/** What the direct path needs of the connection (or HTTP session): set once its SDK server has been made. */
export interface DirectConnection {
  /** The connection's SDK server (for requests to the client and its capabilities). */
  readonly server: Server;
  /** The connection's session, opened on first use. */
  session(): Session;
}

/** A wire that offers each parsed message to `intercept` before validating it (see json-lines.ts). */
export interface InterceptingTransport extends Transport {
  intercept: Intercept | undefined;
}

/**
 * Wraps the stdio wire: inbound `tools/call` requests (and cancellations of them) that the
 * direct path can serve are taken off as they are parsed, before the SDK (or its schema
 * validation) sees them; everything else passes through.
 */
export class DirectCallsTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: Transport['onmessage'];
  /** Set by the front once the connection is a 2025-era one; until then nothing is served directly. */
  connection: DirectConnection | undefined;
  private readonly calls: DirectCalls;

  constructor(
    private readonly wire: InterceptingTransport,
    pipeline: Pipeline,
    private readonly registry: UpstreamRegistry,
  ) {
    this.calls = new DirectCalls(pipeline);
    wire.intercept = (message) => this.take(message);
    wire.onmessage = (message, extra) => this.onmessage?.(message, extra);
    wire.onclose = () => {
      this.calls.abortAll('the client went away');
      this.onclose?.();
    };
    wire.onerror = (error) => this.onerror?.(error);
  }

  start(): Promise<void> {
    return this.wire.start();
  }

  send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    return this.wire.send(message, options);
  }

  close(): Promise<void> {
    return this.wire.close();
  }

  /** Serves the message (parsed, not yet validated) if it is ours to serve; false leaves it to the SDK. */
  private take(m: Record<string, unknown>): boolean {
    if (this.calls.cancel(m)) return true;
    const connection = this.connection;
    // Until the client has initialised, the SDK server answers (and refuses) what it sends.
    if (!connection?.server.getClientCapabilities()) return false;
    const call = directCallOf(m, this.registry);
    if (!call || this.calls.has(call.id)) return false;
    void this.serve(connection, call);
    return true;
  }

  private async serve(connection: DirectConnection, call: DirectCall): Promise<void> {
    const response = await this.calls.answer(call, connection, (message) => this.send(message));
    if (!response) return;
    await this.send(response).catch((error: unknown) => this.onerror?.(error instanceof Error ? error : new Error(String(error))));
  }
}
