/**
 * `portcullis lockdown on|off [--agent NAME] [--mode deny-all|read-only]`: the kill switch. Asks
 * the running gateway (`POST /api/lockdown`, admin only); when no gateway answers, writes the
 * state file under gateway.state so the lockdown is in force from the next start.
 */
import { resolve } from 'node:path';
import type { Config, LoadedConfig } from '../config/index.js';
import { NO_LOCKDOWN, type LockdownMode, type LockdownState } from '../policy/index.js';
import { createLockdownStore, LOCKDOWN_FILE, lockdownJson, readLockdownFile } from '../state/index.js';
import { errorText, EXIT, GATEWAY_CLIENT_OPTIONS, gatewayTarget, loadConfigOrExit, parseCommand, processIo, requestGateway, usageError, type CliIo } from './command-io.js';

const HELP = `usage: portcullis lockdown on|off [--agent NAME] [--mode deny-all|read-only] [-c FILE] [--url URL] [--token TOKEN] [--json]

Kill switch: restrict one agent (--agent) or every agent at once, at runtime. It survives policy
reloads and restarts until lifted with 'off'.
  deny-all   every call, read and list is denied (default)
  read-only  only tools with trusted read-only annotations may be called

The running gateway is asked first (POST /api/lockdown, admin only). When no gateway answers at
--url, the lockdown is written to gateway.state/${LOCKDOWN_FILE} and applies from the next start.

  --agent NAME       the agent to lock down or release (default: all agents)
  --mode MODE        deny-all | read-only (with 'on'; default deny-all)
  -c, --config FILE  config file, for agent names and gateway.state (default: portcullis.yaml)
  --url URL          gateway base URL (default: $PORTCULLIS_URL or http://127.0.0.1:8787)
  --token TOKEN      admin bearer token (default: $PORTCULLIS_TOKEN)
  --json             print { applied, lockdown: { global, agents } }
`;

const MODES = ['deny-all', 'read-only'] as const;
const REQUEST_TIMEOUT_MS = 10_000;

/** The lockdown directory of a config: gateway.state, relative to the working directory like audit.file. */
export function lockdownStateDir(config: Readonly<Config>): string {
  return resolve(config.gateway.state);
}

/**
 * The lockdown recorded under a config's gateway.state, for commands that only read it
 * (explain, call --dry-run); a broken file is reported as `problem`, not thrown.
 */
export async function readStateLockdown(config: Readonly<Config>): Promise<{ state: LockdownState; problem?: string }> {
  try {
    return { state: await readLockdownFile(resolve(lockdownStateDir(config), LOCKDOWN_FILE)) };
  } catch (error) {
    return { state: NO_LOCKDOWN, problem: errorText(error) };
  }
}

function describeState(state: LockdownState): string {
  const agents = Object.entries(state.agents).map(([name, mode]) => `${name}: ${mode}`);
  const parts = [`all agents: ${state.global ?? 'off'}`, ...(agents.length > 0 ? [`per agent: ${agents.join(', ')}`] : [])];
  return `lockdown now in force: ${parts.join('; ')}`;
}

function describeChange(agent: string | undefined, mode: LockdownMode | 'off'): string {
  const who = agent === undefined ? 'all agents' : `agent ${agent}`;
  return mode === 'off' ? `lockdown lifted for ${who}` : `${who} locked down (${mode})`;
}

function stillLocked(state: LockdownState, agent: string | undefined, mode: LockdownMode | 'off'): string | undefined {
  if (mode !== 'off' || agent === undefined || !state.global) return undefined;
  return `note: the lockdown of all agents (${state.global}) still applies to ${agent}; lift it with 'portcullis lockdown off'`;
}

type GatewayAnswer =
  | { kind: 'applied'; state: LockdownState }
  | { kind: 'unreachable'; reason: string }
  | { kind: 'no-route' }
  | { kind: 'refused'; status: number; message: string };

async function askGateway(base: string, token: string | undefined, body: { agent?: string; mode: LockdownMode | 'off' }): Promise<GatewayAnswer> {
  const reply = await requestGateway(base, '/api/lockdown', { method: 'POST', token, body, timeoutMs: REQUEST_TIMEOUT_MS });
  if (reply.kind === 'unreachable') return reply;
  const { status, json, text } = reply;
  if (status === 404) return { kind: 'no-route' };
  if (!reply.ok) {
    const message = (json as { error?: unknown } | undefined)?.error;
    return { kind: 'refused', status, message: typeof message === 'string' ? message : text.slice(0, 300) };
  }
  const data = json as { global?: unknown; agents?: unknown } | undefined;
  const agents: Record<string, LockdownMode> = {};
  if (data?.agents && typeof data.agents === 'object') {
    for (const [name, m] of Object.entries(data.agents)) if (m === 'deny-all' || m === 'read-only') agents[name] = m;
  }
  const global = data?.global === 'deny-all' || data?.global === 'read-only' ? data.global : undefined;
  return { kind: 'applied', state: { ...(global ? { global } : {}), agents } };
}

export async function lockdownCommand(argv: string[], io: CliIo = processIo()): Promise<number> {
  const parsed = parseCommand(io, 'lockdown', argv, {
    agent: { type: 'string' },
    mode: { type: 'string' },
    config: { type: 'string', short: 'c', default: 'portcullis.yaml' },
    ...GATEWAY_CLIENT_OPTIONS,
  }, HELP);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const [action, ...extra] = positionals;
  if (action !== 'on' && action !== 'off') return usageError(io, 'lockdown', action === undefined ? "say 'on' or 'off'" : `unknown action '${action}': say 'on' or 'off'`, HELP);
  if (extra.length > 0) return usageError(io, 'lockdown', `unexpected argument '${extra[0]}'`, HELP);
  if (action === 'off' && values.mode !== undefined) return usageError(io, 'lockdown', "--mode goes with 'on'; 'off' lifts whatever mode is on", HELP);
  const modeArg = values.mode ?? 'deny-all';
  if (!(MODES as readonly string[]).includes(modeArg)) return usageError(io, 'lockdown', `unknown --mode '${modeArg}': use deny-all or read-only`, HELP);
  const mode: LockdownMode | 'off' = action === 'off' ? 'off' : (modeArg as LockdownMode);
  const agent = values.agent;

  // The config names the agents (to catch typos) and the state folder (for the offline path).
  // Lifting stays possible for an agent the config no longer has.
  const loaded: LoadedConfig | number = await loadConfigOrExit(silentErrors(io), 'lockdown', values.config);
  if (typeof loaded !== 'number' && mode !== 'off' && agent !== undefined && !Object.hasOwn(loaded.config.agents, agent)) {
    const known = Object.keys(loaded.config.agents);
    io.err(`portcullis lockdown: ${values.config}: no agent named '${agent}' under agents; known agents: ${known.join(', ') || '(none)'}\n`);
    return EXIT.FAILED;
  }

  const { base, token } = gatewayTarget(io, values);
  const answer = await askGateway(base, token, { ...(agent !== undefined ? { agent } : {}), mode });

  if (answer.kind === 'applied') {
    if (values.json) io.out(`${JSON.stringify({ applied: 'gateway', url: base, lockdown: lockdownJson(answer.state) }, null, 2)}\n`);
    else io.out([`${describeChange(agent, mode)} on the gateway at ${base}.`, describeState(answer.state), stillLocked(answer.state, agent, mode)].filter(Boolean).join('\n') + '\n');
    return EXIT.OK;
  }
  if (answer.kind === 'refused') {
    const advice = answer.status === 401 || answer.status === 403
      ? 'lockdown is admin-only: pass an admin token with --token or PORTCULLIS_TOKEN (mint one with portcullis token --sub NAME --role admin)'
      : 'see the gateway log';
    io.err(`portcullis lockdown: the gateway at ${base} refused (HTTP ${answer.status}): ${answer.message}\n  ${advice}\n`);
    return answer.status === 401 || answer.status === 403 || answer.status === 400 ? EXIT.FAILED : EXIT.CANNOT_RUN;
  }

  // No gateway to ask (or one without the route): record it for the next start.
  if (typeof loaded === 'number') {
    await loadConfigOrExit(io, 'lockdown', values.config);
    io.err(`portcullis lockdown: no gateway answered at ${base}${answer.kind === 'unreachable' ? ` (${answer.reason})` : ''}, and without a valid config there is no gateway.state to write to; pass --url or -c FILE\n`);
    return loaded;
  }
  let state: LockdownState;
  let file: string;
  try {
    const store = await createLockdownStore(lockdownStateDir(loaded.config));
    file = store.file;
    state = await store.set(agent, mode);
  } catch (error) {
    io.err(`portcullis lockdown: cannot record the lockdown under gateway.state (${lockdownStateDir(loaded.config)}): ${errorText(error)}\n`);
    return EXIT.CANNOT_RUN;
  }
  const why = answer.kind === 'unreachable'
    ? `no gateway answered at ${base} (${answer.reason})`
    : `the gateway at ${base} has no /api/lockdown route, so it was NOT changed at runtime`;
  if (values.json) {
    io.out(`${JSON.stringify({ applied: 'state-file', file, reason: why, lockdown: lockdownJson(state) }, null, 2)}\n`);
  } else {
    io.out([
      `${why}; recorded in ${file}: ${describeChange(agent, mode)} from the next gateway start.`,
      describeState(state),
      stillLocked(state, agent, mode),
    ].filter(Boolean).join('\n') + '\n');
  }
  return answer.kind === 'no-route' ? EXIT.CANNOT_RUN : EXIT.OK;
}

/** The same io with stderr muted: the config is optional when the gateway answers. */
function silentErrors(io: CliIo): CliIo {
  return { ...io, err: () => undefined };
}
