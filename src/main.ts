/**
 * Composition root: load config → logger → stores → upstreams → pipeline → fronts → serve.
 * The only place that reads process.env.
 */
import { resolve } from 'node:path';
import { ApprovalsSchema, isLoopbackHost, loadConfig, parseListen, refuseLintErrors, watchConfig, type Config, type LoadedConfig } from './config/index.js';
import { createLogger, type Logger } from './log.js';
import { createAuditLog, createUndoService, createUndoStore } from './audit/index.js';
import { compilePolicy, createUsageCounter, diffPolicies, explainAgent, formatDiff, stableJson } from './policy/index.js';
import { createApprovals, loadOrCreateLinkSecret } from './approvals/index.js';
import { createAuthenticator, createMetrics } from './http/index.js';
import { createPinRoutes, offerPinApprovals } from './http/pins.js';
import { createLockdownRoute, createLockdownStore } from './state/index.js';
import { policyCatalogOf } from './proxy/catalog.js';
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
  /** In stdio mode: settles once the stdio connection has closed (the client went: stdin ended or stdout broke; or close was called). */
  readonly clientGone: Promise<void> | undefined;
  close(): Promise<void>;
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const env = options.env ?? process.env;
  const loaded = await loadConfig(options.configFile, { env });
  const { config } = loaded;
  // Before anything starts: a policy that does not compile, or that lint finds errors in, refuses to load.
  const initialPolicy = compilePolicy(config, { version: loaded.hash });
  await refuseLintErrors(loaded, initialPolicy);
  const life = new Lifecycle();
  const log = life.add(
    createLogger({ level: env.PORTCULLIS_LOG_LEVEL ?? config.gateway.logLevel, secrets: loaded.secrets, ...(options.logDestination === undefined ? {} : { destination: options.logDestination }) }),
    (l) => l.flush(),
  );
  try {
    const stateDir = resolve(config.gateway.state);
    const audit = life.add(createAuditLog({ file: config.gateway.audit.file, arguments: config.gateway.audit.arguments, secrets: loaded.secrets }), (a) => a.close());
    const redact = createRedactor(loaded.secrets);
    /** The config in force (replaced on reload). */
    let current: Readonly<Config> = config;
    let url: string | undefined;
    const publicUrl = () => config.gateway.publicUrl ?? url ?? 'http://127.0.0.1:8787';

    // The registry's hooks need the pipeline, and the pipeline needs the registry.
    const late: { pipeline?: Pipeline; pinOffers?: ReturnType<typeof offerPinApprovals> } = {};
    const hub = new FrontHub({
      log,
      maxSessions: config.gateway.limits.maxSessions,
      onSessionClosed: (s) => {
        late.pipeline?.releaseSession(s);
        void registry.closeSession(s.id);
      },
    });
    const registry: UpstreamRegistry = life.add(
      new UpstreamRegistry(config.servers, {
        log,
        pins: new PinStore(stateDir),
        hooks: {
          onNotification: (u, method, params) => {
            const clean = redact(params ?? {});
            if (!late.pipeline?.routeNotification(u, method, clean)) hub.upstreamNotification(method, clean);
          },
          onClientRequest: (u, method, params, signal) => {
            if (!late.pipeline) throw new Error('gateway not ready');
            return late.pipeline.routeClientRequest(u, method, params, signal);
          },
          onRestart: (u) => metrics.recordUpstreamRestart(u.name),
        },
        events: {
          onListsChanged: (kinds) => hub.listsChanged(kinds),
          onPinChanged: (blocked) => {
            audit.record({ event: 'pin.changed', tool: blocked.exposed, outcome: 'blocked', reasons: [blocked.reason], changes: blocked.changes });
            late.pinOffers?.offer(blocked);
          },
        },
      }),
      (r) => r.close(),
    );
    life.add(hub, (h) => h.close());

    const approvalsConfig = config.approvals ?? ApprovalsSchema.parse({});
    const listenAddress = options.listen ?? config.gateway.listen ?? (options.stdio ? undefined : '127.0.0.1:8787');
    const approvals = life.add(
      await createApprovals({ config: approvalsConfig, stateDir, audit, log: log.child({ component: 'approvals' }), publicUrl, linkSecret: loadOrCreateLinkSecret(stateDir) }),
      (a) => a.close(),
    );
    late.pinOffers = life.add(offerPinApprovals({ approvals, registry, audit, policyVersion: () => late.pipeline?.runtime.policy.version ?? loaded.hash }), (o) => o.close());
    const metrics = createMetrics({
      sources: {
        upstreams: () => registry.upstreams.map((u) => ({ name: u.name, up: u.state === 'up' })),
        pendingApprovals: () => approvals.list({ status: 'pending' }).length,
      },
    });
    const lockdown = await createLockdownStore(stateDir);
    const undoService = createUndoService({
      store: createUndoStore({ stateDir, onWarning: (message) => log.warn(message) }),
      runCall: (agent, tool, args) => pipeline.runCompensatingCall(agent, tool, args),
      audit,
    });

    const pipeline = life.add(
      new Pipeline(
        { policy: initialPolicy, taint: compileTaint(config.taint), lockdown: lockdown.get(), usage: createUsageCounter() },
        {
          registry,
          log,
          audit,
          // A human must be able to answer: the page/API (HTTP listener), a webhook, or elicitation.
          ...(listenAddress || approvalsConfig.channels.length > 0 ? { approvals } : {}),
          elicitApprovals: approvalsConfig.channels.some((c) => 'elicit' in c),
          callTimeoutMs: config.gateway.limits.callTimeout,
          maxResultBytes: config.gateway.limits.maxResultBytes,
          redact,
          observers: {
            onCallCompleted: (c) => metrics.recordCall(c.agent, c.tool, c.decision, c.seconds, c.outcome),
            onTaint: (kind) => metrics.recordTaintEvent(kind),
            onUndoable: (c) => {
              const recorded = undoService.record({ ...c, result: c.result });
              if (!recorded.recorded) log.warn({ callId: c.callId, reason: recorded.reason }, 'call cannot be undone');
            },
          },
        },
      ),
      (p) => p.close(),
    );
    late.pipeline = pipeline;
    await registry.start();

    const stdioFront = options.stdio
      ? life.add(startStdioFront({ pipeline, registry, hub, log, agent: options.agent ?? 'default', maxRequestBytes: config.gateway.limits.maxRequestBytes }), (f) => f.close())
      : undefined;

    if (listenAddress) {
      const { host, port } = parseListen(listenAddress);
      if (config.gateway.auth.mode === 'none' && !isLoopbackHost(host)) {
        throw new Error(`refusing to listen on ${listenAddress} with auth.mode none: only loopback addresses may be unauthenticated (set gateway.auth.mode: jwt)`);
      }
      const mcp = life.add(
        createMcpHttpFront({ pipeline, registry, hub, log, maxRequestBytes: config.gateway.limits.maxRequestBytes, maxSessions: config.gateway.limits.maxSessions }),
        (m) => m.close(),
      );
      const auth = createAuthenticator({ auth: config.gateway.auth, agents: () => Object.keys(current.agents), publicUrl, audit, metrics, stateDir });
      const publicHost = config.gateway.publicUrl ? new URL(config.gateway.publicUrl).hostname : undefined;
      const app = createApp({
        mcp,
        registry,
        auth,
        metrics,
        approvals,
        undo: undoService,
        auditFile: config.gateway.audit.file,
        publicUrl,
        allowedHosts: [...new Set(['localhost', '127.0.0.1', '[::1]', '::1', host, ...(publicHost ? [publicHost] : [])])],
        explain: (agent) => (current.agents[agent] ? explainAgent(pipeline.runtime.policy, agent, policyCatalogOf(registry)) : undefined),
        pins: createPinRoutes({ registry, auth, audit, allowedOrigins: [publicUrl()] }),
        lockdown: createLockdownRoute(lockdown, {
          onChange: (state, change) => {
            pipeline.runtime = { ...pipeline.runtime, lockdown: state };
            audit.record({ event: 'lockdown.changed', ...(change.agent ? { agent: change.agent } : {}), outcome: change.mode, ...(change.by ? { by: change.by } : {}) });
            hub.listsChanged({ tools: true, resources: true, prompts: true });
          },
        }),
      });
      const listener = life.add(await listenHttp(app.fetch, host, port), (l) => l.close());
      url = listener.url;
      log.info({ url: `${url}/mcp` }, 'listening');
    }

    // Reloads apply one at a time, in the order the file changed.
    let reloading = Promise.resolve();
    const reload = async (next: LoadedConfig): Promise<void> => {
      let diff: ReturnType<typeof diffPolicies>;
      let previous: Readonly<Config>;
      try {
        const policy = compilePolicy(next.config, { version: next.hash });
        await refuseLintErrors(next, policy);
        const taint = compileTaint(next.config.taint);
        diff = diffPolicies(current, next.config, policyCatalogOf(registry));
        // One assignment: a call in flight keeps the runtime it started with.
        pipeline.runtime = { ...pipeline.runtime, policy, taint };
        previous = current;
        current = next.config;
      } catch (error) {
        metrics.recordPolicyReload('error');
        log.error({ err: error instanceof Error ? error.message : String(error) }, 'reload rejected; the running policy stays in force');
        return;
      }
      // The new policy is in force: record it before anything else can fail or wait.
      const restartNeeded = (['gateway', 'approvals'] as const).filter((key) => stableJson(previous[key]) !== stableJson(next.config[key]));
      metrics.recordPolicyReload('ok');
      audit.record({ event: 'policy.reloaded', outcome: 'ok', version: next.hash, diff, ...(restartNeeded.length > 0 ? { restartNeeded } : {}) });
      log.info({ version: next.hash, changes: diff.hasChanges ? formatDiff(diff) : 'none' }, 'policy reloaded');
      if (restartNeeded.length > 0) log.warn({ sections: restartNeeded }, `changes to ${restartNeeded.join(' and ')} take effect after a restart`);
      try {
        const upstreams = await registry.reconfigure(next.config.servers);
        if (upstreams.added.length + upstreams.removed.length + upstreams.replaced.length > 0) log.info(upstreams, 'upstreams reconfigured');
      } catch (error) {
        log.error({ err: error instanceof Error ? error.message : String(error) }, 'could not apply the reloaded servers');
      }
      hub.listsChanged({ tools: true, resources: true, prompts: true });
    };
    const watcher = watchConfig(
      options.configFile,
      (next) => {
        reloading = reloading.then(() => reload(next));
      },
      (error) => {
        metrics.recordPolicyReload('error');
        log.error({ issues: error.message }, 'reload rejected; the running policy stays in force');
      },
      { env, initialHash: loaded.hash },
    );
    // Closed first (closers run in reverse): no reload may start upstreams once shutdown began.
    life.add(watcher, async (w) => {
      w.close();
      await reloading;
    });

    return { url, log, clientGone: stdioFront?.closed, close: () => life.close() };
  } catch (error) {
    // Nothing may outlive a failed start: reap the upstreams that did start.
    await life.close();
    throw error;
  }
}
