/**
 * One upstream MCP server: its connection (stdio child, Streamable HTTP or SSE), its catalog
 * (tools, resources, templates, prompts), restart with backoff, and the last lines of its
 * stderr for error messages. It knows nothing of policy or clients: requests the upstream makes
 * of the client (sampling, elicitation, roots) and its notifications go to the hooks.
 */
import {
  Client,
  ProtocolError,
  SSEClientTransport,
  StreamableHTTPClientTransport,
  type ClientCapabilities,
  type McpSubscription,
  type Prompt,
  type Resource,
  type ResourceTemplateType as ResourceTemplate,
  type ServerCapabilities,
  type Tool,
  type Transport,
} from '@modelcontextprotocol/client';
import { getDefaultEnvironment } from '@modelcontextprotocol/client/stdio';
import { isStdioServer, type ServerConfig } from '../../config/index.js';
import { GatewayError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { compileGlob } from '../../policy/index.js';
import { ChildStdioTransport } from './child-stdio.js';
import { killTree } from './process-tree.js';

export type UpstreamState = 'starting' | 'up' | 'down' | 'closed';

export type ProgressParams = { progress: number; total?: number; message?: string };

export interface Catalog {
  tools: Tool[];
  resources: Resource[];
  resourceTemplates: ResourceTemplate[];
  prompts: Prompt[];
}

/** Server→client request methods an upstream may send, forwarded to the client behind the call. */
export type ClientRequestMethod = 'sampling/createMessage' | 'elicitation/create' | 'roots/list';

export interface UpstreamHooks {
  /** The catalog changed (connected, list_changed, went down). */
  onCatalogChanged(upstream: Upstream): void;
  /** A notification that is not about lists or progress (logging, resources/updated, …). */
  onNotification(upstream: Upstream, method: string, params: Record<string, unknown> | undefined): void;
  /** The upstream is being restarted after going down. */
  onRestart?(upstream: Upstream): void;
  /** The upstream asks something of the client; answer or throw. */
  onClientRequest(upstream: Upstream, method: ClientRequestMethod, params: Record<string, unknown>, signal: AbortSignal): Promise<Record<string, unknown>>;
}

const EMPTY_CATALOG: Catalog = { tools: [], resources: [], resourceTemplates: [], prompts: [] };
const STDERR_LINES = 20;
const MAX_BACKOFF_MS = 30_000;

/** What the gateway declares to upstreams: everything it can forward to some client. */
const CLIENT_CAPABILITIES: ClientCapabilities = {
  sampling: {},
  elicitation: { form: {}, url: {} },
  roots: { listChanged: true },
};

export class Upstream {
  readonly name: string;
  readonly prefix: string;
  readonly config: ServerConfig;
  state: UpstreamState = 'starting';
  catalog: Catalog = EMPTY_CATALOG;
  /** Why it is down, for "upstream X unavailable: <reason>". */
  lastError: string | undefined;
  restarts = 0;
  private client: Client | undefined;
  private transport: Transport | undefined;
  private readonly stderrTail: string[] = [];
  private restartTimer: NodeJS.Timeout | undefined;
  private backoffMs = 500;
  private connecting: Promise<void> | undefined;
  private listening: McpSubscription | undefined;
  /** Progress listeners by the progress token the gateway put on its request. */
  private readonly progressRoutes = new Map<string, (progress: ProgressParams) => void>();
  /** Requests sent straight over the transport (see `requestDirect`), by their id. */
  private readonly directRequests = new Map<string, DirectRequest>();
  private directSeq = 0;
  /** Resource URIs clients subscribed to, with how many subscribers each. */
  private readonly watched = new Map<string, number>();
  private readonly log: Logger;
  private readonly hooks: UpstreamHooks;

  /** Results of this tool are tainted: an external server's, or one listed in `taintSources`. */
  readonly isTaintSource: (toolName: string) => boolean;

  constructor(name: string, config: ServerConfig, deps: { log: Logger; hooks: UpstreamHooks }) {
    this.name = name;
    this.config = config;
    const sources = (config.taintSources ?? []).map((p) => compileGlob(p));
    this.isTaintSource = config.trust === 'external' ? () => true : (toolName) => sources.some((m) => m(toolName));
    this.prefix = config.prefix ?? name;
    this.log = deps.log.child({ upstream: name });
    this.hooks = deps.hooks;
  }

  /** What the upstream offered when last connected (kept while it is down, so clients still see the shape). */
  knownCapabilities: ServerCapabilities = {};

  get capabilities(): ServerCapabilities {
    return this.client?.getServerCapabilities() ?? {};
  }

  get instructions(): string | undefined {
    return this.client?.getInstructions();
  }

  get era(): 'legacy' | 'modern' | undefined {
    return this.client?.getProtocolEra();
  }

  /** The last stderr line, for error messages. */
  get lastStderr(): string | undefined {
    return this.stderrTail.at(-1);
  }

  /** Connects (once at a time); resolves whether or not it came up — see `state`. */
  start(): Promise<void> {
    if (this.state === 'closed') return Promise.resolve();
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private buildTransport(): Transport {
    const cfg = this.config;
    if (isStdioServer(cfg)) {
      return new ChildStdioTransport({
        command: cfg.command,
        ...(cfg.args === undefined ? {} : { args: cfg.args }),
        env: { ...getDefaultEnvironment(), ...(cfg.env ?? {}) },
        ...(cfg.cwd === undefined ? {} : { cwd: cfg.cwd }),
        onStderrLine: (line) => this.pushStderr(line),
      });
    }
    const url = new URL(cfg.url);
    const requestInit: RequestInit = cfg.headers ? { headers: cfg.headers } : {};
    return cfg.transport === 'sse' ? new SSEClientTransport(url, { requestInit }) : new StreamableHTTPClientTransport(url, { requestInit });
  }

  private pushStderr(line: string): void {
    const trimmed = line.trim();
    if (trimmed === '') return;
    this.stderrTail.push(trimmed.slice(0, 500));
    if (this.stderrTail.length > STDERR_LINES) this.stderrTail.shift();
    this.log.debug({ stderr: trimmed.slice(0, 500) }, 'upstream stderr');
  }

  private async connect(): Promise<void> {
    this.state = 'starting';
    const cfg = this.config;
    const mode = cfg.protocol === 'legacy' ? undefined : cfg.protocol === 'modern' ? { pin: '2026-07-28' as const } : ('auto' as const);
    const client = new Client(
      { name: 'portcullis', version: '0.1.0' },
      {
        capabilities: CLIENT_CAPABILITIES,
        ...(mode === undefined ? {} : { versionNegotiation: { mode, probe: { timeoutMs: Math.min(cfg.startTimeout, 5_000) } } }),
        // The gateway relays input_required rounds to its own client instead of answering them.
        inputRequired: { autoFulfill: false },
      },
    );
    let transport: Transport;
    try {
      transport = this.buildTransport();
    } catch (error) {
      this.markDown(`cannot start: ${errorText(error)}`);
      return;
    }
    this.installHandlers(client);
    client.onerror = (error) => this.log.debug({ err: errorText(error) }, 'upstream transport error');
    client.onclose = () => {
      if (this.client === client) this.markDown(this.state === 'up' ? 'connection closed' : 'exited during start');
    };
    this.client = client;
    this.transport = transport;
    try {
      await client.connect(transport, { timeout: cfg.startTimeout });
      this.routeInWireOrder(transport);
      this.knownCapabilities = client.getServerCapabilities() ?? {};
      this.catalog = await this.fetchCatalog(client);
      if (client.getProtocolEra() === 'modern') await this.listenForChanges(client);
      this.state = 'up';
      this.lastError = undefined;
      this.backoffMs = 500;
      this.log.info({ era: client.getProtocolEra(), tools: this.catalog.tools.length }, 'upstream connected');
      this.hooks.onCatalogChanged(this);
    } catch (error) {
      if (this.client === client) this.markDown(`cannot connect: ${errorText(error)}`);
    }
  }

  /**
   * Progress for the gateway's own tokens is taken off the wire as it arrives: the SDK handles a
   * response at once but a notification a turn later, so a final progress sent just before the
   * result would otherwise be dropped. Answers to direct requests are taken off as they are
   * parsed, before the SDK's schema validation (settleDirect checks what it relies on).
   */
  private routeInWireOrder(transport: Transport): void {
    if (transport instanceof ChildStdioTransport) {
      transport.intercept = (m) => {
        if (m.jsonrpc !== '2.0' || typeof m.id !== 'string' || m.method !== undefined) return false;
        const pending = this.directRequests.get(m.id);
        if (!pending) return false;
        this.settleDirect(m.id, pending, m);
        return true;
      };
    }
    const sdk = transport.onmessage;
    if (!sdk) return;
    transport.onmessage = (message, extra) => {
      const m = message as { method?: string; params?: { progressToken?: unknown } & ProgressParams };
      if (m.method === 'notifications/progress' && typeof m.params?.progressToken === 'string') {
        const route = this.progressRoutes.get(m.params.progressToken);
        if (route) {
          const { progressToken: _token, ...progress } = m.params;
          route(progress);
          return;
        }
      }
      sdk.call(transport, message, extra);
    };
  }

  /**
   * Whether `requestDirect` may be used: a 2025-era stdio upstream, where a request is one line
   * out and its answer one line back. (A 2026-07-28 upstream needs the SDK's per-request
   * envelope, and HTTP transports their own request bookkeeping.)
   */
  get acceptsDirect(): boolean {
    return this.state === 'up' && this.transport instanceof ChildStdioTransport && this.client?.getProtocolEra() === 'legacy';
  }

  /**
   * Sends a request straight over the transport, without the SDK client's per-request machinery
   * (abort wiring, timers, schema hooks): the forwarding hot path. Its id (`pcd-N`, a string)
   * never collides with the SDK's numeric ids. Settles like `Client.request`: the result as
   * sent (any object), a ProtocolError for a JSON-RPC error, or an Error saying it timed out,
   * was cancelled (the upstream is told), or the connection closed. An answer arriving after a
   * timeout or cancellation matches nothing and goes on to the SDK, which drops it as unknown.
   */
  requestDirect(method: string, params: Record<string, unknown>, opts: { signal: AbortSignal; timeoutMs: number }): Promise<Record<string, unknown>> {
    const transport = this.transport;
    if (!this.acceptsDirect || !transport) return Promise.reject(this.unavailable());
    if (opts.signal.aborted) return Promise.reject(new Error('request cancelled'));
    const id = `pcd-${++this.directSeq}`;
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        if (!this.directRequests.delete(id)) return;
        clearTimeout(timer);
        void transport.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason: 'cancelled by the client' } }).catch(() => undefined);
        reject(new Error('request cancelled'));
      };
      const timer = setTimeout(() => {
        if (!this.directRequests.delete(id)) return;
        opts.signal.removeEventListener('abort', onAbort);
        void transport.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason: 'timed out' } }).catch(() => undefined);
        reject(new Error('request timed out'));
      }, opts.timeoutMs);
      timer.unref();
      opts.signal.addEventListener('abort', onAbort, { once: true });
      this.directRequests.set(id, {
        resolve,
        reject,
        done: () => {
          clearTimeout(timer);
          opts.signal.removeEventListener('abort', onAbort);
        },
      });
      transport.send({ jsonrpc: '2.0', id, method, params }).catch((error: unknown) => {
        const pending = this.directRequests.get(id);
        if (!pending) return;
        this.directRequests.delete(id);
        pending.done();
        reject(error instanceof Error ? error : new Error(String(error)));
      });
    });
  }

  private settleDirect(id: string, pending: DirectRequest, message: { result?: unknown; error?: unknown }): void {
    this.directRequests.delete(id);
    pending.done();
    const error = message.error as { code?: unknown; message?: unknown; data?: unknown } | undefined;
    if (error !== undefined) {
      const code = typeof error?.code === 'number' ? error.code : -32603;
      pending.reject(new ProtocolError(code, typeof error?.message === 'string' ? error.message : 'upstream error', error?.data));
    } else if (typeof message.result === 'object' && message.result !== null && !Array.isArray(message.result)) {
      pending.resolve(message.result as Record<string, unknown>);
    } else {
      pending.reject(new ProtocolError(-32603, 'upstream sent an invalid result'));
    }
  }

  /** Fails every direct request in flight: the connection they were sent on is gone. */
  private failDirect(reason: string): void {
    const pending = [...this.directRequests.values()];
    this.directRequests.clear();
    for (const request of pending) {
      request.done();
      request.reject(new Error(reason));
    }
  }

  /** Sends progress notifications carrying `token` to `listener` until the returned function is called. */
  onProgress(token: string, listener: (progress: ProgressParams) => void): () => void {
    this.progressRoutes.set(token, listener);
    return () => this.progressRoutes.delete(token);
  }

  private installHandlers(client: Client): void {
    const refresh = () => {
      void this.refreshCatalog();
    };
    client.setNotificationHandler('notifications/tools/list_changed', refresh);
    client.setNotificationHandler('notifications/resources/list_changed', refresh);
    client.setNotificationHandler('notifications/prompts/list_changed', refresh);
    client.setNotificationHandler('notifications/message', (n) => this.hooks.onNotification(this, n.method, n.params as Record<string, unknown>));
    client.setNotificationHandler('notifications/resources/updated', (n) => this.hooks.onNotification(this, n.method, n.params as Record<string, unknown>));
    for (const method of ['sampling/createMessage', 'elicitation/create', 'roots/list'] as const) {
      client.setRequestHandler(method, async (request, ctx) => {
        const result = await this.hooks.onClientRequest(this, method, (request.params ?? {}) as Record<string, unknown>, ctx.mcpReq.signal);
        // The client's answer is relayed as-is; the SDK validates its shape for this method.
        return result as never;
      });
    }
  }

  /**
   * A 2026-07-28 upstream sends change notifications only on a subscriptions/listen stream: one
   * stream per upstream, re-opened whenever the set of watched resources changes.
   */
  private async listenForChanges(client: Client): Promise<void> {
    const caps = client.getServerCapabilities() ?? {};
    const filter = {
      ...(caps.tools?.listChanged ? { toolsListChanged: true } : {}),
      ...(caps.prompts?.listChanged ? { promptsListChanged: true } : {}),
      ...(caps.resources?.listChanged ? { resourcesListChanged: true } : {}),
      ...(this.watched.size > 0 ? { resourceSubscriptions: [...this.watched.keys()] } : {}),
    };
    const previous = this.listening;
    this.listening = undefined;
    await previous?.close().catch(() => undefined);
    if (Object.keys(filter).length === 0) return;
    try {
      this.listening = await client.listen(filter);
    } catch (error) {
      this.log.warn({ err: errorText(error) }, 'upstream refused subscriptions/listen; its changes will not be seen');
    }
  }

  /**
   * Subscribes to (or releases) updates of a resource for one more (or one fewer) client; the
   * upstream is asked only when the first client subscribes or the last one leaves.
   */
  async watchResource(uri: string, on: boolean): Promise<void> {
    const client = this.requireClient();
    const count = this.watched.get(uri) ?? 0;
    const next = on ? count + 1 : Math.max(0, count - 1);
    if (next === 0) this.watched.delete(uri);
    else this.watched.set(uri, next);
    if ((count === 0) === (next === 0)) return;
    if (client.getProtocolEra() === 'modern') await this.listenForChanges(client);
    else if (on) await client.subscribeResource({ uri });
    else await client.unsubscribeResource({ uri });
  }

  private async fetchCatalog(client: Client): Promise<Catalog> {
    const caps = client.getServerCapabilities() ?? {};
    const opts = { cacheMode: 'bypass' as const };
    const [tools, resources, resourceTemplates, prompts] = await Promise.all([
      caps.tools ? client.listTools(undefined, opts).then((r) => r.tools) : [],
      caps.resources ? client.listResources(undefined, opts).then((r) => r.resources) : [],
      caps.resources ? client.listResourceTemplates(undefined, opts).then((r) => r.resourceTemplates).catch(() => []) : [],
      caps.prompts ? client.listPrompts(undefined, opts).then((r) => r.prompts) : [],
    ]);
    return { tools, resources, resourceTemplates, prompts };
  }

  async refreshCatalog(): Promise<void> {
    const client = this.client;
    if (!client || this.state !== 'up') return;
    try {
      this.catalog = await this.fetchCatalog(client);
      this.hooks.onCatalogChanged(this);
    } catch (error) {
      this.log.warn({ err: errorText(error) }, 'could not refresh the catalog');
    }
  }

  private markDown(reason: string): void {
    if (this.state === 'closed') return;
    const wasUp = this.state === 'up';
    this.state = 'down';
    this.lastError = reason;
    this.catalog = EMPTY_CATALOG;
    const stderr = this.lastStderr;
    this.log.warn({ reason, lastStderr: stderr }, `upstream ${this.name} unavailable`);
    const old = this.transport;
    const pid = old instanceof ChildStdioTransport ? old.pid : null;
    this.client = undefined;
    this.transport = undefined;
    this.failDirect(reason);
    void old?.close().catch(() => undefined);
    if (pid) void killTree(pid, 1_000);
    if (wasUp) this.hooks.onCatalogChanged(this);
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    if (this.restartTimer || this.state === 'closed') return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.restarts++;
      this.hooks.onRestart?.(this);
      void this.start();
    }, delay);
    this.restartTimer.unref();
  }

  /** The connected client, or the "upstream unavailable" error clients see. */
  requireClient(): Client {
    if (this.state === 'up' && this.client) return this.client;
    throw this.unavailable();
  }

  unavailable(reason?: string): GatewayError {
    const why = reason ?? this.lastError ?? (this.state === 'starting' ? 'starting' : 'not connected');
    const stderr = this.lastStderr;
    return new GatewayError('UPSTREAM_UNAVAILABLE', `upstream ${this.name} unavailable: ${why}${stderr ? ` (last stderr: ${stderr})` : ''}`);
  }

  /** Closes the connection and reaps the child process tree. Idempotent. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const transport = this.transport;
    const pid = transport instanceof ChildStdioTransport ? transport.pid : null;
    this.client = undefined;
    this.transport = undefined;
    this.failDirect('connection closed');
    try {
      // Reap the tree first: once the child is gone its descendants are re-parented and lost.
      if (pid) await killTree(pid);
    } finally {
      await transport?.close().catch(() => undefined);
    }
  }
}

interface DirectRequest {
  resolve(result: Record<string, unknown>): void;
  reject(error: Error): void;
  /** Stops its timer and abort listener. */
  done(): void;
}

export function errorText(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
