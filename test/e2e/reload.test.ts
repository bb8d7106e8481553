/**
 * Hot reload (SPEC §3): a policy file drives a real upstream through the gateway. While a client
 * stays connected, edits written to disk change the next call's decision; an invalid edit leaves
 * the running policy in force and the gateway logs every error with its YAML path.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { fixtureServer, httpClient, startHttpGateway, tempConfig, textOf, type RunningGateway, type TempConfig } from '../helpers/gateway.js';

const SERVERS = { flaky: fixtureServer('flaky-server.ts', { protocol: 'legacy' }) };
const policyWith = (rules: unknown[]) => ({ servers: SERVERS, agents: { default: { rules } } });

let cfg: TempConfig;
let gw: RunningGateway;
let client: Client;

beforeAll(async () => {
  cfg = tempConfig(policyWith([{ allow: 'flaky__echo' }]));
  gw = await startHttpGateway(cfg.file);
  client = await httpClient(gw.url);
});

afterAll(async () => {
  await client?.close();
  await gw?.stop();
  cfg?.cleanup();
});

async function echo(text: string): Promise<{ isError: boolean; text: string }> {
  const result = await client.callTool({ name: 'flaky__echo', arguments: { text } });
  return { isError: result.isError === true, text: textOf(result) };
}

const WAIT = { timeout: 10_000, interval: 100 };

describe('policy hot reload with a connected client', () => {
  it('applies a rule change written to disk to the next call', async () => {
    expect(await echo('before')).toEqual({ isError: false, text: 'before' });

    cfg.write(policyWith([{ allow: 'flaky__echo' }, { deny: 'flaky__echo', reason: 'Echo is switched off.' }]));
    await vi.waitFor(async () => {
      expect(await echo('after')).toEqual({ isError: true, text: 'Denied by policy (rule agents.default.rules[1]): Echo is switched off.' });
    }, WAIT);
  });

  it('keeps the running policy when an edit fails validation, and logs the error with its YAML path', async () => {
    // Would allow echo again, but `readonly` is not a key (readOnly is).
    cfg.write(policyWith([{ allow: 'flaky__echo', readonly: true }]));
    await vi.waitFor(() => expect(gw.stderr()).toContain('agents.default.rules[0].readonly'), WAIT);
    expect(gw.stderr()).toMatch(/reload rejected; the running policy stays in force/);
    expect(await echo('still off')).toMatchObject({ isError: true, text: expect.stringContaining('Echo is switched off.') });
  });

  it('keeps the running policy when an edit passes the schema but does not compile', async () => {
    cfg.write(policyWith([{ allow: 'flaky__echo', where: { text: { regex: '([a-z' } } }]));
    await vi.waitFor(() => expect(gw.stderr()).toContain('agents.default.rules[0].where.text.regex'), WAIT);
    expect(await echo('still off')).toMatchObject({ isError: true, text: expect.stringContaining('Echo is switched off.') });
  });

  it('keeps the running policy when lint finds an error in an edit, and logs it with its YAML path', async () => {
    // Compiles, but the undo template names neither the call's arguments nor its result.
    cfg.write(policyWith([{ allow: 'flaky__echo', undo: { tool: 'flaky__echo', args: { text: '{{request.text}}' } } }]));
    await vi.waitFor(() => expect(gw.stderr()).toContain('agents.default.rules[0].undo.args'), WAIT);
    expect(gw.stderr()).toMatch(/\{\{request\.text\}\} refers to neither args/);
    expect(await echo('still off')).toMatchObject({ isError: true, text: expect.stringContaining('Echo is switched off.') });
  });

  it('applies a valid edit made after the invalid ones', async () => {
    cfg.write(policyWith([{ allow: 'flaky__echo', where: { text: { maxLength: 5 } } }]));
    await vi.waitFor(async () => expect(await echo('short')).toEqual({ isError: false, text: 'short' }), WAIT);
    const long = await echo('much too long');
    expect(long.isError).toBe(true);
    expect(long.text).toMatch(/^Denied by policy: no rule allows flaky__echo for agent default/);
  });
});

describe('server changes on reload', () => {
  const RULES = [{ allow: 'flaky__*' }, { allow: 'second__*' }];
  const call = async (name: string) => textOf(await client.callTool({ name, arguments: {} }));

  it('keeps unchanged upstreams connected, starts added ones, replaces changed ones and closes removed ones', async () => {
    const logFrom = gw.stderr().length;
    cfg.write({ servers: SERVERS, agents: { default: { rules: RULES } } });
    await vi.waitFor(async () => expect(await call('flaky__pid')).toMatch(/^\d+$/), WAIT);
    const pid = await call('flaky__pid');

    // Added: the new server's tools become callable; the unchanged one keeps its process.
    const second = fixtureServer('flaky-server.ts', { protocol: 'legacy' });
    cfg.write({ servers: { ...SERVERS, second }, agents: { default: { rules: RULES } } });
    await vi.waitFor(async () => expect(textOf(await client.callTool({ name: 'second__echo', arguments: { text: 'hello' } }))).toBe('hello'), WAIT);
    expect(await call('flaky__pid')).toBe(pid);

    // Changed: a new process with the new definition.
    const changed = fixtureServer('flaky-server.ts', { protocol: 'legacy', env: { FLAKY_TOKEN: 'second-token' } });
    cfg.write({ servers: { flaky: changed, second }, agents: { default: { rules: RULES } } });
    await vi.waitFor(async () => expect(await call('flaky__whoami').catch(() => '')).toContain('second-token'), WAIT);
    expect(await call('flaky__pid')).not.toBe(pid);

    // Removed: its tools are gone.
    cfg.write({ servers: { flaky: changed }, agents: { default: { rules: RULES } } });
    await vi.waitFor(async () => expect(client.callTool({ name: 'second__echo', arguments: { text: 'x' } })).rejects.toThrow(/unknown tool|second__echo/i), WAIT);
    expect(gw.stderr().slice(logFrom)).not.toMatch(/reload rejected/);
  });

  it('says which changed sections only take effect after a restart', async () => {
    cfg.write({ servers: SERVERS, agents: { default: { rules: RULES } }, gateway: { limits: { callTimeout: '30s' } } });
    await vi.waitFor(() => expect(gw.stderr()).toMatch(/changes to gateway take effect after a restart/), WAIT);
  });
});
