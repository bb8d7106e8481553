/**
 * The benchmark's reference relay: the least any JSON-RPC-aware stdio proxy does, and nothing
 * more. It spawns the upstream given on its command line, parses each line from either side,
 * gives requests its own ids (so several clients could share the upstream), restores them on
 * the answers, and writes the lines on. No policy, no audit, no validation, no logging.
 *
 * Measured next to the gateway, it separates what the machine charges for an extra process in
 * the path (two more pipe hops and wake-ups per call) from what the gateway itself costs.
 * Run: node bench/relay.mjs <upstream command> [args…]   (transpiled, like the upstream fixture)
 */
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';

const [command, ...args] = process.argv.slice(2);
if (!command) {
  process.stderr.write('usage: relay <upstream command> [args…]\n');
  process.exit(2);
}
const upstream = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });

/** Calls `onLine` with each complete line of `input`. */
function eachLine(input: Readable, onLine: (line: string) => void): void {
  let partial = '';
  input.setEncoding('utf8');
  input.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line !== '') onLine(line);
  });
}

type Message = { id?: string | number; method?: string };
const originalIds = new Map<string, string | number>();
let next = 0;

eachLine(process.stdin, (line) => {
  const message = JSON.parse(line) as Message;
  if (message.method !== undefined && message.id !== undefined) {
    const id = `r${++next}`;
    originalIds.set(id, message.id);
    message.id = id;
  }
  upstream.stdin.write(`${JSON.stringify(message)}\n`);
});

eachLine(upstream.stdout, (line) => {
  const message = JSON.parse(line) as Message;
  if (message.method === undefined && typeof message.id === 'string') {
    const id = originalIds.get(message.id);
    if (id !== undefined) {
      originalIds.delete(message.id);
      message.id = id;
    }
  }
  process.stdout.write(`${JSON.stringify(message)}\n`);
});

process.stdin.on('end', () => upstream.stdin.end());
upstream.on('exit', (code) => process.exit(code ?? 0));
