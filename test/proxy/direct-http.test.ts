/**
 * The HTTP answer of a call served by the direct path: JSON when nothing goes to the client
 * before the result, an event stream otherwise, kept alive while a call runs long.
 */
import type { JSONRPCMessage } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import { CallAnswer } from '../../src/proxy/front/direct-http.js';

const result = (id: number): JSONRPCMessage => ({ jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: 'done' }] } });
const progress: JSONRPCMessage = { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 't', progress: 1 } };

/** The data lines of an event stream, parsed, and its comment lines. */
async function readEvents(response: Response): Promise<{ messages: unknown[]; comments: string[] }> {
  const lines = (await response.text()).split('\n');
  return {
    messages: lines.filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)) as unknown),
    comments: lines.filter((l) => l.startsWith(':')),
  };
}

describe('the HTTP answer of a direct call', () => {
  it('is JSON, with the session id, when the result is all there is', async () => {
    const answer = new CallAnswer('s-1');
    answer.end(result(1));
    const response = await answer.response;
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('mcp-session-id')).toBe('s-1');
    expect(await response.json()).toEqual(result(1));
  });

  it('turns into an event stream for a message sent before the result, and ends with the result', async () => {
    const answer = new CallAnswer('s-1');
    await answer.send(progress);
    answer.end(result(2));
    const response = await answer.response;
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    expect((await readEvents(response)).messages).toEqual([progress, result(2)]);
    await expect(answer.send(progress)).rejects.toThrow(/ended/);
  });

  it('is an empty event stream for a call that was cancelled', async () => {
    const answer = new CallAnswer('s-1');
    answer.end(undefined);
    const response = await answer.response;
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    expect(await readEvents(response)).toEqual({ messages: [], comments: [] });
  });

  it('keeps a long call open with comments, then ends with its result', async () => {
    const answer = new CallAnswer('s-1', 10);
    const response = await answer.response;
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (text.split(': keepalive\n\n').length < 3) text += (await reader.read()).value ?? '';
    answer.end(result(3));
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += chunk.value;
    const [comments, rest] = [text.slice(0, text.indexOf('event:')), text.slice(text.indexOf('event:'))];
    expect(comments.split('\n\n').filter(Boolean).every((c) => c === ': keepalive')).toBe(true);
    expect(rest).toBe(`event: message\ndata: ${JSON.stringify(result(3))}\n\n`);
  });

  it('refuses to send once the client has gone away', async () => {
    const answer = new CallAnswer('s-1');
    await answer.send(progress);
    await (await answer.response).body!.cancel();
    await expect(answer.send(progress)).rejects.toThrow(/ended/);
    answer.end(result(4));
  });

  it('answers with an internal error, keeping the id, when the result cannot be serialised', async () => {
    const answer = new CallAnswer('s-1');
    answer.end({ jsonrpc: '2.0', id: 5, result: { big: 10n } } as unknown as JSONRPCMessage);
    expect(await (await answer.response).json()).toEqual({ jsonrpc: '2.0', id: 5, error: { code: -32603, message: 'internal error: the answer could not be serialised' } });
  });
});
