/**
 * A stdio upstream's transport: the server runs as a child process and speaks JSON-RPC lines on
 * its stdin/stdout, like the SDK's StdioClientTransport, with an `intercept` hook that sees each
 * parsed line before schema validation (see json-lines.ts). stderr is read line by line for the
 * connection's error messages. Closing ends stdin, then signals; the connection reaps the
 * process tree first (process-tree.ts).
 *
 * Era negotiation (`protocol: auto`) must not spend the upstream's one process life on the
 * `server/discover` probe: many 2025-era servers exit on any request before `initialize`. The
 * SDK client probes on a disposable sibling process for a transport shaped like its own stdio
 * transport (`stderr` and `pid`, `_serverParams` to spawn the sibling from, `_dispose` to reap
 * it), and treats a probe that times out or is hung up on as a 2025-era server. This class
 * keeps that shape; test/proxy/negotiation.test.ts holds the SDK to it.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { JSONRPCMessage, Transport } from '@modelcontextprotocol/client';
import { JsonLines, type Intercept } from '../json-lines.js';
import { killTree } from './process-tree.js';

export interface ChildStdioOptions {
  command: string;
  args?: readonly string[];
  env: Record<string, string>;
  cwd?: string;
  /** Each line the process writes to stderr. */
  onStderrLine?: (line: string) => void;
  /** `ignore`: stderr is not read (the SDK's negotiation probe spawns its sibling so). */
  stderr?: 'pipe' | 'ignore';
}

/** How long a closing child gets after its stdin ends, and again after SIGTERM. */
const EXIT_GRACE_MS = 2_000;
/** The longest stderr line kept; the rest of a longer one is dropped. */
const MAX_STDERR_LINE = 4_096;

/** Calls `onLine` with each line of a stderr stream, each cut to MAX_STDERR_LINE characters. */
function readStderrLines(stderr: Readable, onLine: (line: string) => void): void {
  stderr.setEncoding('utf8');
  stderr.on('error', () => undefined); // the process's own fate is reported by its exit
  let partial = '';
  stderr.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = (parts.pop() ?? '').slice(0, MAX_STDERR_LINE);
    for (const line of parts) onLine(line.slice(0, MAX_STDERR_LINE));
  });
}

export class ChildStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: Transport['onmessage'];
  private interceptor: Intercept | undefined;
  private child: ChildProcessByStdio<Writable, Readable, Readable | null> | undefined;
  private lines: JsonLines | undefined;
  /** Stops reading the child's stdout (whatever it still writes is drained unread). */
  private stopReading: (() => void) | undefined;

  constructor(private readonly options: ChildStdioOptions) {}

  /** Offered each parsed line before validation (see json-lines.ts); may be set before or after start. */
  get intercept(): Intercept | undefined {
    return this.interceptor;
  }

  set intercept(intercept: Intercept | undefined) {
    this.interceptor = intercept;
    if (this.lines) this.lines.intercept = intercept;
  }

  /** The child's pid once started, until it has exited. */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** The child's stderr while it runs (read by this transport; part of the stdio shape the SDK recognises). */
  get stderr(): Readable | null {
    return this.child?.stderr ?? null;
  }

  /** What the SDK's negotiation spawns its disposable probe sibling from (see the file comment). */
  get _serverParams(): ChildStdioOptions {
    return this.options;
  }

  /** Reaps a probe sibling at once: its process tree is signalled, not asked to finish. */
  async _dispose(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    this.stopReading?.();
    this.lines?.clear();
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) await killTree(child.pid, 1_000);
  }

  start(): Promise<void> {
    if (this.child) return Promise.reject(new Error('the upstream process is already started'));
    const { command, args, env, cwd, onStderrLine } = this.options;
    const stderr = this.options.stderr ?? 'pipe';
    return new Promise((resolve, reject) => {
      const child = spawn(command, args ?? [], { env, cwd, stdio: ['pipe', 'pipe', stderr], shell: false, windowsHide: true }) as ChildProcessByStdio<Writable, Readable, Readable | null>;
      this.child = child;
      const lines = new JsonLines(this, child.stdin, {
        onRefused: (refusal) => {
          // A line that is not JSON is a stray print: skipped, as the SDK's transport does.
          if (refusal.kind === 'not-json-rpc') this.onerror?.(refusal.error);
          if (refusal.kind !== 'too-large') return;
          // A server that sends more than that in one message is broken: drop the connection.
          this.onerror?.(new Error(`the upstream sent a message larger than ${refusal.maxLineBytes} bytes`));
          void this.close();
        },
      });
      this.lines = lines;
      lines.intercept = this.interceptor;
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
      const onData = (chunk: Buffer) => lines.push(chunk);
      child.stdout.on('data', onData);
      this.stopReading = () => {
        child.stdout.off('data', onData);
        child.stdout.resume();
      };
      if (child.stderr) readStderrLines(child.stderr, (line) => onStderrLine?.(line));
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
    this.stopReading?.();
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
