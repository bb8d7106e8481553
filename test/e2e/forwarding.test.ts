/**
 * Protocol fidelity (SPEC §10): what a client sees through the gateway, for clients of both
 * protocol eras over stdio and Streamable HTTP, against real upstreams spawned over stdio —
 * the reference server once speaking 2026-07-28 (`ref`, negotiated) and once pinned to the
 * 2025 era (`old`), so both the input_required and the push style of server→client requests
 * are covered. Each forwarding feature has a test here that fails if it is dropped.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { fixtureServer, httpClient, startHttpGateway, stdioClient, tempConfig, textOf, type RunningGateway, type TempConfig } from '../helpers/gateway.js';

type ClientKind = { name: string; era: 'legacy' | 'modern'; transport: 'http' | 'stdio' };

const KINDS: ClientKind[] = [
  { name: '2025-era client over HTTP', era: 'legacy', transport: 'http' },
  { name: '2026-07-28 client over HTTP', era: 'modern', transport: 'http' },
  { name: '2025-era client over stdio', era: 'legacy', transport: 'stdio' },
  { name: '2026-07-28 client over stdio', era: 'modern', transport: 'stdio' },
];

const CLIENT_OPTIONS = { capabilities: { sampling: {}, elicitation: { form: {} }, roots: { listChanged: true } } };

let cfg: TempConfig;
let gw: RunningGateway;
let events: string;

beforeAll(async () => {
  cfg = tempConfig({});
  events = join(cfg.dir, 'flaky-events.log');
  cfg.write({
    servers: {
      ref: fixtureServer('reference-server.ts', { args: ['--import', 'tsx', join(import.meta.dirname, '../fixtures/reference-server.ts'), '--stdio'] }),
      old: fixtureServer('reference-server.ts', { args: ['--import', 'tsx', join(import.meta.dirname, '../fixtures/reference-server.ts'), '--stdio'], protocol: 'legacy' }),
      flaky: fixtureServer('flaky-server.ts', { env: { FLAKY_EVENTS: events }, protocol: 'legacy' }),
    },
    agents: {
      default: {
        rules: [{ allow: '{ref,old,flaky}__*' }, { deny: '*__test_error_handling', reason: 'Hidden from agents.' }],
        resources: [{ allow: 'test://**' }, { allow: 'flaky://**' }],
        prompts: [{ allow: 'ref__*' }],
      },
    },
  });
  gw = await startHttpGateway(cfg.file);
});

afterAll(async () => {
  await gw?.stop();
  cfg?.cleanup();
});

async function connect(kind: ClientKind): Promise<Client> {
  const setup = (client: Client) => {
    client.setRequestHandler('sampling/createMessage', async (req) => ({
      model: 'test-model',
      role: 'assistant',
      content: { type: 'text', text: `sampled: ${JSON.stringify(req.params.messages.at(-1)?.content)}` },
    }));
    client.setRequestHandler('elicitation/create', async () => ({ action: 'accept', content: { username: 'ada', email: 'ada@example.com' } }));
    client.setRequestHandler('roots/list', async () => ({ roots: [{ uri: 'file:///home/dev/project', name: 'project' }] }));
  };
  if (kind.transport === 'http') {
    const { Client: ClientClass, StreamableHTTPClientTransport } = await import('@modelcontextprotocol/client');
    const client = new ClientClass({ name: 't', version: '1' }, { ...CLIENT_OPTIONS, ...(kind.era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {}) });
    setup(client);
    await client.connect(new StreamableHTTPClientTransport(new URL(gw.url)));
    return client;
  }
  const { Client: ClientClass } = await import('@modelcontextprotocol/client');
  const { StdioClientTransport } = await import('@modelcontextprotocol/client/stdio');
  const client = new ClientClass({ name: 't', version: '1' }, { ...CLIENT_OPTIONS, ...(kind.era === 'modern' ? { versionNegotiation: { mode: 'auto' } } : {}) });
  setup(client);
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [join(import.meta.dirname, '../../bin/portcullis.js'), 'serve', '--stdio', '-c', cfg.file], stderr: 'pipe' }));
  return client;
}

describe.each(KINDS)('$name', (kind) => {
  let client: Client;

  beforeAll(async () => {
    client = await connect(kind);
    expect(client.getProtocolEra()).toBe(kind.era);
  });

  afterAll(async () => {
    await client?.close();
  });

  it('lists upstream tools under their prefixed names, without the ones policy hides', async () => {
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['ref__test_simple_text', 'old__test_simple_text', 'flaky__echo']));
    expect(names).not.toContain('ref__test_error_handling');
  });

  it('still denies a hidden tool called by name, with the rule and reason', async () => {
    const result = await client.callTool({ name: 'ref__test_error_handling', arguments: {} });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/Denied by policy \(rule agents\.default\.rules\[1\]\): Hidden from agents\./);
  });

  it('answers an unknown tool with a JSON-RPC error, not a denial', async () => {
    await expect(client.callTool({ name: 'nope__nothing', arguments: {} })).rejects.toThrow(/unknown tool/i);
  });

  it('forwards text, image, audio, embedded resource and mixed content unchanged', async () => {
    expect(textOf(await client.callTool({ name: 'ref__test_simple_text', arguments: {} }))).toMatch(/simple text/i);
    const image = await client.callTool({ name: 'ref__test_image_content', arguments: {} });
    expect(image.content).toEqual([expect.objectContaining({ type: 'image', mimeType: 'image/png', data: expect.any(String) })]);
    const audio = await client.callTool({ name: 'ref__test_audio_content', arguments: {} });
    expect(audio.content).toEqual([expect.objectContaining({ type: 'audio', mimeType: expect.stringMatching(/audio/) })]);
    const embedded = await client.callTool({ name: 'old__test_embedded_resource', arguments: {} });
    expect(embedded.content).toEqual([expect.objectContaining({ type: 'resource', resource: expect.objectContaining({ uri: expect.any(String) }) })]);
    const mixed = await client.callTool({ name: 'ref__test_multiple_content_types', arguments: {} });
    expect((mixed.content as Array<{ type: string }>).map((c) => c.type)).toEqual(['text', 'image', 'resource']);
  });

  it('forwards structuredContent', async () => {
    const result = await client.callTool({ name: 'flaky__whoami', arguments: {} });
    expect(result.structuredContent).toEqual({ token: 'unset' });
  });

  it('forwards progress notifications to a client that asked for progress', async () => {
    const seen: number[] = [];
    const result = await client.callTool({ name: 'ref__test_tool_with_progress', arguments: {} }, { onprogress: (p) => seen.push(p.progress) });
    expect(textOf(result)).toMatch(/progress executed/i);
    // The SDK client dispatches a notification a tick after a response read in the same chunk.
    await vi.waitFor(() => expect(seen).toEqual([0, 50, 100]), { timeout: 2_000 });
  });

  it.each(['ref', 'old'])('routes sampling from the %s upstream to this client', async (prefix) => {
    const result = await client.callTool({ name: `${prefix}__test_sampling`, arguments: { prompt: 'hello' } });
    expect(textOf(result)).toMatch(/sampled/);
  });

  it.each(['ref', 'old'])('routes elicitation from the %s upstream to this client', async (prefix) => {
    const result = await client.callTool({ name: `${prefix}__test_elicitation`, arguments: { message: 'who are you?' } });
    expect(textOf(result)).toMatch(/action=accept/);
    expect(textOf(result)).toMatch(/ada@example.com/);
  });

  it('routes a roots request to this client', async () => {
    const result = await client.callTool({ name: 'flaky__list_roots', arguments: {} });
    expect(JSON.parse(textOf(result))).toEqual([{ uri: 'file:///home/dev/project', name: 'project' }]);
  });

  it('lists and reads resources and resource templates', async () => {
    const { resources } = await client.listResources();
    expect(resources.map((r) => r.uri)).toEqual(expect.arrayContaining(['test://static-text', 'test://static-binary', 'flaky://counter']));
    const text = await client.readResource({ uri: 'test://static-text' });
    expect(text.contents[0]).toMatchObject({ uri: 'test://static-text', text: expect.stringMatching(/static text/) });
    const binary = await client.readResource({ uri: 'test://static-binary' });
    expect(binary.contents[0]).toMatchObject({ blob: expect.any(String) });
    const { resourceTemplates } = await client.listResourceTemplates();
    expect(resourceTemplates.map((t) => t.uriTemplate)).toContain('test://template/{id}/data');
    const templated = await client.readResource({ uri: 'test://template/42/data' });
    expect(JSON.parse((templated.contents[0] as { text: string }).text)).toMatchObject({ id: '42' });
  });

  it('lists and gets prompts with arguments, and forwards completion', async () => {
    const { prompts } = await client.listPrompts();
    expect(prompts.map((p) => p.name)).toContain('ref__test_prompt_with_arguments');
    const prompt = await client.getPrompt({ name: 'ref__test_prompt_with_arguments', arguments: { arg1: 'a', arg2: 'b' } });
    expect(JSON.stringify(prompt.messages)).toMatch(/arg1='a', arg2='b'/);
    const completion = await client.complete({ ref: { type: 'ref/prompt', name: 'ref__test_prompt_with_arguments' }, argument: { name: 'arg1', value: 'pa' } });
    expect(completion.completion.values).toEqual(['paris', 'park', 'party']);
  });

  it('denies prompts the policy does not grant', async () => {
    await expect(client.getPrompt({ name: 'old__test_simple_prompt' })).rejects.toThrow(/Denied by policy/);
  });

  it('holds a prompt\'s embedded resources to the resource rules', async () => {
    const name = 'ref__test_prompt_with_embedded_resource';
    const allowed = await client.getPrompt({ name, arguments: { resourceUri: 'test://static/allowed' } });
    expect(allowed.messages[0]?.content).toMatchObject({ type: 'resource', resource: { uri: 'test://static/allowed' } });
    // The prompt is granted, but what it would embed is not readable by this agent.
    const denied = client.getPrompt({ name, arguments: { resourceUri: 'vault://finance/budget?sig=upstream-chosen' } });
    await expect(denied).rejects.toThrow(/Denied by policy: the prompt's result embeds a resource this agent may not read/);
    // The URI is the upstream's: the audit log names it, the client is not handed it.
    await expect(denied).rejects.not.toThrow(/vault:/);
    const audit = readFileSync(join(cfg.dir, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(audit.filter((e) => e.tool === `prompts/get ${name}` && e.decision === 'deny').at(-1)).toMatchObject({ resource: 'vault://finance/budget?sig=upstream-chosen' });
  });

  it('forwards log messages an upstream sends during a call', async () => {
    const logs: unknown[] = [];
    client.setNotificationHandler('notifications/message', (n) => {
      logs.push(n.params.data);
    });
    if (kind.era === 'legacy') await client.setLoggingLevel('debug');
    await client.callTool({ name: 'old__test_tool_with_logging', arguments: {} });
    await vi.waitFor(() => expect(logs.length).toBeGreaterThanOrEqual(3), { timeout: 5_000 });
  });

  it('cancels the upstream call when the client cancels', async () => {
    const count = (word: string) => (existsSync(events) ? (readFileSync(events, 'utf8').match(new RegExp(word, 'g')) ?? []).length : 0);
    const started = count('slow:start');
    const cancelled = count('slow:cancelled');
    const controller = new AbortController();
    const call = client.callTool({ name: 'flaky__slow', arguments: { ms: 20_000 } }, { signal: controller.signal });
    await vi.waitFor(() => expect(count('slow:start')).toBe(started + 1), { timeout: 5_000 });
    controller.abort();
    await expect(call).rejects.toThrow();
    await vi.waitFor(() => expect(count('slow:cancelled')).toBe(cancelled + 1), { timeout: 5_000 });
  });
});

describe('notifications a 2025-era client keeps a session for', () => {
  it('forwards tools/list_changed, and the new tool becomes callable', async () => {
    const client = await httpClient(gw.url, 'legacy');
    let changed = 0;
    client.setNotificationHandler('notifications/tools/list_changed', () => {
      changed++;
    });
    await client.callTool({ name: 'flaky__add_tool', arguments: {} });
    await vi.waitFor(() => expect(changed).toBeGreaterThan(0), { timeout: 5_000 });
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('flaky__late_tool');
    expect(textOf(await client.callTool({ name: 'flaky__late_tool', arguments: {} }))).toBe('late');
    await client.close();
  });

  it('forwards resources/updated to a subscribed client only', async () => {
    const subscriber = await httpClient(gw.url, 'legacy');
    const bystander = await httpClient(gw.url, 'legacy');
    const updates: string[] = [];
    const stray: string[] = [];
    subscriber.setNotificationHandler('notifications/resources/updated', (n) => {
      updates.push(n.params.uri);
    });
    bystander.setNotificationHandler('notifications/resources/updated', (n) => {
      stray.push(n.params.uri);
    });
    await subscriber.subscribeResource({ uri: 'flaky://counter' });
    await bystander.callTool({ name: 'flaky__bump', arguments: {} });
    await vi.waitFor(() => expect(updates).toEqual(['flaky://counter']), { timeout: 5_000 });
    expect(stray).toEqual([]);
    await subscriber.unsubscribeResource({ uri: 'flaky://counter' });
    await subscriber.close();
    await bystander.close();
  });
});

describe('a session that ends', () => {
  it('releases its resource subscriptions upstream', async () => {
    const { Client: ClientClass, StreamableHTTPClientTransport } = await import('@modelcontextprotocol/client');
    const transport = new StreamableHTTPClientTransport(new URL(gw.url));
    const client = new ClientClass({ name: 't', version: '1' });
    await client.connect(transport);
    const count = (word: string) => (existsSync(events) ? readFileSync(events, 'utf8').split('\n').filter((l) => l === word).length : 0);
    const unsubscribed = count('unsubscribe:flaky://counter');
    await client.subscribeResource({ uri: 'flaky://counter' });
    await transport.terminateSession();
    await client.close();
    await vi.waitFor(() => expect(count('unsubscribe:flaky://counter')).toBe(unsubscribed + 1), { timeout: 5_000 });
  });
});

describe('capabilities', () => {
  it('advertises the union of what upstreams offer, with list-changed', async () => {
    const { client } = await stdioClient(cfg.file);
    const caps = client.getServerCapabilities();
    expect(caps?.tools?.listChanged).toBe(true);
    expect(caps?.resources).toMatchObject({ listChanged: true, subscribe: true });
    expect(caps?.prompts?.listChanged).toBe(true);
    expect(caps?.completions).toBeDefined();
    expect(caps?.logging).toBeDefined();
    await client.close();
  });
});
