/**
 * The stdio framing of both legs: lines split across and within chunks, what is skipped, what
 * is reported, what the intercept hook sees (before validation), the line cap, and writes.
 */
import { PassThrough } from 'node:stream';
import type { JSONRPCMessage } from '@modelcontextprotocol/server';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JsonLines, type Refusal } from '../../src/proxy/json-lines.js';
import { StdioWire } from '../../src/proxy/front/stdio-wire.js';

function setup(maxLineBytes?: number) {
  const delivered: JSONRPCMessage[] = [];
  const errors: string[] = [];
  const output = new PassThrough();
  const sink = { onmessage: (m: JSONRPCMessage) => delivered.push(m), onerror: (e: Error) => errors.push(e.message) };
  const refused: Refusal[] = [];
  const overflows: number[] = [];
  const onRefused = (refusal: Refusal) => {
    refused.push(refusal);
    if (refusal.kind === 'too-large') overflows.push(refusal.maxLineBytes);
  };
  const lines = new JsonLines(sink, output, { ...(maxLineBytes === undefined ? {} : { maxLineBytes }), onRefused });
  const push = (text: string) => lines.push(Buffer.from(text, 'utf8'));
  return { lines, push, delivered, errors, refused, overflows, output };
}

const ping = (id: number) => `{"jsonrpc":"2.0","id":${id},"method":"ping"}`;

describe('JSON-RPC line framing', () => {
  it('delivers each line once, whether lines share a chunk or a line spans several chunks', () => {
    const { push, delivered } = setup();
    push(`${ping(1)}\n${ping(2)}\n{"jsonrpc":"2.0",`);
    push('"id":3,"met');
    push(`hod":"ping"}\r\n${ping(4)}`);
    expect(delivered.map((m) => (m as { id: number }).id)).toEqual([1, 2, 3]);
    push('\n');
    expect(delivered.map((m) => (m as { id: number }).id)).toEqual([1, 2, 3, 4]);
  });

  it('reads the same lines however the bytes are cut into chunks, skipping exactly the ones over the cap', () => {
    const line = fc.record({ text: fc.string({ unit: 'binary', maxLength: 40 }), crlf: fc.boolean() });
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 20 }), fc.integer({ min: 16, max: 120 }), (lines, cuts, cap) => {
        const encoded = lines.map(({ text, crlf }) => `${JSON.stringify({ jsonrpc: '2.0', method: 'm', params: { text } })}${crlf ? '\r' : ''}`);
        const bytes = Buffer.from(`${encoded.join('\n')}\n`, 'utf8');
        const expected = lines.filter((_, i) => Buffer.byteLength(encoded[i]!) <= cap).map((l) => l.text);
        const seen: string[] = [];
        let overflows = 0;
        const framing = new JsonLines({}, new PassThrough(), { maxLineBytes: cap, onRefused: (r) => void (r.kind === 'too-large' && overflows++) });
        framing.intercept = (m) => seen.push((m.params as { text: string }).text) > 0;
        for (let at = 0, i = 0; at < bytes.length; at += cuts[i++ % cuts.length]!) framing.push(bytes.subarray(at, at + cuts[i % cuts.length]!));
        expect(seen).toEqual(expected);
        expect(overflows).toBe(lines.length - expected.length);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps multi-byte characters whole when a chunk boundary splits one', () => {
    const { lines, delivered } = setup();
    const bytes = Buffer.from(`{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"ü€😀"}}\n`, 'utf8');
    const cut = bytes.indexOf(Buffer.from('€', 'utf8')) + 1;
    lines.push(bytes.subarray(0, cut));
    lines.push(bytes.subarray(cut));
    expect((delivered[0] as unknown as { params: { data: string } }).params.data).toBe('ü€😀');
  });

  it('refuses a line that is not JSON and one that is not JSON-RPC (with its id), skips blank lines, then goes on', () => {
    const { push, delivered, errors, refused } = setup();
    push(`starting up...\n\r\n  \n{"id":1,"method":"ping"}\n{"jsonrpc":"2.0","id":3,"result":5}\n${ping(2)}\n`);
    expect(delivered.map((m) => (m as { id: number }).id)).toEqual([2]);
    expect(refused.map((r) => (r.kind === 'not-json-rpc' ? [r.kind, r.id, r.response] : [r.kind]))).toEqual([['not-json'], ['not-json-rpc', 1, false], ['not-json-rpc', 3, true]]);
    expect(errors).toEqual([]);
  });

  it('offers each parsed object to the intercept before validating it, and delivers what it declines', () => {
    const { lines, push, delivered, errors, refused } = setup();
    const seen: unknown[] = [];
    lines.intercept = (m) => {
      seen.push(m);
      return m.id === 1;
    };
    // Taken before validation: even a shape the schema would refuse is the intercept's to judge.
    push(`{"jsonrpc":"2.0","id":1,"result":"not an object"}\n${ping(2)}\n[1,2]\n`);
    expect(seen).toEqual([{ jsonrpc: '2.0', id: 1, result: 'not an object' }, { jsonrpc: '2.0', id: 2, method: 'ping' }]);
    expect(delivered).toEqual([{ jsonrpc: '2.0', id: 2, method: 'ping' }]);
    expect(refused).toMatchObject([{ kind: 'not-json-rpc', id: null }]); // the array: not a JSON-RPC message
    expect(errors).toEqual([]);
  });

  it('reports an intercept that throws as an error, without losing the lines after it', () => {
    const { lines, push, delivered, errors } = setup();
    lines.intercept = (m) => {
      if (m.id === 1) throw new Error('boom');
      return false;
    };
    push(`${ping(1)}\n${ping(2)}\n`);
    expect(errors).toEqual(['boom']);
    expect(delivered.map((m) => (m as { id: number }).id)).toEqual([2]);
  });

  it('skips a line longer than the cap, wherever it ends, and reads the lines after it', () => {
    const { push, delivered, overflows } = setup(64);
    const long = `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"${'x'.repeat(80)}"}}`;
    // Over the cap within one chunk, then spread over chunks, then grown past it by a later chunk.
    push(`${long}\n${ping(2)}\n`);
    push(long.slice(0, 70));
    push(long.slice(70, 100));
    push(`${long.slice(100)}\n${ping(3)}\n`);
    push(long.slice(0, 50));
    push(`${long.slice(50)}\n${ping(4)}\n`);
    expect(delivered.map((m) => (m as { id: number }).id)).toEqual([2, 3, 4]);
    expect(overflows).toEqual([64, 64, 64]);
  });

  it('rejects, never throws, a message that cannot be serialised', async () => {
    const { lines } = setup();
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 100_000; i++) deep = { deep };
    const sent = lines.write({ jsonrpc: '2.0', id: 1, error: { code: -32000, message: 'x', data: deep } });
    await expect(sent).rejects.toThrow(/call stack/);
  });

  it('has every write that waits on a backed-up stream wait on the same drain', async () => {
    const small = new PassThrough({ highWaterMark: 16 });
    const slow = new JsonLines({}, small, { onRefused: () => {} });
    const pending = Array.from({ length: 50 }, (_, i) => slow.write({ jsonrpc: '2.0', id: i, method: 'ping' }));
    expect(small.listenerCount('drain')).toBe(1);
    small.resume();
    await Promise.all(pending);
    expect(small.listenerCount('drain')).toBe(0);
  });

  it('rejects a write waiting on a backed-up stream when the stream closes', async () => {
    const small = new PassThrough({ highWaterMark: 16 });
    const slow = new JsonLines({}, small, { onRefused: () => {} });
    const pending = slow.write({ jsonrpc: '2.0', id: 1, method: 'ping' });
    small.destroy();
    await expect(pending).rejects.toThrow(/closed/);
  });

  it('writes one line per message and resolves once a backed-up stream drains', async () => {
    const { lines, output } = setup();
    const small = new PassThrough({ highWaterMark: 16 });
    const slow = new JsonLines({}, small, { onRefused: () => {} });
    let drained = false;
    const pending = slow.write({ jsonrpc: '2.0', id: 1, method: 'ping' }).then(() => (drained = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(drained).toBe(false);
    small.read();
    await pending;
    expect(drained).toBe(true);
    await lines.write({ jsonrpc: '2.0', id: 2, method: 'ping' });
    expect(output.read().toString()).toBe(`${ping(2)}\n`);
  });
});

describe('the stdio front wire', () => {
  it('closes when stdin ends, and refuses to send afterwards', async () => {
    const stdin = new PassThrough();
    const wire = new StdioWire(stdin, new PassThrough());
    const closed = new Promise<void>((resolve) => (wire.onclose = resolve));
    const got: JSONRPCMessage[] = [];
    wire.onmessage = (m) => got.push(m);
    await wire.start();
    stdin.end(`${ping(1)}\n`);
    await closed;
    expect(got).toEqual([{ jsonrpc: '2.0', id: 1, method: 'ping' }]);
    await expect(wire.send({ jsonrpc: '2.0', id: 1, result: {} })).rejects.toThrow(/closed/);
  });

  it('answers a line over the cap with a JSON-RPC error and goes on reading', async () => {
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const wire = new StdioWire(stdin, stdout, 1_024);
    const got: JSONRPCMessage[] = [];
    wire.onmessage = (m) => got.push(m);
    wire.onerror = () => {};
    await wire.start();
    stdin.write(`{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"${'x'.repeat(2_000)}"}}\n${ping(2)}\n`);
    await new Promise((resolve) => setImmediate(resolve));
    expect(JSON.parse(stdout.read().toString())).toEqual({ jsonrpc: '2.0', id: null, error: { code: -32600, message: 'message larger than 1024 bytes' } });
    expect(got).toEqual([{ jsonrpc: '2.0', id: 2, method: 'ping' }]);
  });

  it('answers a line that is not JSON with a parse error and one that is not JSON-RPC with an invalid request, but never answers an answer', async () => {
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const wire = new StdioWire(stdin, stdout);
    const errors: string[] = [];
    wire.onerror = (e) => errors.push(e.message);
    await wire.start();
    stdin.write(`not json\n{"jsonrpc":"2.0","id":7,"method":42}\n{"jsonrpc":"2.0","id":8,"result":"bad"}\n`);
    await new Promise((resolve) => setImmediate(resolve));
    const answers = (stdout.read() as Buffer).toString().trim().split('\n').map((l) => JSON.parse(l) as unknown);
    expect(answers).toEqual([
      { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error: the line is not valid JSON' } },
      { jsonrpc: '2.0', id: 7, error: { code: -32600, message: 'invalid request: not a JSON-RPC 2.0 message' } },
    ]);
    expect(errors).toHaveLength(3);
  });
});
