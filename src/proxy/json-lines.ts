/**
 * JSON-RPC framed as newline-delimited JSON, as MCP's stdio transport frames it: the framing of
 * both stdio legs (the front's stdin/stdout and each upstream's child process). It reads and
 * writes like the SDK's stdio transports, with two additions. Each parsed line is first offered
 * to `intercept`: the forwarding hot path takes its own messages there (direct `tools/call`
 * requests and their answers) before the schema validation that is the SDK's main cost per
 * message; whatever it does not take is validated and delivered as before. And every line that
 * is not delivered (over the cap, not JSON, not JSON-RPC) is handed to the owner as a Refusal,
 * which the front answers with a JSON-RPC error and an upstream logs or disconnects over.
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

/** A line that is not delivered, and why; blank lines are skipped without one. */
export type Refusal =
  | { kind: 'too-large'; maxLineBytes: number }
  | { kind: 'not-json' }
  /** JSON, but not a JSON-RPC message; `id` when it carries a usable one, `response` when it looks like one. */
  | { kind: 'not-json-rpc'; error: Error; id: string | number | null; response: boolean };

export interface JsonLinesOptions {
  /** The longest line read; the default is the SDK's. The rest of a longer line is skipped, up to its newline. */
  maxLineBytes?: number;
  /** Each line that is not delivered. */
  onRefused(refusal: Refusal): void;
}

function idOf(value: unknown): string | number | null {
  const id = typeof value === 'object' && value !== null ? (value as { id?: unknown }).id : undefined;
  return typeof id === 'string' || Number.isSafeInteger(id) ? (id as string | number) : null;
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
      else if (bytes > this.maxLineBytes) this.refuse({ kind: 'too-large', maxLineBytes: this.maxLineBytes });
      else {
        this.partial.push(chunk.subarray(0, end));
        this.line(Buffer.concat(this.partial, bytes).toString('utf8'));
      }
      this.clear();
      start = end + 1;
      end = chunk.indexOf(NEWLINE, start);
    }
    for (; end !== -1; start = end + 1, end = chunk.indexOf(NEWLINE, start)) {
      if (end - start > this.maxLineBytes) this.refuse({ kind: 'too-large', maxLineBytes: this.maxLineBytes });
      else this.line(chunk.toString('utf8', start, end));
    }
    if (start === chunk.length || this.skipping) return;
    this.partialBytes += chunk.length - start;
    if (this.partialBytes > this.maxLineBytes) {
      this.clear();
      this.skipping = true;
      this.refuse({ kind: 'too-large', maxLineBytes: this.maxLineBytes });
    } else this.partial.push(chunk.subarray(start));
  }

  clear(): void {
    this.partial = [];
    this.partialBytes = 0;
  }

  private refuse(refusal: Refusal): void {
    try {
      this.options.onRefused(refusal);
    } catch (error) {
      this.sink.onerror?.(asError(error));
    }
  }

  private line(raw: string): void {
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      if (text.trim() !== '') this.refuse({ kind: 'not-json' });
      return;
    }
    if (typeof value === 'object' && value !== null && !Array.isArray(value) && this.intercept) {
      try {
        if (this.intercept(value as Record<string, unknown>)) return;
      } catch (error) {
        this.sink.onerror?.(asError(error));
        return;
      }
    }
    let message: JSONRPCMessage;
    try {
      message = parseJSONRPCMessage(value);
    } catch (error) {
      const response = typeof value === 'object' && value !== null && ('result' in value || 'error' in value);
      this.refuse({ kind: 'not-json-rpc', error: asError(error), id: idOf(value), response });
      return;
    }
    try {
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
