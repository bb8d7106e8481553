/**
 * `portcullis undo CALL_ID [--url URL] [--token TOKEN] [--json]`: asks the running gateway
 * (`POST /api/calls/:id/undo`) to run the compensating call declared for that call.
 */
import { EXIT, GATEWAY_CLIENT_OPTIONS, gatewayTarget, parseCommand, processIo, requestGateway, usageError, type CliIo } from './command-io.js';

const HELP = `usage: portcullis undo CALL_ID [--url URL] [--token TOKEN] [--json]

Runs the compensating call a rule declared with undo: for a call that succeeded (see
'portcullis audit' for call ids). Only the agent's owner or an admin may undo, and only once.

  --url URL      gateway base URL (default: $PORTCULLIS_URL or http://127.0.0.1:8787)
  --token TOKEN  reviewer or admin bearer token (default: $PORTCULLIS_TOKEN)
  --json         print the gateway's answer as JSON
`;

const REQUEST_TIMEOUT_MS = 130_000;

function messageOf(json: unknown, fallback: string): string {
  const body = json as { error?: unknown; message?: unknown } | undefined;
  if (body?.error && typeof body.error === 'object' && typeof (body.error as { message?: unknown }).message === 'string') return (body.error as { message: string }).message;
  if (typeof body?.message === 'string') return body.message;
  if (typeof body?.error === 'string') return body.error;
  return fallback;
}

export async function undoCommand(argv: string[], io: CliIo = processIo()): Promise<number> {
  const parsed = parseCommand(io, 'undo', argv, {
    ...GATEWAY_CLIENT_OPTIONS,
  }, HELP);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const [callId, ...extra] = positionals;
  if (!callId) return usageError(io, 'undo', 'name the call to undo: portcullis undo CALL_ID', HELP);
  if (extra.length > 0) return usageError(io, 'undo', `unexpected argument '${extra[0]}'`, HELP);
  const { base, token } = gatewayTarget(io, values);

  const reply = await requestGateway(base, `/api/calls/${encodeURIComponent(callId)}/undo`, { method: 'POST', token, timeoutMs: REQUEST_TIMEOUT_MS });
  if (reply.kind === 'unreachable') {
    io.err(`portcullis undo: no gateway answered at ${base} (${reply.reason}); pass --url or set PORTCULLIS_URL\n`);
    return EXIT.CANNOT_RUN;
  }
  const { status, json, text } = reply;
  if (!reply.ok) {
    const message = messageOf(json, text.slice(0, 300) || `HTTP ${status}`);
    const advice = status === 401 ? '\n  pass a reviewer or admin token with --token or PORTCULLIS_TOKEN (portcullis token --sub NAME --role admin)' : '';
    io.err(`portcullis undo: ${message} (HTTP ${status})${advice}\n`);
    return status >= 500 && status !== 502 ? EXIT.CANNOT_RUN : EXIT.FAILED;
  }
  if (values.json) {
    io.out(`${JSON.stringify(json, null, 2)}\n`);
  } else {
    const answer = json as { tool?: string; result?: { content?: Array<{ type: string; text?: string }> } } | undefined;
    const detail = answer?.result?.content?.find((c) => c.type === 'text')?.text;
    io.out(`undone: call ${callId} with ${answer?.tool ?? 'its undo tool'}${detail ? `\n${detail}` : ''}\n`);
  }
  return EXIT.OK;
}
