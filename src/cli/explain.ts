/** `portcullis explain [-c FILE] [--agent NAME] [--live] [--json]`: the effective permission table. */
import { explainAgent, formatExplainTable, lockdownFor, type CompiledPolicy, type ExplainRow, type LockdownState, type PolicyCatalog } from '../policy/index.js';
import { openLiveCatalog, UNREACHABLE_HINT, UpstreamsUnreachableError } from './catalog.js';
import { compilePolicyOrExit, EXIT, loadConfigOrExit, parseCommand, processIo, type CliIo } from './command-io.js';
import { readStateLockdown } from './lockdown.js';

const HELP = `usage: portcullis explain [-c FILE] [--agent NAME] [--live] [--json]

What each agent can do: for every tool, resource and prompt, the decision (allow / ask / deny),
the deciding rule, its conditions, rate limit and taint class. Without --live the rows are the
rules' patterns; with --live they are the tools, resources and prompts the upstreams expose.

  -c, --config FILE  config file (default: portcullis.yaml)
  --agent NAME       only this agent (default: every agent)
  --live             connect to the upstreams and explain their real tools
  --json             print { source, agents: [{ agent, owner, lockdown, rows }] }
`;

export interface ExplainedAgent {
  readonly agent: string;
  readonly owner?: string;
  /** The runtime lockdown recorded in gateway.state, which overrides the table while on. */
  readonly lockdown?: string;
  readonly rows: ExplainRow[];
}

function explainAll(policy: CompiledPolicy, names: readonly string[], catalog: PolicyCatalog | undefined, lockdown: LockdownState): ExplainedAgent[] {
  return names.map((name) => {
    const owner = policy.agents.get(name)?.owner;
    const lock = lockdownFor(lockdown, name);
    return {
      agent: name,
      ...(owner !== undefined ? { owner } : {}),
      ...(lock ? { lockdown: `${lock.mode} (${lock.scope === 'global' ? 'all agents' : 'this agent'})` } : {}),
      rows: explainAgent(policy, name, catalog),
    };
  });
}

export async function explainCommand(argv: string[], io: CliIo = processIo()): Promise<number> {
  const parsed = parseCommand(io, 'explain', argv, {
    config: { type: 'string', short: 'c', default: 'portcullis.yaml' },
    agent: { type: 'string' },
    live: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  }, HELP, { positionals: false });
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  const loaded = await loadConfigOrExit(io, 'explain', values.config);
  if (typeof loaded === 'number') return loaded;
  const policy = await compilePolicyOrExit(io, 'explain', values.config, loaded);
  if (typeof policy === 'number') return policy;
  const known = [...policy.agents.keys()];
  if (values.agent !== undefined && !policy.agents.has(values.agent)) {
    io.err(`portcullis explain: ${values.config}: no agent named '${values.agent}' under agents; known agents: ${known.join(', ') || '(none)'}\n`);
    return EXIT.FAILED;
  }
  const names = values.agent !== undefined ? [values.agent] : known;

  const lockdown = await readStateLockdown(loaded.config);
  let catalog: PolicyCatalog | undefined;
  if (values.live) {
    try {
      const live = await openLiveCatalog(loaded.config, { secrets: loaded.secrets });
      catalog = live.catalog;
      await live.close();
    } catch (error) {
      if (!(error instanceof UpstreamsUnreachableError)) throw error;
      io.err(`portcullis explain: ${values.config}:\n${error.message}\n  ${UNREACHABLE_HINT}\n`);
      return EXIT.CANNOT_RUN;
    }
  }
  const agents = explainAll(policy, names, catalog, lockdown.state);

  if (values.json) {
    io.out(`${JSON.stringify({ file: values.config, source: catalog ? 'live' : 'rules', agents, ...(lockdown.problem ? { lockdownError: lockdown.problem } : {}) }, null, 2)}\n`);
    return EXIT.OK;
  }
  const out: string[] = [];
  out.push(catalog ? `Effective permissions in ${values.config}, for the tools the upstreams expose now.` : `Effective permissions in ${values.config}, by rule pattern (use --live for the upstreams' real tools).`);
  if (lockdown.problem) out.push(`warning: ${lockdown.problem}`);
  if (agents.length === 0) out.push('', 'No agents are defined: every call is denied (default deny).');
  for (const a of agents) {
    out.push('', `Agent ${a.agent}${a.owner ? ` (owner ${a.owner})` : ''}`);
    if (a.lockdown) out.push(`LOCKDOWN ${a.lockdown} is on: it overrides the table below until 'portcullis lockdown off'.`);
    out.push(formatExplainTable(a.rows).trimEnd());
  }
  if (!catalog && agents.some((a) => a.rows.some((r) => r.conditions.includes('read-only tools only')))) {
    out.push('', 'Rows marked "read-only tools only" apply only to tools whose server has annotations: trusted and whose readOnlyHint is true.');
  }
  io.out(`${out.join('\n')}\n`);
  return EXIT.OK;
}
