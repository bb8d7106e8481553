/**
 * The runtime kill switch's memory (SPEC §2 `lockdown`, §6 "admin-only for lockdown"): the
 * lockdown state kept in `<gateway.state>/lockdown.json`, written atomically (temp file, then
 * rename), read once at start, so a lockdown survives restarts and policy reloads until lifted.
 * Also the `POST /api/lockdown` handler that changes it.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from 'hono';
import * as z from 'zod';
import { NO_LOCKDOWN, setLockdown, type LockdownMode, type LockdownState } from '../policy/index.js';

export const LOCKDOWN_FILE = 'lockdown.json';

const ModeSchema = z.enum(['deny-all', 'read-only']);

/** The file on disk. `version` lets a later format be told apart. */
export const LockdownFileSchema = z.strictObject({
  version: z.literal(1),
  global: ModeSchema.optional(),
  agents: z.record(z.string(), ModeSchema),
  updatedAt: z.string().optional(),
});

/** What `POST /api/lockdown` accepts: an agent (or none: every agent) and a mode, or `off`. */
export const LockdownRequestSchema = z.strictObject({
  agent: z.string().min(1).optional(),
  mode: z.enum(['deny-all', 'read-only', 'off']),
});
export type LockdownRequest = z.infer<typeof LockdownRequestSchema>;

export interface LockdownStore {
  /** Where the state lives. */
  readonly file: string;
  /** The state in force. */
  get(): LockdownState;
  /**
   * Locks down one agent (or, with `agent` undefined, every agent), or lifts it with `'off'`.
   * Resolves once the new state is on disk; until then `get()` returns the old one. Calls are
   * applied in the order they were made.
   */
  set(agent: string | undefined, mode: LockdownMode | 'off'): Promise<LockdownState>;
  /** Calls `listener` after each change; returns a function that unsubscribes. */
  onChange(listener: (state: LockdownState) => void): () => void;
}

/** The lockdown file exists but cannot be used; the gateway must not start as if unlocked. */
export class LockdownStateError extends Error {
  override readonly name = 'LockdownStateError';
}

/** Reads the lockdown file; a missing file is no lockdown. Throws LockdownStateError if it is unreadable or malformed. */
export async function readLockdownFile(file: string): Promise<LockdownState> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return NO_LOCKDOWN;
    throw new LockdownStateError(`${file}: cannot read the lockdown state (${(error as NodeJS.ErrnoException).code ?? String(error)}); check that gateway.state is a folder the gateway may read`, { cause: error });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new LockdownStateError(`${file}: the lockdown state is not valid JSON; fix it, or run 'portcullis lockdown off' after deleting it`, { cause: error });
  }
  const parsed = LockdownFileSchema.safeParse(data);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new LockdownStateError(`${file}: the lockdown state is malformed (${problems}); fix it, or delete it and lock down again`);
  }
  return toState(parsed.data);
}

function toState(data: { global?: LockdownMode | undefined; agents: Record<string, LockdownMode> }): LockdownState {
  const agents: Record<string, LockdownMode> = {};
  for (const [name, mode] of Object.entries(data.agents)) agents[name] = mode;
  return Object.freeze({ ...(data.global ? { global: data.global } : {}), agents: Object.freeze(agents) });
}

/** Writes the state atomically: readers see the old file or the new one, never half of one. */
async function writeLockdownFile(dir: string, file: string, state: LockdownState, now: Date): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const body = { version: 1, ...(state.global ? { global: state.global } : {}), agents: state.agents, updatedAt: now.toISOString() };
  const temp = join(dir, `.${LOCKDOWN_FILE}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temp, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600, flush: true });
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
}

/**
 * Opens the lockdown state kept in `stateDir` (created on the first change, not before). Throws
 * LockdownStateError when an existing file cannot be read: starting without a lockdown that was
 * switched on would silently lift the kill switch.
 */
export async function createLockdownStore(stateDir: string, options: { now?: () => Date } = {}): Promise<LockdownStore> {
  const file = join(stateDir, LOCKDOWN_FILE);
  const now = options.now ?? (() => new Date());
  let state = await readLockdownFile(file);
  const listeners = new Set<(state: LockdownState) => void>();
  let queue: Promise<unknown> = Promise.resolve();

  const apply = async (agent: string | undefined, mode: LockdownMode | 'off'): Promise<LockdownState> => {
    const next = setLockdown(state, agent, mode);
    await writeLockdownFile(stateDir, file, next, now());
    state = next;
    for (const listener of listeners) {
      try {
        listener(next);
      } catch {
        // one listener failing must not keep the others from hearing of the change
      }
    }
    return next;
  };

  return {
    file,
    get: () => state,
    set(agent, mode) {
      const result = queue.then(() => apply(agent, mode));
      queue = result.catch(() => undefined);
      return result;
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** Who is calling, as the auth middleware puts it in the request context under `principal`. */
export interface LockdownPrincipal {
  readonly sub?: string;
  readonly roles?: readonly string[];
}

export interface LockdownRouteOptions {
  /** Called after the new state is on disk: apply it to the running pipeline, audit it. */
  onChange?: (state: LockdownState, change: { agent?: string; mode: LockdownMode | 'off'; by?: string }) => void | Promise<void>;
  /** Whether the principal may change lockdowns; default: its roles include `admin`. */
  isAdmin?: (principal: LockdownPrincipal) => boolean;
}

function principalOf(value: unknown): LockdownPrincipal | undefined {
  if (!value || typeof value !== 'object') return undefined;
  // Principals name themselves `name` (src/http/auth.ts) or `sub` (token claims).
  const { sub, name, roles } = value as { sub?: unknown; name?: unknown; roles?: unknown };
  const who = typeof sub === 'string' ? sub : typeof name === 'string' ? name : undefined;
  return {
    ...(who !== undefined ? { sub: who } : {}),
    roles: Array.isArray(roles) ? roles.filter((r): r is string => typeof r === 'string') : [],
  };
}

const defaultIsAdmin = (p: LockdownPrincipal) => p.roles?.includes('admin') === true;

/** The JSON the route answers with, and `portcullis lockdown --json` prints. */
export function lockdownJson(state: LockdownState): { global: LockdownMode | null; agents: Record<string, LockdownMode> } {
  return { global: state.global ?? null, agents: { ...state.agents } };
}

/**
 * The `POST /api/lockdown` handler: body `{ agent?, mode: 'deny-all' | 'read-only' | 'off' }`.
 * Only an admin principal (`c.get('principal')`, set by the auth middleware) may call it: 401
 * without one, 403 without the admin role. Persists, calls `onChange`, answers the new state.
 */
export function createLockdownRoute(store: LockdownStore, options: LockdownRouteOptions = {}) {
  const isAdmin = options.isAdmin ?? defaultIsAdmin;
  // Context<any>: mounts on any app, whatever else its context carries.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return async function lockdownRoute(c: Context<any>): Promise<Response> {
    const principal = principalOf(c.get('principal'));
    if (!principal) return c.json({ error: 'authentication required: lockdown is admin-only' }, 401);
    if (!isAdmin(principal)) return c.json({ error: 'forbidden: changing a lockdown needs the admin role' }, 403);
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return c.json({ error: 'the body must be JSON: { "agent"?: NAME, "mode": "deny-all" | "read-only" | "off" }' }, 400);
    }
    const parsed = LockdownRequestSchema.safeParse(body);
    if (!parsed.success) {
      const detail = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
      return c.json({ error: `invalid lockdown request: ${detail}`, expected: '{ "agent"?: NAME, "mode": "deny-all" | "read-only" | "off" }' }, 400);
    }
    const { agent, mode } = parsed.data;
    let state: LockdownState;
    try {
      state = await store.set(agent, mode);
    } catch (error) {
      return c.json({ error: `could not persist the lockdown to ${store.file}; nothing changed: ${error instanceof Error ? error.message : String(error)}` }, 500);
    }
    await options.onChange?.(state, { ...(agent !== undefined ? { agent } : {}), mode, ...(principal.sub !== undefined ? { by: principal.sub } : {}) });
    return c.json(lockdownJson(state));
  };
}
