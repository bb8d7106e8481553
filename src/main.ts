/**
 * Composition root: load config → logger → stores → upstreams → pipeline → fronts → serve.
 * The only place that reads process.env.
 */
import { serve as serveHttp, type ServerType } from '@hono/node-server';
import { isLoopbackHost, loadConfig, parseListen, watchConfig, type LoadedConfig } from './config/index.js';
import { createLogger, type Logger } from './log.js';
import { createAuditLog } from './audit/log.js';
import { compilePolicy, createUsageCounter, NO_LOCKDOWN } from './policy/index.js';
import { createRedactor } from './taint/redact.js';
import { Pipeline } from './proxy/pipeline.js';
import { UpstreamRegistry } from './proxy/upstream/registry.js';
import { FrontHub } from './proxy/front/hub.js';
import { createMcpHttpFront } from './proxy/front/http.js';
import { startStdioFront, type StdioFront } from './proxy/front/stdio.js';
import { createApp } from './http/app.js';

export interface GatewayOptions {
  configFile: string;
  stdio?: boolean;
  /** Overrides gateway.listen. */
  listen?: string;
  /** Agent profile for the stdio client. */
  agent?: string;
  env?: Readonly<Record<string, string | undefined>>;
  logDestination?: NodeJS.WritableStream | number;
}

export interface Gateway {
  readonly url: string | undefined;
  readonly log: Logger;
  close(): Promise<void>;
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const env = options.env ?? process.env;
  let loaded: LoadedConfig = await loadConfig(options.configFile, { env });
  const config = loaded.config;
  const log = createLogger({ level: env.PORTCULLIS_LOG_LEVEL ?? config.gateway.logLevel, secrets: loaded.secrets, ...(options.logDestination === undefined ? {} : { destination: options.logDestination }) });
  const audit = createAuditLog({ file: config.gateway.audit.file, arguments: config.gateway.audit.arguments, secrets: loaded.secrets });
  const redact = createRedactor(loaded.secrets);

  // The registry's hooks need the pipeline, and the pipeline needs the registry.
  const late: { pipeline?: Pipeline } = {};
  const hub = new FrontHub({ log, maxSessions: config.gateway.limits.maxSessions, onSessionClosed: (s) => void registry.closeSession(s.id) });
  const registry: UpstreamRegistry = new UpstreamRegistry(config.servers, {
    log,
    hooks: {
      onNotification: (u, method, params) => {
        const clean = redact(params ?? {});
        if (!late.pipeline?.routeNotification(u, method, clean)) hub.upstreamNotification(method, clean);
      },
      onClientRequest: (u, method, params, signal) => {
        if (!late.pipeline) throw new Error('gateway not ready');
        return late.pipeline.routeClientRequest(u, method, params, signal);
      },
    },
    events: { onListsChanged: (kinds) => hub.listsChanged(kinds) },
  });
  const pipeline = new Pipeline(
    { policy: compilePolicy(config, { version: loaded.hash }), lockdown: NO_LOCKDOWN, usage: createUsageCounter() },
    { registry, log, audit, callTimeoutMs: config.gateway.limits.callTimeout, maxResultBytes: config.gateway.limits.maxResultBytes, redact },
  );
  late.pipeline = pipeline;
  await registry.start();

  const closers: Array<() => Promise<void> | void> = [];
  let stdio: StdioFront | undefined;
  if (options.stdio) {
    stdio = startStdioFront({ pipeline, registry, hub, log, agent: options.agent ?? 'default' });
    closers.push(() => stdio?.close());
  }

  const listen = options.listen ?? config.gateway.listen ?? (options.stdio ? undefined : '127.0.0.1:8787');
  let url: string | undefined;
  let httpServer: ServerType | undefined;
  if (listen) {
    const { host, port } = parseListen(listen);
    if (config.gateway.auth.mode === 'none' && !isLoopbackHost(host)) {
      throw new Error(`refusing to listen on ${listen} with auth.mode none: only loopback addresses may be unauthenticated (set gateway.auth.mode: jwt)`);
    }
    const mcp = createMcpHttpFront({ pipeline, registry, hub, log, maxRequestBytes: config.gateway.limits.maxRequestBytes, maxSessions: config.gateway.limits.maxSessions });
    const publicHost = config.gateway.publicUrl ? new URL(config.gateway.publicUrl).hostname : undefined;
    const allowedHosts = [...new Set(['localhost', '127.0.0.1', '[::1]', '::1', host, ...(publicHost ? [publicHost] : [])])];
    const app = createApp({
      mcp,
      registry,
      allowedHosts,
      identify: async () => ({ agent: 'default', claims: undefined, modernSessionKey: 'default' }),
    });
    httpServer = await new Promise<ServerType>((resolve, reject) => {
      const server = serveHttp({ fetch: app.fetch, hostname: host, port }, () => resolve(server));
      server.once('error', reject);
    });
    const address = httpServer.address();
    const boundPort = typeof address === 'object' && address ? address.port : port;
    url = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
    closers.push(() => mcp.close());
    closers.push(
      () =>
        new Promise<void>((resolve) => {
          httpServer?.close(() => resolve());
          (httpServer as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        }),
    );
    log.info({ url: `${url}/mcp` }, 'listening');
  }

  const watcher = watchConfig(
    options.configFile,
    (next) => {
      try {
        const policy = compilePolicy(next.config, { version: next.hash });
        pipeline.runtime = { ...pipeline.runtime, policy };
        loaded = next;
        audit.record({ event: 'policy.reloaded', outcome: 'ok', version: next.hash });
        log.info({ version: next.hash }, 'policy reloaded');
      } catch (error) {
        log.error({ err: error instanceof Error ? error.message : String(error) }, 'reload rejected; the running policy stays in force');
      }
    },
    (error) => log.error({ issues: error.message }, 'reload rejected; the running policy stays in force'),
    { env, initialHash: loaded.hash },
  );

  let closing: Promise<void> | undefined;
  return {
    url,
    log,
    close() {
      closing ??= (async () => {
        watcher.close();
        pipeline.close();
        for (const close of closers.reverse()) {
          try {
            await close();
          } catch {
            // keep closing the rest
          }
        }
        try {
          await hub.close();
        } finally {
          await registry.close();
          audit.close();
          log.flush();
        }
      })();
      return closing;
    },
  };
}
