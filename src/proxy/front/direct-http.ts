/**
 * The direct path (see direct-calls.ts) on the HTTP front: a plain `tools/call` POSTed in a
 * 2025-era session is run by the gateway itself rather than handed through the session's SDK
 * transport and server. Its answer is a plain JSON response, unless the call has to reach the
 * client before it ends (progress, log messages, a sampling, elicitation or roots request): the
 * answer then becomes an event stream at that point, as the SDK's would be, and ends with the
 * result. Requests the call makes of the client go out through the session's SDK server, so
 * their ids, time limits and result checks are the SDK's, and the client's answers come back
 * the usual way, in a POST of their own.
 */
import {
  PROTOCOL_VERSION_META_KEY,
  SUPPORTED_PROTOCOL_VERSIONS,
  isJsonContentType,
  type AuthInfo,
  type JSONRPCMessage,
  type Transport,
  type TransportSendOptions,
  type WebStandardStreamableHTTPServerTransport,
} from '@modelcontextprotocol/server';
import type { Pipeline } from '../pipeline.js';
import type { UpstreamRegistry } from '../upstream/registry.js';
import { DirectCalls, cancelledId, directCallOf, isRequestId, type DirectConnection } from './direct-calls.js';

const encoder = new TextEncoder();

/** A message as JSON; one that cannot be serialised becomes an internal error (answers keep their id). */
function serialise(message: JSONRPCMessage): string {
  try {
    return JSON.stringify(message);
  } catch {
    const id = 'id' in message ? message.id : null;
    return JSON.stringify({ jsonrpc: '2.0', id, error: { code: -32603, message: 'internal error: the answer could not be serialised' } });
  }
}

/** The ids of the requests in a POST body (one message or a batch); responses and notifications have none. */
function requestIdsOf(body: unknown): Array<string | number> {
  const ids: Array<string | number> = [];
  for (const m of Array.isArray(body) ? (body as unknown[]) : [body]) {
    if (typeof m === 'object' && m !== null && typeof (m as { method?: unknown }).method === 'string' && isRequestId((m as { id?: unknown }).id)) ids.push((m as { id: string | number }).id);
  }
  return ids;
}

/** The answer to a request whose id an unanswered request of the session already has (MCP forbids reusing one). */
function idInUse(id: string | number, sessionId: string | undefined): Response {
  const message = `invalid request: id ${JSON.stringify(id)} belongs to a request of this session that has not been answered yet`;
  return new Response(JSON.stringify({ jsonrpc: '2.0', id, error: { code: -32600, message } }), {
    status: 400,
    headers: { 'content-type': 'application/json', ...(sessionId ? { 'mcp-session-id': sessionId } : {}) },
  });
}

/** The error a cancelled request's stream gets on the SDK path (an implementation-defined server error). */
const CANCELLED = -32000;

/**
 * How long an answer stays silent before it turns into an event stream kept open with comments,
 * as the SDK's streams are: proxies and HTTP clients drop a response that sends nothing for long.
 */
const KEEP_ALIVE_MS = 15_000;

const event = (data: string) => encoder.encode(`event: message\ndata: ${data}\n\n`);
const KEEP_ALIVE = encoder.encode(': keepalive\n\n');

/**
 * One direct call's HTTP answer: JSON when nothing else goes to the client first, else an event
 * stream (also once the call has run for `keepAliveMs`, kept alive from then on).
 */
export class CallAnswer {
  readonly response: Promise<Response>;
  private resolve!: (response: Response) => void;
  private events: ReadableStreamDefaultController<Uint8Array> | undefined;
  private ended = false;
  private readonly keepAlive: NodeJS.Timeout;

  constructor(
    private readonly sessionId: string,
    keepAliveMs = KEEP_ALIVE_MS,
  ) {
    this.response = new Promise((resolve) => (this.resolve = resolve));
    this.keepAlive = setInterval(() => void this.write(KEEP_ALIVE).catch(() => undefined), keepAliveMs);
    this.keepAlive.unref();
  }

  /** Sends a message related to the call; rejects once the answer has ended or the client has gone. */
  send(message: JSONRPCMessage): Promise<void> {
    let data: string;
    try {
      data = JSON.stringify(message);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return this.write(event(data));
  }

  /** Ends the answer with the call's response, or with none (a cancelled call is not answered). */
  end(message: JSONRPCMessage | undefined): void {
    if (this.ended) return;
    if (message && !this.events) {
      this.stop();
      this.resolve(new Response(serialise(message), { status: 200, headers: { 'content-type': 'application/json', 'mcp-session-id': this.sessionId } }));
      return;
    }
    const events = this.events ?? this.openEvents();
    if (message) events.enqueue(event(serialise(message)));
    this.stop();
    events.close();
  }

  private write(bytes: Uint8Array): Promise<void> {
    if (this.ended) return Promise.reject(new Error('the answer to this call has ended'));
    try {
      (this.events ?? this.openEvents()).enqueue(bytes);
      return Promise.resolve();
    } catch (error) {
      this.stop();
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private stop(): void {
    this.ended = true;
    clearInterval(this.keepAlive);
  }

  private openEvents(): ReadableStreamDefaultController<Uint8Array> {
    let events!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        events = controller;
      },
      // The client went away: nothing more can reach it on this answer.
      cancel: () => this.stop(),
    });
    this.events = events;
    this.resolve(
      new Response(body, {
        status: 200,
        headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no', 'mcp-session-id': this.sessionId },
      }),
    );
    return events;
  }
}

/**
 * A 2025-era session's transport: the SDK's, plus the direct path. What the SDK server sends
 * about a direct call goes to that call's answer; a client's cancellation of one is taken off
 * before the SDK server sees it; everything else passes through.
 */
export class DirectHttpTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: Transport['onmessage'];
  /** Set once the session's SDK server has been made; until then nothing is served directly. */
  connection: DirectConnection | undefined;
  private readonly calls: DirectCalls;
  /** The answers of running direct calls, by a key of the gateway's own (never a client's request id). */
  private readonly answers = new Map<string, CallAnswer>();
  /** The ids of the requests the SDK transport is answering. */
  private readonly sdkRequests = new Set<string | number>();
  private answerSeq = 0;
  private protocolVersions: readonly string[] = SUPPORTED_PROTOCOL_VERSIONS;

  constructor(
    private readonly sdk: WebStandardStreamableHTTPServerTransport,
    pipeline: Pipeline,
    private readonly registry: UpstreamRegistry,
  ) {
    this.calls = new DirectCalls(pipeline);
    sdk.onmessage = (message, extra) => {
      if (this.calls.cancel(message as Record<string, unknown>)) return;
      this.onmessage?.(message, extra);
      // The SDK server never answers a cancelled request, and the SDK transport would hold its
      // event stream (and its record of the id) open for that answer for good. The stream gets
      // an error for it instead, which the client ignores (it cancelled the request): the stream
      // then ends as usual, once every request on it has its answer.
      const cancelled = cancelledId(message as Record<string, unknown>);
      if (cancelled !== undefined && this.sdkRequests.delete(cancelled)) {
        void this.sdk.send({ jsonrpc: '2.0', id: cancelled, error: { code: CANCELLED, message: 'request cancelled by the client' } }).catch(() => undefined);
      }
    };
    sdk.onclose = () => {
      this.calls.abortAll('the session closed');
      this.onclose?.();
    };
    sdk.onerror = (error) => this.onerror?.(error);
  }

  get sessionId(): string | undefined {
    return this.sdk.sessionId;
  }

  setSupportedProtocolVersions(versions: string[]): void {
    this.protocolVersions = versions;
    this.sdk.setSupportedProtocolVersions(versions);
  }

  start(): Promise<void> {
    return this.sdk.start();
  }

  close(): Promise<void> {
    return this.sdk.close();
  }

  send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if ('id' in message && ('result' in message || 'error' in message)) {
      this.sdkRequests.delete(message.id as string | number);
      return this.sdk.send(message, options);
    }
    const related = options?.relatedRequestId;
    const answer = typeof related === 'string' ? this.answers.get(related) : undefined;
    return answer ? answer.send(message) : this.sdk.send(message, options);
  }

  /**
   * Serves a request of this session through the SDK transport. A request reusing the id of one
   * still unanswered is refused: the SDK transport keeps one stream per id, and one of the two
   * would never be answered.
   */
  async handleRequest(request: Request, body: unknown, authInfo: AuthInfo): Promise<Response> {
    // A POST the SDK transport refuses for its headers never reaches the SDK server: leave it the answer.
    const ids = request.method === 'POST' && this.acceptsHeaders(request) ? requestIdsOf(body) : [];
    const taken = ids.find((id, i) => this.inUse(id) || ids.indexOf(id) !== i);
    if (taken !== undefined) return idInUse(taken, this.sdk.sessionId);
    for (const id of ids) this.sdkRequests.add(id);
    const response = await this.sdk.handleRequest(request, { parsedBody: body, authInfo });
    // Refused, or not answered on a stream: nothing more will be sent for them.
    if (!response.headers.get('content-type')?.startsWith('text/event-stream')) for (const id of ids) this.sdkRequests.delete(id);
    return response;
  }

  private inUse(id: string | number): boolean {
    return this.calls.has(id) || this.sdkRequests.has(id);
  }

  /**
   * Serves the request if it is a call the direct path takes: a POST of this session, with the
   * headers the SDK transport accepts, that the SDK would class as 2025-era (no protocol
   * envelope in `_meta`, no 2026-era version header). Undefined leaves it to the caller.
   */
  serveDirect(request: Request, body: unknown): Promise<Response> | undefined {
    const connection = this.connection;
    const sessionId = this.sdk.sessionId;
    if (request.method !== 'POST' || !sessionId || !this.acceptsHeaders(request)) return undefined;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
    // Until the client has initialised, the SDK server answers (and refuses) what it sends.
    if (!connection?.server.getClientCapabilities()) return undefined;
    const call = directCallOf(body as Record<string, unknown>, this.registry);
    if (!call || (call.params._meta && PROTOCOL_VERSION_META_KEY in call.params._meta)) return undefined;
    if (this.inUse(call.id)) return Promise.resolve(idInUse(call.id, sessionId));
    const answer = new CallAnswer(sessionId);
    // Requests the SDK server sends for the call find its answer by this key: a request of the
    // SDK path that reuses the call's id must not.
    const related = `portcullis-direct-${++this.answerSeq}`;
    this.answers.set(related, answer);
    void this.calls
      .answer(call, connection, (message) => answer.send(message), related)
      .then((response) => {
        this.answers.delete(related);
        answer.end(response);
      })
      .catch((error: unknown) => this.onerror?.(error instanceof Error ? error : new Error(String(error))));
    return answer.response;
  }

  /**
   * The headers the SDK transport accepts for a POST, with a 2025-era version if any (the SDK's
   * list holds only those); anything else gets the SDK's answer (406, 415, 400) or goes to the
   * 2026-era handler.
   */
  private acceptsHeaders(request: Request): boolean {
    const accept = request.headers.get('accept');
    if (!accept?.includes('application/json') || !accept.includes('text/event-stream')) return false;
    if (!isJsonContentType(request.headers.get('content-type'))) return false;
    const version = request.headers.get('mcp-protocol-version');
    return version === null || (SUPPORTED_PROTOCOL_VERSIONS.includes(version) && this.protocolVersions.includes(version));
  }
}
