/**
 * A stdio upstream's transport: the server runs as a child process and speaks JSON-RPC lines on
 * its stdin/stdout, like the SDK's StdioClientTransport, with an `intercept` hook that sees each
 * parsed line before schema validation (see json-lines.ts). stderr is read line by line for the
 * connection's error messages. Closing ends stdin, then signals; the connection reaps the
 * process tree first (process-tree.ts).
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { JSONRPCMessage, Transport } from '@modelcontextprotocol/client';
import { JsonLines, type Intercept } from '../json-lines.js';

export interface ChildStdioOptions {
  command: string;
  args?: readonly string[];
  env: Record<string, string>;
  cwd?: string;
  /** Each line the process writes to stderr. */
  onStderrLine?: (line: string) => void;
}

/** How long a closing child gets after its stdin ends, and again after SIGTERM. */
const EXIT_GRACE_MS = 2_000;

export class ChildStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: Transport['onmessage'];
  intercept: Intercept | undefined;
  private child: ChildProcessByStdio<Writable, Readable, Readable> | undefined;
  private lines: JsonLines | undefined;

  constructor(private readonly options: ChildStdioOptions) {}

  /** The child's pid once started, until it has exited. */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  start(): Promise<void> {
    if (this.child) return Promise.reject(new Error('the upstream process is already started'));
    const { command, args, env, cwd, onStderrLine } = this.options;
    return new Promise((resolve, reject) => {
      const child = spawn(command, args ?? [], { env, cwd, stdio: ['pipe', 'pipe', 'pipe'], shell: false, windowsHide: true });
      this.child = child;
      const lines = new JsonLines(this, child.stdin, {
        // A server that sends more than that in one message is broken: drop the connection.
        onOverflow: (max) => {
          this.onerror?.(new Error(`the upstream sent a message larger than ${max} bytes`));
          void this.close();
        },
      });
      this.lines = lines;
      lines.intercept = (message) => this.intercept?.(message) ?? false;
      child.on('error', (error) => {
        reject(error);
        this.onerror?.(error);
      });
      child.on('spawn', () => resolve());
      child.on('close', () => {
        if (this.child === child) this.child = undefined;
        this.onclose?.();
      });
      child.stdin.on('error', (error) => this.onerror?.(error));
      child.stdout.on('error', (error) => this.onerror?.(error));
      child.stdout.on('data', (chunk: Buffer) => lines.push(chunk));
      child.stderr.setEncoding('utf8');
      let partial = '';
      child.stderr.on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop() ?? '';
        for (const line of parts) onStderrLine?.(line);
      });
    });
  }

  send(message: JSONRPCMessage): Promise<void> {
    if (!this.child || !this.lines) return Promise.reject(new Error('the upstream process is not running'));
    return this.lines.write(message);
  }

  /** Ends the child's stdin and waits for it to exit, then SIGTERM, then SIGKILL. Idempotent. */
  async close(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    this.lines?.clear();
    if (!child) return;
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    const within = (ms: number) => Promise.race([exited.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms).unref())]);
    try {
      child.stdin.end();
    } catch {
      // already gone
    }
    if (await within(EXIT_GRACE_MS)) return;
    child.kill('SIGTERM');
    if (await within(EXIT_GRACE_MS)) return;
    child.kill('SIGKILL');
  }
}
