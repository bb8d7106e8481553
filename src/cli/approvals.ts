/**
 * `portcullis approvals list|show ID|approve ID|deny ID|watch`: the reviewer CLI over the
 * gateway's HTTP API (`--url`, `--token`, or PORTCULLIS_URL / PORTCULLIS_TOKEN). Exit codes:
 * 0 ok, 1 usage error or refused (401/403/404/409), 2 the gateway cannot be reached.
 */
import { createInterface, type Interface } from 'node:readline/promises';
import { DEFAULT_GATEWAY_URL, GATEWAY_CLIENT_OPTIONS, gatewayTarget, parseCommand, processIo, usageError, type CliIo } from './command-io.js';

/** A CliIo plus the terminal that `watch` prompts on. */
export interface ApprovalsIo extends CliIo {
  /** Where `watch` reads answers; `out` goes to `stdout`. */
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  /** Prompt on `watch`; default: stdin and stdout are terminals. */
  interactive?: boolean;
  fetch?: typeof fetch;
  /** Ends `watch` (besides Ctrl-C). */
  signal?: AbortSignal;
}

function processApprovalsIo(): ApprovalsIo {
  return { ...processIo(), stdin: process.stdin, stdout: process.stdout };
}

const HELP = `usage: portcullis approvals <command> [options]

commands:
  list [--status S | --all] [--json]     pending requests (or those with status S, or all)
  show ID [--json]                       one request with its arguments and reasons
  approve ID [--scope once|session] [--note TEXT]
  deny ID [--reason TEXT]
  watch                                  stream new requests; on a terminal, answer each y/s/n

options:
  --url URL       gateway base URL (env PORTCULLIS_URL, default ${DEFAULT_GATEWAY_URL})
  --token TOKEN   bearer token of a reviewer (env PORTCULLIS_TOKEN)
`;

interface Approval {
  id: string;
  status: string;
  kind?: string;
  agent: string;
  owner?: string;
  session: string;
  tool: string;
  args: unknown;
  reasons: string[];
  rule?: string;
  taint?: unknown;
  provenance?: unknown;
  policyVersion?: string;
  createdAt: string;
  expiresAt: string;
  decidedAt?: string;
  decision?: { by: string; via: string; scope?: string; note?: string; reason?: string };
}

/** An outcome with its exit code. */
class CliExit extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

interface Ctx {
  base: string;
  token: string | undefined;
  fetch: typeof fetch;
  out: (text: string) => void;
}

/** Control, bidi and other invisible characters from the server are shown escaped, never sent to the terminal. */
function safe(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\u{e0000}-\u{e007f}]/gu, (ch) => `\\u{${ch.codePointAt(0)!.toString(16)}}`);
}

function pretty(value: unknown): string {
  return safe(JSON.stringify(value, null, 2) ?? 'undefined');
}

function timeLeft(iso: string, now: number): string {
  const ms = Date.parse(iso) - now;
  if (!(ms > 0)) return 'expiring';
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}h${m}m left` : m ? `${m}m${s % 60}s left` : `${s}s left`;
}

function line(a: Approval, now: number): string {
  const when = a.status === 'pending' ? timeLeft(a.expiresAt, now) : `${a.status}${a.decision ? ` by ${a.decision.by} via ${a.decision.via}` : ''}`;
  return safe(`${a.id}  ${a.status.padEnd(9)}  ${a.agent}  ${a.tool}${a.kind === 'pin' ? ' (pin)' : ''}  ${when}`);
}

function details(a: Approval, now: number): string {
  const rows = [
    `request   ${a.id}`,
    `status    ${a.status}${a.status === 'pending' ? ` (${timeLeft(a.expiresAt, now)})` : ''}`,
    `agent     ${a.agent}${a.owner ? ` (owner ${a.owner})` : ''}`,
    `tool      ${a.tool}${a.kind === 'pin' ? ' — tool definition changed (admin only)' : ''}`,
    `session   ${a.session}`,
    ...(a.rule ? [`rule      ${a.rule}`] : []),
    `created   ${a.createdAt}`,
    `expires   ${a.expiresAt}`,
    ...(a.decision ? [`decided   ${a.decidedAt ?? ''} by ${a.decision.by} via ${a.decision.via}${a.decision.scope ? `, scope ${a.decision.scope}` : ''}`] : []),
    ...(a.decision?.note ? [`note      ${a.decision.note}`] : []),
    ...(a.decision?.reason ? [`reason    ${a.decision.reason}`] : []),
  ].map(safe);
  const reasons = a.reasons.length ? a.reasons.map((r) => `  - ${safe(r)}`) : ['  (none given)'];
  const extra = [...(a.taint === undefined ? [] : ['taint:', pretty(a.taint)]), ...(a.provenance === undefined ? [] : ['provenance:', pretty(a.provenance)])];
  return [...rows, 'reasons:', ...reasons, ...extra, 'arguments:', pretty(a.args)].join('\n');
}

async function request(ctx: Ctx, method: 'GET' | 'POST', path: string, body?: unknown): Promise<Record<string, unknown>> {
  const headers: Record<string, string> = { accept: 'application/json', 'x-portcullis-via': 'cli' };
  if (ctx.token) headers.authorization = `Bearer ${ctx.token}`;
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    headers['x-portcullis-csrf'] = '1';
  }
  let response: Response;
  try {
    response = await ctx.fetch(`${ctx.base}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  } catch (error) {
    throw new CliExit(2, `cannot reach the gateway at ${ctx.base}: ${causeOf(error)}. Is it running? Set --url or PORTCULLIS_URL.`);
  }
  const data = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
  if (response.ok && data) return data;
  const message = (data?.error as { message?: string } | undefined)?.message ?? (typeof data?.error === 'string' ? data.error : `HTTP ${response.status}`);
  if (response.status === 401) throw new CliExit(1, `not authenticated (${message}): pass --token or set PORTCULLIS_TOKEN`);
  throw new CliExit(response.status >= 500 ? 2 : 1, safe(message));
}

function causeOf(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}

async function decide(ctx: Ctx, id: string, approve: boolean, extra: { scope?: string; note?: string; reason?: string }): Promise<Approval> {
  const data = await request(ctx, 'POST', `/api/approvals/${encodeURIComponent(id)}/${approve ? 'approve' : 'deny'}`, extra);
  return data.approval as Approval;
}

/** Server-sent events from a fetch response, one `{event, data}` at a time. */
async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<{ event: string; data: string }> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, '\n');
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const l of block.split('\n')) {
        if (l.startsWith(':')) continue;
        const colon = l.indexOf(':');
        const field = colon < 0 ? l : l.slice(0, colon);
        const value = colon < 0 ? '' : l.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length) yield { event, data: data.join('\n') };
    }
  }
}

async function watch(ctx: Ctx, io: ApprovalsIo): Promise<number> {
  const interactive = io.interactive ?? Boolean((io.stdin as { isTTY?: boolean }).isTTY && (io.stdout as { isTTY?: boolean }).isTTY);
  const stop = new AbortController();
  const onSigint = () => stop.abort();
  process.once('SIGINT', onSigint);
  io.signal?.addEventListener('abort', onSigint, { once: true });
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (ctx.token) headers.authorization = `Bearer ${ctx.token}`;
  let rl: Interface | undefined;
  let prompting = Promise.resolve();
  try {
    let response: Response;
    try {
      response = await ctx.fetch(`${ctx.base}/api/approvals/stream`, { headers, signal: stop.signal });
    } catch (error) {
      if (stop.signal.aborted) return 0;
      throw new CliExit(2, `cannot reach the gateway at ${ctx.base}: ${causeOf(error)}`);
    }
    if (!response.ok || !response.body) {
      const data = (await response.json().catch(() => undefined)) as { error?: { message?: string } } | undefined;
      throw new CliExit(response.status >= 500 ? 2 : 1, `the gateway refused the stream: ${safe(data?.error?.message ?? `HTTP ${response.status}`)}`);
    }
    if (interactive) rl = createInterface({ input: io.stdin, output: io.stdout });
    const asked = new Set<string>();
    const settled = new Set<string>();
    const ask = (a: Approval) => {
      if (!rl || asked.has(a.id)) return;
      asked.add(a.id);
      const prompt = rl;
      prompting = prompting.then(async () => {
        if (settled.has(a.id) || stop.signal.aborted) return;
        ctx.out(`\n${details(a, Date.now())}\n`);
        const answer = (await prompt.question(safe(`Approve ${a.tool} for ${a.agent}? [y] once / [s] session / [n] deny / [Enter] skip: `), { signal: stop.signal })).trim().toLowerCase();
        if (answer !== 'y' && answer !== 's' && answer !== 'n') return ctx.out(`skipped ${a.id}\n`);
        const reason = answer === 'n' ? (await prompt.question('Reason, shown to the agent (optional): ', { signal: stop.signal })).trim() : '';
        try {
          const decided = await decide(ctx, a.id, answer !== 'n', answer === 'n' ? (reason ? { reason } : {}) : { scope: answer === 's' ? 'session' : 'once' });
          ctx.out(`${decided.status} ${decided.id}\n`);
        } catch (error) {
          ctx.out(`could not decide ${a.id}: ${error instanceof Error ? error.message : String(error)}\n`);
        }
      }).catch(() => undefined);
    };
    ctx.out(`watching ${ctx.base} for approval requests${interactive ? '' : ' (not a terminal: printing only)'}; Ctrl-C to stop\n`);
    for await (const { event, data } of sseEvents(response.body)) {
      const parsed = JSON.parse(data) as { approvals?: Approval[]; approval?: Approval };
      if (event === 'snapshot') {
        for (const a of parsed.approvals ?? []) {
          ctx.out(`pending   ${line(a, Date.now())}\n`);
          ask(a);
        }
      } else if (parsed.approval) {
        const a = parsed.approval;
        if (event !== 'requested') settled.add(a.id);
        ctx.out(`${event.padEnd(9)} ${line(a, Date.now())}\n`);
        if (event === 'requested') ask(a);
      }
    }
    if (stop.signal.aborted) return 0;
    throw new CliExit(2, 'the gateway closed the stream');
  } catch (error) {
    if (stop.signal.aborted) return 0;
    throw error;
  } finally {
    process.removeListener('SIGINT', onSigint);
    rl?.close();
    await prompting;
  }
}

/** `portcullis approvals …`; returns the exit code. */
export async function approvalsCommand(argv: string[], io: ApprovalsIo = processApprovalsIo()): Promise<number> {
  const parsed = parseCommand(
    io,
    'approvals',
    argv,
    { ...GATEWAY_CLIENT_OPTIONS, scope: { type: 'string' }, note: { type: 'string' }, reason: { type: 'string' }, status: { type: 'string' }, all: { type: 'boolean', default: false } },
    HELP,
  );
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const [command, id, ...extra] = positionals;
  const usage = (message: string) => usageError(io, 'approvals', message, HELP);
  if (!command) return usage('missing command');
  if (extra.length) return usage(`unexpected argument '${extra[0]}'`);
  const needsId = command === 'show' || command === 'approve' || command === 'deny';
  if (needsId && !id) return usage(`${command} needs a request id (see 'portcullis approvals list')`);
  if (!needsId && id) return usage(`unexpected argument '${id}'`);
  if (values.scope !== undefined && values.scope !== 'once' && values.scope !== 'session') return usage(`--scope must be once or session, not '${values.scope}'`);
  if (values.scope !== undefined && command !== 'approve') return usage('--scope goes with approve');
  if (values.note !== undefined && command !== 'approve') return usage('--note goes with approve (deny takes --reason)');
  if (values.reason !== undefined && command !== 'deny') return usage('--reason goes with deny (approve takes --note)');

  const { base, token } = gatewayTarget(io, values);
  try {
    new URL(base);
  } catch {
    return usage(`--url must be an absolute URL, e.g. ${DEFAULT_GATEWAY_URL}`);
  }
  const ctx: Ctx = { base, token, fetch: io.fetch ?? fetch, out: (text) => io.out(text) };

  try {
    switch (command) {
      case 'list': {
        if (values.status && values.all) return usage('give --status or --all, not both');
        const query = values.all ? '' : `?status=${encodeURIComponent(values.status ?? 'pending')}`;
        const data = await request(ctx, 'GET', `/api/approvals${query}`);
        const list = data.approvals as Approval[];
        if (values.json) ctx.out(`${JSON.stringify(list, null, 2)}\n`);
        else if (list.length === 0) ctx.out(values.all ? 'no approval requests\n' : `no ${values.status ?? 'pending'} approval requests\n`);
        else for (const a of list) ctx.out(`${line(a, Date.now())}\n`);
        return 0;
      }
      case 'show': {
        const data = await request(ctx, 'GET', `/api/approvals/${encodeURIComponent(id!)}`);
        ctx.out(values.json ? `${JSON.stringify(data.approval, null, 2)}\n` : `${details(data.approval as Approval, Date.now())}\n`);
        return 0;
      }
      case 'approve': {
        const a = await decide(ctx, id!, true, { scope: values.scope ?? 'once', ...(values.note ? { note: values.note } : {}) });
        ctx.out(safe(`approved ${a.id} (${a.agent} → ${a.tool}, scope ${a.decision?.scope ?? 'once'})`) + '\n');
        return 0;
      }
      case 'deny': {
        const a = await decide(ctx, id!, false, values.reason ? { reason: values.reason } : {});
        ctx.out(safe(`denied ${a.id} (${a.agent} → ${a.tool})`) + '\n');
        return 0;
      }
      case 'watch':
        return await watch(ctx, io);
      default:
        return usage(`unknown command '${command}'`);
    }
  } catch (error) {
    if (error instanceof CliExit) {
      io.err(`portcullis approvals: ${error.message}\n`);
      return error.code;
    }
    throw error;
  }
}
