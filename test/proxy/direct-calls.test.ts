/**
 * The direct tools/call path of the stdio front, on a scripted wire: what it serves, what it
 * leaves to the SDK server, cancellation, and what it answers when the pipeline fails or hands
 * back something that is not a tools/call result.
 */
import type { JSONRPCMessage, Server, Transport } from '@modelcontextprotocol/server';
import type { Intercept } from '../../src/proxy/json-lines.js';
import { describe, expect, it } from 'vitest';
import { DirectCallsTransport } from '../../src/proxy/front/direct-calls.js';
import { GatewayError } from '../../src/errors.js';
import type { Caller, Pipeline } from '../../src/proxy/pipeline.js';
import type { Session } from '../../src/proxy/session.js';
import type { UpstreamRegistry } from '../../src/proxy/upstream/registry.js';

class ScriptedWire implements Transport {
  onmessage?: Transport['onmessage'];
  onclose?: () => void;
  onerror?: (error: Error) => void;
  intercept: Intercept | undefined;
  readonly sent: JSONRPCMessage[] = [];
  async start(): Promise<void> {}
  async close(): Promise<void> {}
  async send(message: JSONRPCMessage): Promise<void> {
    this.sent.push(message);
  }
  /** As the stdio wire does: offered to the intercept first, then delivered. */
  deliver(message: Record<string, unknown>): void {
    const parsed = { jsonrpc: '2.0', ...message };
    if (!this.intercept?.(parsed)) this.onmessage?.(parsed as JSONRPCMessage);
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

function setup(callTool: (caller: Caller, name: string, args?: Record<string, unknown>) => Promise<unknown>, opts: { initialised?: boolean; direct?: boolean } = {}) {
  const wire = new ScriptedWire();
  const calls: Array<{ caller: Caller; name: string; args?: Record<string, unknown> }> = [];
  const pipeline = {
    callTool: (caller: Caller, name: string, args?: Record<string, unknown>) => {
      calls.push({ caller, name, args });
      return callTool(caller, name, args);
    },
  } as unknown as Pipeline;
  const upstream = (isolation: string) => ({ acceptsDirect: opts.direct ?? true, config: { isolation } });
  const registry = {
    findTool: (name: string) => (name.startsWith('up__') ? { upstream: upstream('shared') } : name.startsWith('own__') ? { upstream: upstream('session') } : undefined),
  } as unknown as UpstreamRegistry;
  const direct = new DirectCallsTransport(wire, pipeline, registry);
  const passed: JSONRPCMessage[] = [];
  direct.onmessage = (message) => passed.push(message);
  const session = { id: 'stdio', clientCapabilities: undefined } as unknown as Session;
  const server = { getClientCapabilities: () => (opts.initialised === false ? undefined : { sampling: {} }), request: async () => ({ answered: true }) } as unknown as Server;
  direct.connection = { server, session: () => session };
  return { wire, direct, calls, passed, session };
}

const ok = { content: [{ type: 'text', text: 'done' }] };

describe('direct tools/call on the stdio front', () => {
  it('serves a plain call through the pipeline and answers it with the same id', async () => {
    const { wire, calls, passed, session } = setup(async () => ok);
    wire.deliver({ id: 7, method: 'tools/call', params: { name: 'up__echo', arguments: { text: 'hi' } } });
    await tick();
    expect(passed).toEqual([]);
    expect(calls.map((c) => [c.name, c.args])).toEqual([['up__echo', { text: 'hi' }]]);
    expect(calls[0]!.caller.session).toBe(session);
    expect(session.clientCapabilities).toEqual({ sampling: {} });
    expect(wire.sent).toEqual([{ jsonrpc: '2.0', id: 7, result: ok }]);
  });

  it.each([
    ['before the client initialised', { id: 1, method: 'tools/call', params: { name: 'up__echo' } }, { initialised: false }],
    ['when the upstream is not 2025-era stdio', { id: 1, method: 'tools/call', params: { name: 'up__echo' } }, { direct: false }],
    ['for a tool with no route', { id: 1, method: 'tools/call', params: { name: 'nowhere' } }, {}],
    ['for a tool of a session-isolated upstream', { id: 1, method: 'tools/call', params: { name: 'own__echo' } }, {}],
    ['for arguments that are not an object', { id: 1, method: 'tools/call', params: { name: 'up__echo', arguments: [1, 2] } }, {}],
    ['for a name that is not a string', { id: 1, method: 'tools/call', params: { name: 42 } }, {}],
    ['for params with keys of another revision', { id: 1, method: 'tools/call', params: { name: 'up__echo', task: { ttl: 1 } } }, {}],
    ['for a notification that looks like a call', { method: 'tools/call', params: { name: 'up__echo' } }, {}],
    ['for an id that is not an integer', { id: 1.5, method: 'tools/call', params: { name: 'up__echo' } }, {}],
    ['for a progress token that is not an integer', { id: 1, method: 'tools/call', params: { name: 'up__echo', _meta: { progressToken: 0.5 } } }, {}],
    ['for a request with keys JSON-RPC does not define', { id: 1, method: 'tools/call', params: { name: 'up__echo' }, extra: true }, {}],
    ['for other methods', { id: 1, method: 'tools/list' }, {}],
  ])('leaves the message to the SDK server %s', async (_when, message, opts) => {
    const { wire, calls, passed } = setup(async () => ok, opts);
    wire.deliver(message);
    await tick();
    expect(calls).toEqual([]);
    expect(passed).toHaveLength(1);
    expect(wire.sent).toEqual([]);
  });

  it('aborts the call when the client cancels it, and sends no answer', async () => {
    let seen: AbortSignal | undefined;
    const { wire, passed } = setup(
      (caller) =>
        new Promise((_resolve, reject) => {
          seen = caller.signal;
          caller.signal.addEventListener('abort', () => reject(new Error('request cancelled')));
        }),
    );
    wire.deliver({ id: 'a', method: 'tools/call', params: { name: 'up__slow' } });
    await tick();
    wire.deliver({ method: 'notifications/cancelled', params: { requestId: 'a', reason: 'user' } });
    await tick();
    expect(seen?.aborted).toBe(true);
    expect(wire.sent).toEqual([]);
    expect(passed).toEqual([]);
    // A cancellation of a request it does not hold goes to the SDK server.
    wire.deliver({ method: 'notifications/cancelled', params: { requestId: 'other' } });
    expect(passed).toHaveLength(1);
  });

  it('answers a pipeline failure with its JSON-RPC error', async () => {
    const { wire } = setup(async () => {
      throw new GatewayError('UPSTREAM_UNAVAILABLE', 'upstream up unavailable: connection closed');
    });
    wire.deliver({ id: 3, method: 'tools/call', params: { name: 'up__echo' } });
    await tick();
    expect(wire.sent).toEqual([{ jsonrpc: '2.0', id: 3, error: expect.objectContaining({ message: 'upstream up unavailable: connection closed' }) }]);
  });

  it.each([
    ['content that is not a list', { content: 'not a list' }],
    ['structuredContent that is not an object', { content: [], structuredContent: [1, 2] }],
  ])('refuses to relay a result with %s, with invalid params as the SDK server does', async (_what, result) => {
    const { wire } = setup(async () => result);
    wire.deliver({ id: 4, method: 'tools/call', params: { name: 'up__echo' } });
    await tick();
    expect(wire.sent).toEqual([{ jsonrpc: '2.0', id: 4, error: { code: -32602, message: 'invalid tools/call result from up__echo', data: { portcullis: 'INVALID_PARAMS' } } }]);
  });

  it('shapes a result as the SDK server would: empty content when it has none, blocks without unknown keys', async () => {
    const { wire } = setup(async (_caller, name) =>
      name === 'up__structured' ? { structuredContent: { answer: 42 } } : { content: [{ type: 'text', text: 'x', colour: 'red' }], isError: false },
    );
    wire.deliver({ id: 'a', method: 'tools/call', params: { name: 'up__structured' } });
    wire.deliver({ id: 'b', method: 'tools/call', params: { name: 'up__blocks' } });
    await tick();
    expect(wire.sent).toEqual([
      { jsonrpc: '2.0', id: 'a', result: { content: [], structuredContent: { answer: 42 } } },
      { jsonrpc: '2.0', id: 'b', result: { content: [{ type: 'text', text: 'x' }], isError: false } },
    ]);
  });

  it('answers a not-found error with invalid params, which is what the 2025 revision has for it', async () => {
    const { wire } = setup(async () => {
      throw new GatewayError('NOT_FOUND', 'no such thing');
    });
    wire.deliver({ id: 9, method: 'tools/call', params: { name: 'up__echo' } });
    await tick();
    expect(wire.sent).toEqual([{ jsonrpc: '2.0', id: 9, error: expect.objectContaining({ code: -32602, message: 'no such thing' }) }]);
  });

  it('sends progress for the client\'s token, and asks the client through the SDK server', async () => {
    const { wire } = setup(async (caller) => {
      await caller.progress?.({ progress: 1, total: 2 });
      const answer = await caller.ask?.('sampling/createMessage', {}, new AbortController().signal);
      return { content: [{ type: 'text', text: JSON.stringify(answer) }] };
    });
    wire.deliver({ id: 5, method: 'tools/call', params: { name: 'up__echo', _meta: { progressToken: 'p1' } } });
    await tick();
    expect(wire.sent).toEqual([
      { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 'p1', progress: 1, total: 2 } },
      { jsonrpc: '2.0', id: 5, result: { content: [{ type: 'text', text: '{"answered":true}' }] } },
    ]);
  });

  it('aborts calls in flight when the client goes away', async () => {
    let seen: AbortSignal | undefined;
    const { wire, direct } = setup((caller) => {
      seen = caller.signal;
      return new Promise(() => undefined);
    });
    let closed = false;
    direct.onclose = () => (closed = true);
    wire.deliver({ id: 6, method: 'tools/call', params: { name: 'up__echo' } });
    await tick();
    wire.onclose?.();
    expect(seen?.aborted).toBe(true);
    expect(closed).toBe(true);
  });
});
