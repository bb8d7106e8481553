/**
 * All upstreams together: starts them, merges their catalogs under exposed names, routes an
 * exposed tool/prompt name or a resource URI back to its upstream, and keeps per-session
 * upstream instances for servers with `isolation: session`.
 */
import { UriTemplate, type Prompt, type Resource, type ResourceTemplateType as ResourceTemplate, type ServerCapabilities, type Tool } from '@modelcontextprotocol/server';
import type { ServerConfig } from '../../config/index.js';
import type { Logger } from '../../log.js';
import { findShadowing, hasHidden, sanitizeToolDefinition, type DefinitionChange } from '../../taint/index.js';
import type { PinStore } from '../pins.js';
import { NAME_SEPARATOR, exposedName } from '../names.js';
import { stableJson } from '../../policy/index.js';
import { Upstream, type UpstreamHooks } from './connection.js';

export interface ToolRoute {
  exposed: string;
  upstream: Upstream;
  tool: Tool;
  /** False when the upstream does not list the tool: the name was routed by its prefix alone. */
  listed: boolean;
}

export interface PromptRoute {
  exposed: string;
  upstream: Upstream;
  prompt: Prompt;
}

interface Index {
  tools: Map<string, ToolRoute>;
  blocked: Map<string, BlockedTool>;
  /** Exposed tool names, one stable array per catalog (injection markers look for mentions). */
  toolNames: readonly string[];
  prompts: Map<string, PromptRoute>;
  resources: Map<string, { upstream: Upstream; resource: Resource }>;
  templates: Array<{ upstream: Upstream; template: ResourceTemplate; matcher: UriTemplate | undefined }>;
}

export interface RegistryEvents {
  /** Lists changed: which kinds changed, for list_changed notifications. */
  onListsChanged(kinds: { tools: boolean; resources: boolean; prompts: boolean }): void;
  /** A pinned tool definition changed: the tool is blocked until an admin approves it. */
  onPinChanged?(change: BlockedTool): void;
}

/** A tool withheld from clients, and why. */
export interface BlockedTool {
  exposed: string;
  upstream: string;
  tool: string;
  reason: string;
  changes?: DefinitionChange[];
  digest?: string;
}

/** What a reload changed in the upstreams, by server name. */
export interface UpstreamChanges {
  added: string[];
  removed: string[];
  replaced: string[];
}

export class UpstreamRegistry {
  /** Replaced as a whole when a reload changes the servers (see `reconfigure`). */
  upstreams: readonly Upstream[];
  private index: Index = { tools: new Map(), blocked: new Map(), toolNames: [], prompts: new Map(), resources: new Map(), templates: [] };
  private readonly pins: PinStore | undefined;
  /** Pin changes already reported, so each new digest is reported once. */
  private readonly reportedPins = new Set<string>();
  private readonly reportedShadows = new Set<string>();
  private readonly perSession = new Map<string, Map<string, Upstream>>();
  private readonly log: Logger;
  private readonly hooks: UpstreamHooks;
  private readonly events: RegistryEvents;
  private lastSignature = { tools: '', resources: '', prompts: '' };
  private closed = false;

  constructor(servers: Readonly<Record<string, ServerConfig>>, deps: { log: Logger; hooks: Omit<UpstreamHooks, 'onCatalogChanged'>; events: RegistryEvents; pins?: PinStore }) {
    this.log = deps.log;
    this.pins = deps.pins;
    this.events = deps.events;
    this.hooks = { ...deps.hooks, onCatalogChanged: () => this.rebuild() };
    this.upstreams = Object.entries(servers).map(([name, cfg]) => new Upstream(name, cfg, { log: deps.log, hooks: this.hooks }));
  }

  /** Starts every upstream; resolves once each has connected or failed (failures restart on their own). */
  async start(): Promise<void> {
    await Promise.all(this.upstreams.map((u) => u.start()));
    this.rebuild();
  }

  get(name: string): Upstream | undefined {
    return this.upstreams.find((u) => u.name === name);
  }

  private rebuild(): void {
    const next: Index = { tools: new Map(), blocked: new Map(), toolNames: [], prompts: new Map(), resources: new Map(), templates: [] };
    const up = this.upstreams.filter((u) => u.state === 'up');
    const names = up.flatMap((u) => u.catalog.tools.map((t) => exposedName(u.prefix, t.name)));
    for (const upstream of up) {
      for (const tool of upstream.catalog.tools) {
        const exposed = exposedName(upstream.prefix, tool.name);
        const existing = next.tools.get(exposed);
        if (existing) {
          this.log.error({ tool: exposed, kept: existing.upstream.name, dropped: upstream.name }, `tool ${exposed} is offered by both ${existing.upstream.name} and ${upstream.name}; keeping ${existing.upstream.name}`);
          continue;
        }
        const withheld = this.withhold(upstream, tool, exposed);
        if (withheld) {
          next.blocked.set(exposed, withheld);
          continue;
        }
        const clean = sanitizeToolDefinition(tool, names);
        // A description naming another tool is ordinary; hidden characters or instructions are not.
        if (clean.removed > 0 || clean.markers.some((m) => m.severity === 'high')) {
          this.log.warn({ tool: exposed, removed: clean.removed, markers: clean.markers.map((m) => m.kind) }, 'tool definition carried hidden characters or injection markers; listing it sanitised');
        }
        next.tools.set(exposed, { exposed, upstream, tool: clean.tool, listed: true });
      }
      for (const prompt of upstream.catalog.prompts) {
        const exposed = exposedName(upstream.prefix, prompt.name);
        if (next.prompts.has(exposed) || hasHidden(prompt.name)) continue;
        next.prompts.set(exposed, { exposed, upstream, prompt: sanitizeToolDefinition(prompt).tool });
      }
      for (const resource of upstream.catalog.resources) {
        if (!next.resources.has(resource.uri)) next.resources.set(resource.uri, { upstream, resource: sanitizeToolDefinition(resource).tool });
      }
      for (const template of upstream.catalog.resourceTemplates) {
        let matcher: UriTemplate | undefined;
        try {
          matcher = new UriTemplate(template.uriTemplate);
        } catch {
          matcher = undefined;
        }
        next.templates.push({ upstream, template: sanitizeToolDefinition(template).tool, matcher });
      }
    }
    next.toolNames = [...next.tools.keys()];
    this.reportShadowing(up);
    this.index = next;
    const signature = {
      tools: JSON.stringify([...next.tools.values()].map((r) => [r.exposed, r.tool])),
      resources: JSON.stringify([[...next.resources.keys()], next.templates.map((t) => t.template.uriTemplate)]),
      prompts: JSON.stringify([...next.prompts.values()].map((r) => [r.exposed, r.prompt])),
    };
    const changed = {
      tools: signature.tools !== this.lastSignature.tools,
      resources: signature.resources !== this.lastSignature.resources,
      prompts: signature.prompts !== this.lastSignature.prompts,
    };
    this.lastSignature = signature;
    if (changed.tools || changed.resources || changed.prompts) this.events.onListsChanged(changed);
  }

  /** Warns (once per set) when two servers offer tools of the same name: an agent may confuse them. */
  private reportShadowing(up: readonly Upstream[]): void {
    const byServer: Record<string, string[]> = {};
    for (const u of up) byServer[u.name] = u.catalog.tools.map((t) => t.name);
    for (const shadowed of findShadowing(byServer)) {
      const key = `${shadowed.name}:${shadowed.servers.join(',')}`;
      if (this.reportedShadows.has(key)) continue;
      this.reportedShadows.add(key);
      this.log.warn({ tool: shadowed.name, servers: shadowed.servers, spellings: shadowed.spellings }, `tool ${shadowed.name} is offered by ${shadowed.servers.join(' and ')} (shadowing): check which one the agent means`);
    }
  }

  /** A tool that must not be listed or called (name with hidden characters, or a changed pin). */
  private withhold(upstream: Upstream, tool: Tool, exposed: string): BlockedTool | undefined {
    if (hasHidden(tool.name)) {
      return { exposed, upstream: upstream.name, tool: tool.name, reason: `the tool name ${JSON.stringify(tool.name)} contains hidden characters` };
    }
    if (!this.pins) return undefined;
    const check = this.pins.check(`${upstream.name}/${tool.name}`, tool, upstream.instructions);
    if (check.status !== 'changed') return undefined;
    const blocked: BlockedTool = {
      exposed,
      upstream: upstream.name,
      tool: tool.name,
      reason: `the definition of ${exposed} changed since it was pinned (${(check.changes ?? []).map((c) => c.path || '/').join(', ')}); an admin must approve it with \`portcullis pins approve ${exposed}\``,
      ...(check.changes ? { changes: check.changes } : {}),
      digest: check.digest,
    };
    const reportKey = `${upstream.name}/${tool.name}@${check.digest}`;
    if (!this.reportedPins.has(reportKey)) {
      this.reportedPins.add(reportKey);
      this.log.error({ tool: exposed, changes: blocked.changes }, 'pinned tool definition changed; tool blocked');
      this.events.onPinChanged?.(blocked);
    }
    return blocked;
  }

  /** Why a tool is withheld, if it is. */
  blockedTool(exposed: string): BlockedTool | undefined {
    return this.index.blocked.get(exposed);
  }

  blockedTools(): Iterable<BlockedTool> {
    return this.index.blocked.values();
  }

  /** Exposed tool names (stable per catalog). */
  get toolNames(): readonly string[] {
    return this.index.toolNames;
  }

  /** Accepts the current definition of a blocked tool as its pin; the tool is listed again. */
  approvePin(exposed: string): BlockedTool | undefined {
    const blocked = this.index.blocked.get(exposed);
    const upstream = blocked ? this.get(blocked.upstream) : undefined;
    const tool = upstream?.catalog.tools.find((t) => t.name === blocked?.tool);
    if (!blocked || !upstream || !tool || !this.pins) return undefined;
    this.pins.accept(`${upstream.name}/${tool.name}`, tool, upstream.instructions);
    this.rebuild();
    return blocked;
  }

  /** Forgets every pin: the definitions in use now are pinned afresh. */
  resetPins(): void {
    this.pins?.remove();
    this.reportedPins.clear();
    this.rebuild();
  }

  /** The pins on record, by `server/tool`. */
  pinned(): Array<{ key: string; digest: string; pinnedAt: string }> {
    return (this.pins?.list() ?? []).map(([key, pin]) => ({ key, digest: pin.digest, pinnedAt: pin.pinnedAt }));
  }

  tools(): Iterable<ToolRoute> {
    return this.index.tools.values();
  }

  prompts(): Iterable<PromptRoute> {
    return this.index.prompts.values();
  }

  resources(): Iterable<{ upstream: Upstream; resource: Resource }> {
    return this.index.resources.values();
  }

  resourceTemplates(): Iterable<{ upstream: Upstream; template: ResourceTemplate }> {
    return this.index.templates;
  }

  findTool(exposed: string): ToolRoute | undefined {
    return this.index.tools.get(exposed);
  }

  /**
   * A name no upstream lists, routed by its prefix (or to the only unprefixed upstream), so the
   * upstream answers it as it would directly. Nothing is known of such a tool: no annotations.
   */
  findUnlistedTool(exposed: string): ToolRoute | undefined {
    const candidates = this.upstreams.filter((u) => u.state === 'up' && (u.prefix === '' || exposed.startsWith(`${u.prefix}${NAME_SEPARATOR}`)));
    const prefixed = candidates.filter((u) => u.prefix !== '');
    const upstream = prefixed.length === 1 ? prefixed[0] : prefixed.length === 0 && candidates.length === 1 ? candidates[0] : undefined;
    if (!upstream) return undefined;
    const name = upstream.prefix === '' ? exposed : exposed.slice(upstream.prefix.length + NAME_SEPARATOR.length);
    return { exposed, upstream, tool: { name, inputSchema: { type: 'object' } }, listed: false };
  }

  findPrompt(exposed: string): PromptRoute | undefined {
    return this.index.prompts.get(exposed);
  }

  /** The upstream serving a resource URI: listed resource, then template match, then the only resource server. */
  findResourceUpstream(uri: string): Upstream | undefined {
    const listed = this.index.resources.get(uri);
    if (listed) return listed.upstream;
    for (const { upstream, matcher } of this.index.templates) {
      if (matcher?.match(uri)) return upstream;
    }
    const withResources = this.upstreams.filter((u) => u.state === 'up' && u.capabilities.resources);
    return withResources.length === 1 ? withResources[0] : undefined;
  }

  /** Upstream to send a session's request to: the shared one, or the session's own instance. */
  async forSession(upstream: Upstream, sessionId: string): Promise<Upstream> {
    // A route resolved before a reload (a call held for approval) may name a retired upstream.
    if (this.closed || !this.upstreams.includes(upstream)) throw upstream.unavailable('its definition changed in a reload; call the tool again');
    if (upstream.config.isolation !== 'session') return upstream;
    let mine = this.perSession.get(sessionId);
    if (!mine) {
      mine = new Map();
      this.perSession.set(sessionId, mine);
    }
    let instance = mine.get(upstream.name);
    if (instance && instance.config !== upstream.config) {
      void instance.close();
      instance = undefined;
    }
    if (!instance) {
      instance = new Upstream(upstream.name, upstream.config, { log: this.log.child({ session: sessionId }), hooks: { ...this.hooks, onCatalogChanged: () => undefined } });
      mine.set(upstream.name, instance);
    }
    if (instance.state !== 'up') await instance.start();
    if (instance.state !== 'up') throw instance.unavailable();
    return instance;
  }

  /** Closes a session's own upstream instances. */
  async closeSession(sessionId: string): Promise<void> {
    const mine = this.perSession.get(sessionId);
    if (!mine) return;
    this.perSession.delete(sessionId);
    await Promise.all([...mine.values()].map((u) => u.close()));
  }

  /** Capabilities offered to clients: the union of what the connected upstreams offer. */
  capabilities(): ServerCapabilities {
    // Tools are always offered: upstreams that are down now may come up later.
    const caps: ServerCapabilities = { tools: { listChanged: true } };
    for (const u of this.upstreams) {
      const c = u.knownCapabilities;
      if (c.tools) caps.tools = { listChanged: true };
      if (c.prompts) caps.prompts = { listChanged: true };
      if (c.resources) caps.resources = { listChanged: true, subscribe: Boolean(c.resources.subscribe) || Boolean(caps.resources?.subscribe) };
      if (c.completions) caps.completions = {};
      if (c.logging) caps.logging = {};
    }
    return caps;
  }

  /**
   * Applies a reloaded `servers` section (SPEC §3): an upstream whose definition did not change
   * keeps its connection; a changed one is replaced (calls in flight to the old one fail as its
   * connection closes), a removed one is closed and a new one started. Session-isolated
   * instances of changed or removed servers are closed; the next call starts one anew.
   */
  async reconfigure(servers: Readonly<Record<string, ServerConfig>>): Promise<UpstreamChanges> {
    const changes: UpstreamChanges = { added: [], removed: [], replaced: [] };
    if (this.closed) return changes;
    const kept = new Map(this.upstreams.map((u) => [u.name, u]));
    const next: Upstream[] = [];
    const started: Upstream[] = [];
    for (const [name, config] of Object.entries(servers)) {
      const old = kept.get(name);
      if (old && stableJson(old.config) === stableJson(config)) {
        next.push(old);
        kept.delete(name);
        continue;
      }
      (old ? changes.replaced : changes.added).push(name);
      const upstream = new Upstream(name, config, { log: this.log, hooks: this.hooks });
      next.push(upstream);
      started.push(upstream);
    }
    // What is left in `kept` was replaced or removed.
    for (const name of kept.keys()) if (!Object.hasOwn(servers, name)) changes.removed.push(name);
    if (started.length === 0 && kept.size === 0) return changes;
    this.upstreams = next;
    const gone = new Set(kept.keys());
    const instances: Upstream[] = [];
    for (const mine of this.perSession.values()) {
      for (const [name, instance] of mine) {
        if (!gone.has(name)) continue;
        mine.delete(name);
        instances.push(instance);
      }
    }
    this.rebuild();
    await Promise.allSettled([...kept.values(), ...instances].map((u) => u.close()));
    // Closing the registry meanwhile closed what it held, the new upstreams included; start() on
    // a closed upstream does nothing.
    await Promise.all(started.map((u) => u.start()));
    this.rebuild();
    return changes;
  }

  async close(): Promise<void> {
    this.closed = true;
    const sessions = [...this.perSession.keys()];
    await Promise.all([...this.upstreams.map((u) => u.close()), ...sessions.map((s) => this.closeSession(s))]);
  }
}
