/**
 * `portcullis call TOOL [--args JSON] [--agent NAME] [--dry-run] [-c FILE]`: with --dry-run,
 * evaluate the call against the policy and print the decision; without, send it through a
 * running gateway as an MCP client would and print the result.
 */
import type { CallToolResult } from '@modelcontextprotocol/client';
import {
  evaluate,
  formatDenial,
  lockdownFor,
  type CatalogTool,
  type CompiledPolicy,
  type Decision,
  type LockdownState,
  type ToolFacts,
} from '../policy/index.js';
import { openLiveCatalog, UNREACHABLE_HINT, UpstreamsUnreachableError } from './catalog.js';
import { errorText, EXIT, GATEWAY_CLIENT_OPTIONS, compilePolicyOrExit, gatewayTarget, loadConfigOrExit, parseCommand, processIo, usageError, type CliIo } from './command-io.js';
import { readStateLockdown } from './lockdown.js';

const HELP = `usage: portcullis call TOOL [--args JSON] [--dry-run [--agent NAME] [--claims JSON] [--live] [-c FILE]] [--url URL] [--token TOKEN] [--json]

With --dry-run: decide the call against the policy in the config and print the decision, the
deciding rule and the reasons; nothing is executed. Exit 0 when the call would run, 1 when it
would be denied or needs a human's approval (ask).
Without --dry-run: send the call through a running gateway, as an MCP client, and print the
result. Exit 0 on success, 1 when the result is an error (denied, pending approval, tool error),
2 when the gateway or the upstream cannot be reached.

  TOOL               exposed tool name, e.g. docs__read_page
  --args JSON        the call's arguments, a JSON object (default {})
  --dry-run          decide only
  --agent NAME       (dry run) the agent profile (default: default)
  --claims JSON      (dry run) the caller's JWT claims, for \${claims.X} conditions
  --live             (dry run) read the tool's annotations from the upstreams, so readOnly rules
                     and read-only lockdowns can be judged; without it they are unknown
  -c, --config FILE  (dry run) config file (default: portcullis.yaml)
  --url URL          gateway URL (default: $PORTCULLIS_URL or http://127.0.0.1:8787; /mcp is added)
  --token TOKEN      bearer token for the gateway (default: $PORTCULLIS_TOKEN)
  --json             machine-readable output
`;

const RANK = { allow: 1, ask: 2, deny: 3 } as const;
/** JSON-RPC codes of "upstream unavailable" and "upstream timeout": the call could not run. */
const CANNOT_RUN_CODES = new Set([-32010, -32011]);

function parseObject(text: string | undefined, flag: string): Record<string, unknown> | string {
  if (text === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `${flag} is not valid JSON (${errorText(error)}); pass an object, e.g. ${flag} '{"path": "/marketing/plan.md"}'`;
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return `${flag} must be a JSON object, e.g. ${flag} '{"path": "/marketing/plan.md"}'`;
  return value as Record<string, unknown>;
}

export interface DryRunResult {
  readonly tool: string;
  readonly agent: string;
  readonly effect: Decision['effect'];
  /** The call would run without a human. */
  readonly allowed: boolean;
  readonly requiresApproval: boolean;
  readonly rule?: Decision['rule'];
  readonly reasons: readonly string[];
  /** What the client would see on deny. */
  readonly denial?: string;
  readonly lockdown?: Decision['lockdown'];
  readonly limit?: Decision['limit'];
  /** Where the tool's annotations came from: the live upstreams, or nowhere. */
  readonly toolFacts: 'live' | 'unknown';
  readonly notes: string[];
}

/** Decides one call with the facts at hand, with notes on what a dry run cannot see. */
export function dryRun(
  policy: CompiledPolicy,
  call: { tool: string; agent: string; args: Record<string, unknown>; claims?: Record<string, unknown> },
  ctx: { now: number; lockdown?: LockdownState; catalog?: readonly CatalogTool[] },
): DryRunResult {
  const notes: string[] = [];
  let facts: ToolFacts | undefined;
  if (ctx.catalog) {
    const tool = ctx.catalog.find((t) => t.name === call.tool);
    if (tool) {
      facts = { annotationsTrusted: tool.annotationsTrusted, ...(tool.readOnlyHint === undefined ? {} : { readOnlyHint: tool.readOnlyHint }) };
    } else {
      notes.push(`no upstream exposes ${call.tool}: a real call would fail with "unknown tool"`);
    }
  }
  const decision = evaluate(
    policy,
    { agent: call.agent, kind: 'tool', name: call.tool, args: call.args, ...(facts ? { tool: facts } : {}), ...(call.claims ? { claims: call.claims } : {}) },
    { now: ctx.now, ...(ctx.lockdown ? { lockdown: ctx.lockdown } : {}) },
  );
  const rules = (policy.agents.get(call.agent)?.tools.rules ?? []).filter((r) => r.match(call.tool));
  const defaultDeny = decision.effect === 'deny' && !decision.rule && !decision.lockdown && !decision.limit;
  if (!ctx.catalog) {
    // Only readOnly rules that could have changed the outcome are worth a note.
    for (const r of rules.filter((x) => x.readOnly && (defaultDeny ? x.effect !== 'deny' : RANK[x.effect] > RANK[decision.effect]))) {
      notes.push(`${r.path} (${r.effect} ${r.pattern}, readOnly: true) was not considered: the tool's annotations are unknown without --live, so readOnly rules cannot match`);
    }
    if (lockdownFor(ctx.lockdown, call.agent)?.mode === 'read-only') {
      notes.push('a read-only lockdown is on and the tool\'s annotations are unknown without --live, so the call is judged as a write');
    }
  }
  if (defaultDeny) {
    // Default deny says nothing of the rules that named the tool: say which conditions failed.
    const trustedReadOnly = facts?.readOnlyHint === true && facts.annotationsTrusted;
    for (const r of rules.filter((x) => x.effect !== 'deny' && x.where.length > 0 && (!x.readOnly || trustedReadOnly))) {
      notes.push(`${r.path} (${r.effect} ${r.pattern}) names this tool, but its conditions do not hold for these arguments: ${r.where.map((c) => c.description).join(' and ')}`);
    }
  }
  if (decision.limitKeys && decision.limitKeys.length > 0) {
    notes.push('rate limits apply to this tool; a dry run does not see the running gateway\'s counters, so it never hits them');
  }
  if (decision.effect === 'allow') {
    notes.push('at runtime, session taint or copied tainted text can still turn this call into ask (SPEC §5)');
  }
  return {
    tool: call.tool,
    agent: call.agent,
    effect: decision.effect,
    allowed: decision.effect === 'allow',
    requiresApproval: decision.effect === 'ask',
    ...(decision.rule ? { rule: decision.rule } : {}),
    reasons: decision.reasons,
    ...(decision.effect === 'deny' ? { denial: formatDenial(decision) } : {}),
    ...(decision.lockdown ? { lockdown: decision.lockdown } : {}),
    ...(decision.limit ? { limit: decision.limit } : {}),
    toolFacts: ctx.catalog ? 'live' : 'unknown',
    notes,
  };
}

function formatDryRun(r: DryRunResult): string {
  const verdict = r.effect === 'allow'
    ? 'allow: the call would run'
    : r.effect === 'ask'
      ? 'ask: requires approval, the call would be held until a reviewer approves it'
      : 'deny: the call would be refused';
  const lines = [`${r.tool} for agent ${r.agent}: ${verdict}`];
  lines.push(`  rule:    ${r.rule ? `${r.rule.path}${r.rule.id ? ` (${r.rule.id})` : ''}` : r.lockdown ? '(lockdown)' : r.limit ? `(rate limit ${r.limit.path})` : '(default deny: no rule allows it)'}`);
  lines.push('  reasons:', ...r.reasons.map((x) => `    - ${x}`));
  if (r.denial) lines.push(`  the client would see: ${r.denial}`);
  for (const n of r.notes) lines.push(`  note: ${n}`);
  return `${lines.join('\n')}\n`;
}

async function dryRunCommand(io: CliIo, tool: string, opts: { config: string; agent: string; args: Record<string, unknown>; claims?: Record<string, unknown>; live: boolean; json: boolean }): Promise<number> {
  const loaded = await loadConfigOrExit(io, 'call', opts.config);
  if (typeof loaded === 'number') return loaded;
  const policy = await compilePolicyOrExit(io, 'call', opts.config, loaded);
  if (typeof policy === 'number') return policy;
  if (!policy.agents.has(opts.agent)) {
    io.err(`portcullis call: ${opts.config}: no agent named '${opts.agent}' under agents (its calls would all be denied); known agents: ${[...policy.agents.keys()].join(', ') || '(none)'}\n`);
    return EXIT.FAILED;
  }
  const lockdown = await readStateLockdown(loaded.config);
  if (lockdown.problem) io.err(`portcullis call: warning: ${lockdown.problem}\n`);
  let catalog: readonly CatalogTool[] | undefined;
  if (opts.live) {
    try {
      const live = await openLiveCatalog(loaded.config, { secrets: loaded.secrets });
      catalog = live.catalog.tools;
      await live.close();
    } catch (error) {
      if (!(error instanceof UpstreamsUnreachableError)) throw error;
      io.err(`portcullis call: ${opts.config}:\n${error.message}\n  ${UNREACHABLE_HINT}\n`);
      return EXIT.CANNOT_RUN;
    }
  }
  const result = dryRun(policy, { tool, agent: opts.agent, args: opts.args, ...(opts.claims ? { claims: opts.claims } : {}) }, { now: io.now(), lockdown: lockdown.state, ...(catalog ? { catalog } : {}) });
  io.out(opts.json ? `${JSON.stringify(result, null, 2)}\n` : formatDryRun(result));
  const unknownTool = catalog !== undefined && !catalog.some((t) => t.name === tool);
  return result.allowed && !unknownTool ? EXIT.OK : EXIT.FAILED;
}

function resultText(result: CallToolResult): string {
  const parts: string[] = [];
  for (const block of result.content ?? []) {
    parts.push(block.type === 'text' ? block.text : JSON.stringify(block));
  }
  if (parts.length === 0 && result.structuredContent !== undefined) parts.push(JSON.stringify(result.structuredContent, null, 2));
  return parts.join('\n');
}

async function liveCallCommand(io: CliIo, tool: string, opts: { args: Record<string, unknown>; base: string; token?: string; json: boolean }): Promise<number> {
  const url = `${opts.base}/mcp`;
  const { Client, StreamableHTTPClientTransport } = await import('@modelcontextprotocol/client');
  const client = new Client({ name: 'portcullis-cli', version: '0.1.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url), opts.token ? { requestInit: { headers: { authorization: `Bearer ${opts.token}` } } } : {});
  try {
    try {
      await client.connect(transport);
    } catch (error) {
      const text = errorText(error);
      if (/\b40[13]\b/.test(text)) {
        io.err(`portcullis call: the gateway at ${url} refused the connection: ${text}\n  pass a token with --token or PORTCULLIS_TOKEN\n`);
        return EXIT.FAILED;
      }
      io.err(`portcullis call: cannot reach the gateway at ${url}: ${text}\n  start it with 'portcullis serve', pass --url, or use --dry-run to decide without a gateway\n`);
      return EXIT.CANNOT_RUN;
    }
    let result: CallToolResult;
    try {
      result = await client.callTool({ name: tool, arguments: opts.args });
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      io.err(`portcullis call: ${tool}: ${errorText(error)}\n`);
      return typeof code === 'number' && CANNOT_RUN_CODES.has(code) ? EXIT.CANNOT_RUN : EXIT.FAILED;
    }
    if (opts.json) io.out(`${JSON.stringify(result, null, 2)}\n`);
    else if (result.isError) io.err(`${resultText(result)}\n`);
    else io.out(`${resultText(result)}\n`);
    return result.isError ? EXIT.FAILED : EXIT.OK;
  } finally {
    await client.close().catch(() => undefined);
  }
}

export async function callCommand(argv: string[], io: CliIo = processIo()): Promise<number> {
  const parsed = parseCommand(io, 'call', argv, {
    args: { type: 'string' },
    agent: { type: 'string' },
    claims: { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
    live: { type: 'boolean', default: false },
    config: { type: 'string', short: 'c' },
    ...GATEWAY_CLIENT_OPTIONS,
  }, HELP);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const [tool, ...extra] = positionals;
  if (tool === undefined) return usageError(io, 'call', 'name the tool to call, e.g. portcullis call docs__search --args \'{"q": "plan"}\'', HELP);
  if (extra.length > 0) return usageError(io, 'call', `unexpected argument '${extra[0]}' (pass arguments with --args JSON)`, HELP);
  const args = parseObject(values.args, '--args');
  if (typeof args === 'string') return usageError(io, 'call', args, HELP);

  if (values['dry-run']) {
    const claims = values.claims === undefined ? undefined : parseObject(values.claims, '--claims');
    if (typeof claims === 'string') return usageError(io, 'call', claims, HELP);
    return dryRunCommand(io, tool, {
      config: values.config ?? 'portcullis.yaml',
      agent: values.agent ?? 'default',
      args,
      ...(claims ? { claims } : {}),
      live: values.live,
      json: values.json,
    });
  }
  const dryOnly = [
    values.agent !== undefined && '--agent',
    values.claims !== undefined && '--claims',
    values.config !== undefined && '--config',
    values.live && '--live',
  ].filter((flag): flag is string => typeof flag === 'string');
  if (dryOnly.length > 0) {
    return usageError(io, 'call', `${dryOnly[0]} applies to --dry-run only: through the gateway, the agent and claims come from --token and the policy is the gateway's`, HELP);
  }
  const { base, token } = gatewayTarget(io, values);
  return liveCallCommand(io, tool, { args, base, ...(token ? { token } : {}), json: values.json });
}
