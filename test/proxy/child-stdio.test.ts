/**
 * The stdio upstream transport on real child processes: messages both ways, stderr lines,
 * the intercept hook, an oversized message, and closing a child that ignores its stdin.
 */
import type { JSONRPCMessage } from '@modelcontextprotocol/client';
import { describe, expect, it, vi } from 'vitest';
import { ChildStdioTransport } from '../../src/proxy/upstream/child-stdio.js';

/** A child running `script` with node, its stdin/stdout/stderr wired to the transport. */
function child(script: string, onStderrLine?: (line: string) => void): ChildStdioTransport {
  return new ChildStdioTransport({ command: process.execPath, args: ['-e', script], env: { PATH: process.env.PATH ?? '' }, ...(onStderrLine ? { onStderrLine } : {}) });
}

/** Echoes each stdin line back as a result for its id, after a stray line and a stderr line. */
const ECHO = `
process.stdout.write('not json\\n');
process.stderr.write('ready\\nsecond line\\n');
let buf = '';
process.stdin.on('data', (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\\n')) >= 0) {
    const m = JSON.parse(buf.slice(0, i));
    buf = buf.slice(i + 1);
    process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { echoed: m.params } }) + '\\n');
  }
});`;

function nextMessage(transport: ChildStdioTransport): Promise<JSONRPCMessage> {
  return new Promise((resolve) => (transport.onmessage = resolve));
}

describe('the stdio upstream transport', () => {
  it('sends and receives JSON-RPC lines, skips stray output and reports stderr line by line', async () => {
    const stderr: string[] = [];
    const transport = child(ECHO, (line) => stderr.push(line));
    await transport.start();
    try {
      const answer = nextMessage(transport);
      await transport.send({ jsonrpc: '2.0', id: 1, method: 'ping', params: { n: 1 } });
      expect(await answer).toEqual({ jsonrpc: '2.0', id: 1, result: { echoed: { n: 1 } } });
      // stderr is another pipe: its lines may be read after the answer.
      await vi.waitFor(() => expect(stderr).toEqual(['ready', 'second line']));
      expect(transport.pid).toBeGreaterThan(0);
    } finally {
      await transport.close();
    }
    expect(transport.pid).toBeNull();
  });

  it('hands intercepted answers to the hook only', async () => {
    const transport = child(ECHO);
    const taken: unknown[] = [];
    transport.intercept = (m) => {
      if (m.id !== 'mine') return false;
      taken.push(m);
      return true;
    };
    await transport.start();
    try {
      const answer = nextMessage(transport);
      await transport.send({ jsonrpc: '2.0', id: 'mine', method: 'ping' });
      await transport.send({ jsonrpc: '2.0', id: 2, method: 'ping' });
      expect(await answer).toMatchObject({ id: 2 });
      expect(taken).toEqual([{ jsonrpc: '2.0', id: 'mine', result: {} }]);
    } finally {
      await transport.close();
    }
  });

  it('drops the connection when the upstream sends a message over the cap', async () => {
    const transport = child(`process.stdout.write('{"jsonrpc":"2.0","id":1,"result":{"pad":"' + 'x'.repeat(11 * 1024 * 1024)); setInterval(() => {}, 1000);`);
    const errors: string[] = [];
    transport.onerror = (e) => errors.push(e.message);
    const closed = new Promise<void>((resolve) => (transport.onclose = resolve));
    await transport.start();
    await closed;
    expect(errors).toContain(`the upstream sent a message larger than ${10 * 1024 * 1024} bytes`);
  });

  it('stops a child that ignores its stdin closing', async () => {
    const transport = child(`process.on('SIGTERM', () => process.exit(0)); setInterval(() => {}, 1000);`);
    const closed = new Promise<void>((resolve) => (transport.onclose = resolve));
    await transport.start();
    await transport.close();
    await closed;
    expect(transport.pid).toBeNull();
  });

  it('rejects start when the command does not exist', async () => {
    const transport = new ChildStdioTransport({ command: '/nonexistent/upstream-binary', env: {} });
    transport.onerror = () => {};
    await expect(transport.start()).rejects.toThrow(/ENOENT/);
  });
});
