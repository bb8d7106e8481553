/**
 * The runtime kill switch (SPEC §2 `lockdown`, §4): plain immutable state, applied by `evaluate`
 * and `isListed` before any rule. Persisting it across restarts is the caller's job.
 */

/** `deny-all`: nothing at all; `read-only`: only tools whose trusted annotations say readOnlyHint. */
export type LockdownMode = 'deny-all' | 'read-only';

export interface LockdownState {
  /** Applies to every agent. */
  readonly global?: LockdownMode;
  /** Per agent, by agent name. */
  readonly agents: Readonly<Record<string, LockdownMode>>;
}

/** The active lockdown for an agent: the stricter of the global and the agent's own. */
export interface ActiveLockdown {
  readonly mode: LockdownMode;
  readonly scope: 'global' | 'agent';
}

export const NO_LOCKDOWN: LockdownState = Object.freeze({ agents: Object.freeze({}) });

/** Returns a new state with the lockdown of one agent (or, with `agent` undefined, of all) set or lifted. */
export function setLockdown(state: LockdownState, agent: string | undefined, mode: LockdownMode | 'off'): LockdownState {
  if (agent === undefined) {
    return Object.freeze({ ...(mode === 'off' ? {} : { global: mode }), agents: state.agents });
  }
  const agents: Record<string, LockdownMode> = {};
  for (const [name, m] of Object.entries(state.agents)) if (name !== agent) agents[name] = m;
  if (mode !== 'off') agents[agent] = mode;
  return Object.freeze({ ...(state.global ? { global: state.global } : {}), agents: Object.freeze(agents) });
}

/** The lockdown in force for `agent`, if any. */
export function lockdownFor(state: LockdownState | undefined, agent: string): ActiveLockdown | undefined {
  if (!state) return undefined;
  // hasOwn: an agent may be called "constructor".
  const own = Object.hasOwn(state.agents, agent) ? state.agents[agent] : undefined;
  if (state.global === 'deny-all') return { mode: 'deny-all', scope: 'global' };
  if (own === 'deny-all') return { mode: 'deny-all', scope: 'agent' };
  if (state.global) return { mode: state.global, scope: 'global' };
  if (own) return { mode: own, scope: 'agent' };
  return undefined;
}

/**
 * Why the lockdown blocks this request, or undefined when it does not. Under `read-only`,
 * resources and prompts are reads and stay subject to the policy alone.
 */
export function lockdownReason(lock: ActiveLockdown | undefined, agent: string, kind: 'tool' | 'resource' | 'prompt', trustedReadOnly: boolean): string | undefined {
  if (!lock) return undefined;
  const who = lock.scope === 'global' ? 'all agents are' : `agent ${agent} is`;
  if (lock.mode === 'deny-all') return `lockdown: ${who} locked down (deny-all); every call is denied until the lockdown is lifted`;
  if (kind === 'tool' && !trustedReadOnly) {
    return `lockdown: ${who} locked down (read-only); only tools with trusted read-only annotations may be called`;
  }
  return undefined;
}
