/**
 * `portcullis pins list|approve TOOL|reset`: tool-definition pins (rug-pull protection). The
 * running gateway is asked (`/api/pins`, approve and reset need an admin); without one, `list`
 * and `reset` work on gateway.state/pins.json directly.
 */
import { readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { EXIT, GATEWAY_CLIENT_OPTIONS, gatewayTarget, loadConfigOrExit, parseCommand, processIo, requestGateway, usageError, type CliIo } from './command-io.js';

const HELP = `usage: portcullis pins list|approve TOOL|reset [-c FILE] [--url URL] [--token TOKEN] [--json]

Tool definitions are pinned (SHA-256 of every field plus the server's instructions) the first time
the gateway sees them; a later change blocks the tool until an admin approves it.
  list          pinned tools, and tools blocked by a changed definition
  approve TOOL  accept TOOL's current definition (exposed name, e.g. docs__search); needs the gateway
  reset         forget every pin: the definitions in use are pinned afresh

  -c, --config FILE  config file, for gateway.state when no gateway answers (default: portcullis.yaml)
  --url URL          gateway base URL (default: $PORTCULLIS_URL or http://127.0.0.1:8787)
  --token TOKEN      bearer token (admin for approve/reset; default: $PORTCULLIS_TOKEN)
  --json             print the gateway's JSON answer
`;

type Answer = { kind: 'ok'; body: unknown } | { kind: 'refused'; status: number; message: string } | { kind: 'unreachable'; reason: string };

async function ask(base: string, path: string, method: 'GET' | 'POST', token: string | undefined): Promise<Answer> {
  const reply = await requestGateway(base, path, { method, token });
  if (reply.kind === 'unreachable') return reply;
  if (reply.ok) return { kind: 'ok', body: reply.json ?? {} };
  const error = (reply.json as { error?: { message?: string } | string } | undefined)?.error;
  return { kind: 'refused', status: reply.status, message: typeof error === 'string' ? error : (error?.message ?? (reply.text.slice(0, 300) || `HTTP ${reply.status}`)) };
}

export async function pinsCommand(argv: string[], io: CliIo = processIo()): Promise<number> {
  const parsed = parseCommand(io, 'pins', argv, { config: { type: 'string', short: 'c', default: 'portcullis.yaml' }, ...GATEWAY_CLIENT_OPTIONS }, HELP);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const [action, tool, ...extra] = positionals;
  if (action !== 'list' && action !== 'approve' && action !== 'reset') return usageError(io, 'pins', `say list, approve TOOL or reset${action ? ` (not '${action}')` : ''}`, HELP);
  if (action === 'approve' ? tool === undefined || extra.length > 0 : tool !== undefined) return usageError(io, 'pins', action === 'approve' ? 'name one tool to approve' : `unexpected argument '${tool}'`, HELP);

  const { base, token } = gatewayTarget(io, values);
  const path = action === 'list' ? '/api/pins' : action === 'reset' ? '/api/pins/reset' : `/api/pins/${encodeURIComponent(tool!)}/approve`;
  const answer = await ask(base, path, action === 'list' ? 'GET' : 'POST', token);

  if (answer.kind === 'ok') {
    if (values.json || action !== 'list') {
      io.out(values.json ? `${JSON.stringify(answer.body, null, 2)}\n` : action === 'reset' ? 'all pins reset; current definitions are pinned afresh\n' : `${tool}: new definition approved and pinned\n`);
      return EXIT.OK;
    }
    const { pins, blocked } = answer.body as { pins: Array<{ key: string; digest: string; pinnedAt: string }>; blocked: Array<{ exposed: string; reason: string }> };
    for (const b of blocked) io.out(`BLOCKED ${b.exposed}: ${b.reason}\n`);
    for (const p of pins) io.out(`${p.key}  ${p.digest.slice(0, 16)}…  pinned ${p.pinnedAt}\n`);
    io.out(`${pins.length} pinned, ${blocked.length} blocked\n`);
    return EXIT.OK;
  }
  if (answer.kind === 'refused') {
    io.err(`portcullis pins: the gateway at ${base} refused (HTTP ${answer.status}): ${answer.message}\n`);
    return answer.status >= 500 ? EXIT.CANNOT_RUN : EXIT.FAILED;
  }

  // No gateway: the state file is all there is.
  if (action === 'approve') {
    io.err(`portcullis pins: no gateway answered at ${base} (${answer.reason}); approving needs the running gateway, which holds the new definition\n`);
    return EXIT.CANNOT_RUN;
  }
  const loaded = await loadConfigOrExit(io, 'pins', values.config);
  if (typeof loaded === 'number') return loaded;
  const file = join(resolve(loaded.config.gateway.state), 'pins.json');
  if (action === 'reset') {
    await rm(file, { force: true });
    io.out(`no gateway answered at ${base}; removed ${file}: definitions are pinned afresh at the next start\n`);
    return EXIT.OK;
  }
  let pins: Record<string, { digest: string; pinnedAt: string }> = {};
  try {
    pins = (JSON.parse(await readFile(file, 'utf8')) as { pins?: typeof pins }).pins ?? {};
  } catch {
    // no pins yet
  }
  if (values.json) io.out(`${JSON.stringify({ pins: Object.entries(pins).map(([key, p]) => ({ key, ...p })), blocked: [] }, null, 2)}\n`);
  else {
    for (const [key, p] of Object.entries(pins)) io.out(`${key}  ${p.digest.slice(0, 16)}…  pinned ${p.pinnedAt}\n`);
    io.out(`${Object.keys(pins).length} pinned (from ${file}; no gateway answered, so blocked tools are unknown)\n`);
  }
  return EXIT.OK;
}
