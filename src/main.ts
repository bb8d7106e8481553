/**
 * Composition root: load config → logger → stores → upstreams → pipeline → fronts → serve.
 * The only place that reads process.env.
 */
import { isLoopbackHost, loadConfig, parseListen, watchConfig } from './config/index.js';
import { createLogger, type Logger } from './log.js';
import { createAuditLog } from './audit/log.js';
import { compilePolicy, createUsageCounter, NO_LOCKDOWN } from './policy/index.js';
import { compileTaint, createRedactor } from './taint/index.js';
import { Pipeline } from './proxy/pipeline.js';
import { PinStore } from './proxy/pins.js';
import { UpstreamRegistry } from './proxy/upstream/registry.js';
import { FrontHub } from './proxy/front/hub.js';
import { createMcpHttpFront } from './proxy/front/http.js';
import { startStdioFront } from './proxy/front/stdio.js';
import { createApp } from './http/app.js';
import { listenHttp } from './http/listen.js';
import { Lifecycle } from './lifecycle.js';

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
  const loaded = await loadConfig(options.configFile, { env });
  const { config } = loaded;
  const life = new Lifecycle();
  const log = life.add(
    createLogger({ level: env.PORTCULLIS_LOG_LEVEL ?? config.gateway.logLevel, secrets: loaded.secrets, ...(options.logDestination === undefined ? {} : { destination: options.logDestination }) }),
    (l) => l.flush(),
  );
  try {
    const audit = life.add(createAuditLog({ file: config.gateway.audit.file, arguments: config.gateway.audit.arguments, secrets: loaded.secrets }), (a) => a.close());
    const redact = createRedactor(loaded.secrets);

    // The registry's hooks need the pipeline, and the pipeline needs the registry.
    const late: { pipeline?: Pipeline } = {};
    const hub = new FrontHub({ log, maxSessions: config.gateway.limits.maxSessions, onSessionClosed: (s) => void registry.closeSession(s.id) });
    const registry: UpstreamRegistry = life.add(
      new UpstreamRegistry(config.servers, {
        log,
        pins: new PinStore(config.gateway.state),
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
        events: {
          onListsChanged: (kinds) => hub.listsChanged(kinds),
          onPinChanged: (blocked) => audit.record({ event: 'pin.changed', tool: blocked.exposed, outcome: 'blocked', reasons: [blocked.reason], changes: blocked.changes }),
        },
      }),
      (r) => r.close(),
    );
    life.add(hub, (h) => h.close());
    const pipeline = life.add(
      new Pipeline(
        { policy: compilePolicy(config, { version: loaded.hash }), taint: compileTaint(config.taint), lockdown: NO_LOCKDOWN, usage: createUsageCounter() },
        { registry, log, audit, callTimeoutMs: config.gateway.limits.callTimeout, maxResultBytes: config.gateway.limits.maxResultBytes, redact },
      ),
      (p) => p.close(),
    );
    late.pipeline = pipeline;
    await registry.start();

    if (options.stdio) life.add(startStdioFront({ pipeline, registry, hub, log, agent: options.agent ?? 'default' }), (f) => f.close());

    let url: string | undefined;
    const listen = options.listen ?? config.gateway.listen ?? (options.stdio ? undefined : '127.0.0.1:8787');
    if (listen) {
      const { host, port } = parseListen(listen);
      if (config.gateway.auth.mode === 'none' && !isLoopbackHost(host)) {
        throw new Error(`refusing to listen on ${listen} with auth.mode none: only loopback addresses may be unauthenticated (set gateway.auth.mode: jwt)`);
      }
      const mcp = life.add(
        createMcpHttpFront({ pipeline, registry, hub, log, maxRequestBytes: config.gateway.limits.maxRequestBytes, maxSessions: config.gateway.limits.maxSessions }),
        (m) => m.close(),
      );
      const publicHost = config.gateway.publicUrl ? new URL(config.gateway.publicUrl).hostname : undefined;
      const app = createApp({
        mcp,
        registry,
        allowedHosts: [...new Set(['localhost', '127.0.0.1', '[::1]', '::1', host, ...(publicHost ? [publicHost] : [])])],
        identify: async () => ({ agent: 'default', claims: undefined, modernSessionKey: 'default' }),
      });
      const listener = life.add(await listenHttp(app.fetch, host, port), (l) => l.close());
      url = listener.url;
      log.info({ url: `${url}/mcp` }, 'listening');
    }

    const watcher = watchConfig(
      options.configFile,
      (next) => {
        try {
          const policy = compilePolicy(next.config, { version: next.hash });
          const taint = compileTaint(next.config.taint);
          // One assignment: a call in flight keeps the runtime it started with.
          pipeline.runtime = { ...pipeline.runtime, policy, taint };
          audit.record({ event: 'policy.reloaded', outcome: 'ok', version: next.hash });
          log.info({ version: next.hash }, 'policy reloaded');
        } catch (error) {
          log.error({ err: error instanceof Error ? error.message : String(error) }, 'reload rejected; the running policy stays in force');
        }
      },
      (error) => log.error({ issues: error.message }, 'reload rejected; the running policy stays in force'),
      { env, initialHash: loaded.hash },
    );
    life.add(watcher, (w) => w.close());

    return { url, log, close: () => life.close() };
  } catch (error) {
    // Nothing may outlive a failed start: reap the upstreams that did start.
    await life.close();
    throw error;
  }
}
