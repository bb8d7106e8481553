/**
 * The stdio front's wire: JSON-RPC lines on stdin/stdout, like the SDK's StdioServerTransport,
 * with an `intercept` hook that sees each parsed line before schema validation (see
 * json-lines.ts). A line that is over the cap (`gateway.limits.maxRequestBytes`), not JSON or
 * not JSON-RPC is answered with a JSON-RPC error and skipped, as the HTTP front answers such a
 * body; the connection closes when stdin ends.
 */
import type { Readable, Writable } from 'node:stream';
import { INVALID_REQUEST, PARSE_ERROR, type JSONRPCMessage, type Transport } from '@modelcontextprotocol/server';
import { JsonLines, type Intercept, type Refusal } from '../json-lines.js';

export class StdioWire implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: Transport['onmessage'];
  /** Settles when the wire closes, however it closes (stdin ended, stdout broke, or `close`). */
  readonly closed: Promise<void>;
  private markClosed!: () => void;
  private readonly lines: JsonLines;
  private started = false;
  private isClosed = false;

  constructor(
    private readonly stdin: Readable = process.stdin,
    private readonly stdout: Writable = process.stdout,
    maxLineBytes?: number,
  ) {
    this.lines = new JsonLines(this, stdout, { ...(maxLineBytes === undefined ? {} : { maxLineBytes }), onRefused: (refusal) => this.answer(refusal) });
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
  }

  /** What the client is told about a line that was not delivered: JSON-RPC's parse error or invalid request. */
  private answer(refusal: Refusal): void {
    const [code, message, id] =
      refusal.kind === 'too-large'
        ? [INVALID_REQUEST, `message larger than ${refusal.maxLineBytes} bytes`, null] // its id is in the part not read
        : refusal.kind === 'not-json'
          ? [PARSE_ERROR, 'parse error: the line is not valid JSON', null]
          : [INVALID_REQUEST, 'invalid request: not a JSON-RPC 2.0 message', refusal.id];
    this.onerror?.(refusal.kind === 'not-json-rpc' ? refusal.error : new Error(message));
    if (refusal.kind === 'not-json-rpc' && refusal.response) return; // an answer is never answered
    void this.lines.write({ jsonrpc: '2.0', id, error: { code, message } } as unknown as JSONRPCMessage).catch(() => undefined);
  }

  get intercept(): Intercept | undefined {
    return this.lines.intercept;
  }

  set intercept(intercept: Intercept | undefined) {
    this.lines.intercept = intercept;
  }

  private readonly onData = (chunk: Buffer) => this.lines.push(chunk);
  private readonly onInputEnd = () => void this.close();
  private readonly onInputError = (error: Error) => this.onerror?.(error);
  private readonly onOutputError = (error: Error) => {
    if (this.isClosed) return;
    this.onerror?.(error);
    void this.close();
  };

  async start(): Promise<void> {
    if (this.started) throw new Error('the stdio wire is already started');
    this.started = true;
    this.stdin.on('data', this.onData);
    this.stdin.on('error', this.onInputError);
    this.stdin.on('end', this.onInputEnd);
    this.stdin.on('close', this.onInputEnd);
    this.stdout.on('error', this.onOutputError);
    if (this.stdin.readableEnded || this.stdin.destroyed) setImmediate(this.onInputEnd);
  }

  send(message: JSONRPCMessage): Promise<void> {
    if (this.isClosed) return Promise.reject(new Error('the stdio wire is closed'));
    return this.lines.write(message);
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    try {
      this.stdin.off('data', this.onData);
      this.stdin.off('error', this.onInputError);
      this.stdin.off('end', this.onInputEnd);
      this.stdin.off('close', this.onInputEnd);
      if (this.stdin.listenerCount('data') === 0) this.stdin.pause();
      this.lines.clear();
    } finally {
      this.markClosed();
      this.onclose?.();
    }
  }
}
