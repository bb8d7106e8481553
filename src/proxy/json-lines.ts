/**
 * JSON-RPC framed as newline-delimited JSON, as MCP's stdio transport frames it: the framing of
 * both stdio legs (the front's stdin/stdout and each upstream's child process). It reads and
 * writes like the SDK's stdio transports (a line that is not JSON is skipped, a message that
 * fails the JSON-RPC schema is reported as an error; a line longer than the cap is skipped and
 * reported to the owner), with one addition: each parsed line is first offered to `intercept`. The
 * forwarding hot path takes its own messages there (direct `tools/call` requests and their
 * answers) before the schema validation that is the SDK's main cost per message; whatever it
 * does not take is validated and delivered as before.
 */
import type { Writable } from 'node:stream';
import { parseJSONRPCMessage, STDIO_DEFAULT_MAX_BUFFER_SIZE, type JSONRPCMessage, type Transport } from '@modelcontextprotocol/server';

/** Takes a parsed (not yet validated) message off the line; true when it was taken. */
export type Intercept = (message: Record<string, unknown>) => boolean;

const NEWLINE = 0x0a;

/** The transport callbacks a JsonLines delivers to. */
type Sink = Pick<Transport, 'onmessage' | 'onerror'>;

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

export interface JsonLinesOptions {
  /** The longest line read; the default is the SDK's. */
  maxLineBytes?: number;
  /** A line outgrew the cap: the rest of it is skipped, up to its newline. */
  onOverflow(maxLineBytes: number): void;
}

/** Reads messages from one stream and writes them to another, one JSON text per line. */
export class JsonLines {
  intercept: Intercept | undefined;
  private readonly maxLineBytes: number;
  /** The start of a line whose newline has not arrived yet, as read. */
  private partial: Buffer[] = [];
  private partialBytes = 0;
  /** Skipping the rest of a line that outgrew the cap. */
  private skipping = false;
  /** While the output is backed up: settles when it drains. */
  private drained: Promise<void> | undefined;

  constructor(
    private readonly sink: Sink,
    private readonly output: Writable,
    private readonly options: JsonLinesOptions,
  ) {
    this.maxLineBytes = options.maxLineBytes ?? STDIO_DEFAULT_MAX_BUFFER_SIZE;
  }

  /** Feeds bytes read from the input. */
  push(chunk: Buffer): void {
    let start = 0;
    let end = chunk.indexOf(NEWLINE);
    // The line that began in earlier chunks (or is being skipped) ends in this one.
    if (end !== -1 && (this.partialBytes > 0 || this.skipping)) {
      const bytes = this.partialBytes + end;
      if (this.skipping) this.skipping = false;
      else if (bytes > this.maxLineBytes) this.overflow();
      else {
        this.partial.push(chunk.subarray(0, end));
        this.line(Buffer.concat(this.partial, bytes).toString('utf8'));
      }
      this.clear();
      start = end + 1;
      end = chunk.indexOf(NEWLINE, start);
    }
    for (; end !== -1; start = end + 1, end = chunk.indexOf(NEWLINE, start)) {
      if (end - start > this.maxLineBytes) this.overflow();
      else this.line(chunk.toString('utf8', start, end));
    }
    if (start === chunk.length || this.skipping) return;
    this.partialBytes += chunk.length - start;
    if (this.partialBytes > this.maxLineBytes) {
      this.clear();
      this.skipping = true;
      this.overflow();
    } else this.partial.push(chunk.subarray(start));
  }

  clear(): void {
    this.partial = [];
    this.partialBytes = 0;
  }

  private overflow(): void {
    try {
      this.options.onOverflow(this.maxLineBytes);
    } catch (error) {
      this.sink.onerror?.(asError(error));
    }
  }

  private line(text: string): void {
    let value: unknown;
    try {
      value = JSON.parse(text.endsWith('\r') ? text.slice(0, -1) : text);
    } catch {
      return; // not JSON (a stray print): skipped, as the SDK's transports do
    }
    try {
      if (typeof value === 'object' && value !== null && !Array.isArray(value) && this.intercept?.(value as Record<string, unknown>)) return;
      const message = parseJSONRPCMessage(value);
      this.sink.onmessage?.(message);
    } catch (error) {
      this.sink.onerror?.(asError(error));
    }
  }

  /** Writes one message; resolves once the stream has taken it (at once unless it is backed up). */
  write(message: JSONRPCMessage): Promise<void> {
    const output = this.output;
    if (output.writableEnded || output.destroyed) return Promise.reject(new Error('the connection is closed'));
    let text: string;
    try {
      text = `${JSON.stringify(message)}\n`;
    } catch (error) {
      return Promise.reject(asError(error)); // e.g. a relayed value nested too deep to serialise
    }
    if (output.write(text)) return Promise.resolve();
    return (this.drained ??= this.whenDrained());
  }

  /** Settles once the backed-up output drains (or fails); shared by every write waiting on it. */
  private whenDrained(): Promise<void> {
    const output = this.output;
    return new Promise<void>((resolve, reject) => {
      const settle = (error?: Error) => {
        this.drained = undefined;
        output.off('drain', onDrain);
        output.off('close', onClose);
        output.off('error', settle);
        if (error) reject(error);
        else resolve();
      };
      const onDrain = () => settle();
      const onClose = () => settle(new Error('the connection closed'));
      output.once('drain', onDrain);
      output.once('close', onClose);
      output.once('error', settle);
    });
  }
}
