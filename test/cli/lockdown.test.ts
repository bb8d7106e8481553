import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lockdownCommand } from '../../src/cli/lockdown.js';
import { createLockdownRoute, createLockdownStore, type LockdownPrincipal, type LockdownStore } from '../../src/state/index.js';
import { closedUrl, run } from './helpers.js';

let dir: string;
let config: string;
let stateDir: string;
const servers: ServerType[] = [];

beforeEach(async () => {
  NO_GATEWAY = await closedUrl();
  dir = mkdtempSync(join(tmpdir(), 'portcullis-lockdown-cli-'));
  stateDir = join(dir, 'state');
  config = join(dir, 'portcullis.yaml');
  writeFileSync(config, `version: 1\ngateway:\n  state: ${JSON.stringify(stateDir)}\nagents:\n  default:\n    rules:\n      - allow: notes__search\n  release-bot:\n    rules: []\n`);
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  rmSync(dir, { recursive: true, force: true });
});

/** A gateway stand-in over real HTTP: bearer `admin-token` is an admin, `reviewer-token` a reviewer. */
async function gatewayWithRoute(withRoute = true): Promise<{ url: string; store: LockdownStore }> {
  const store = await createLockdownStore(join(dir, 'gateway-state'));
  const app = new Hono<{ Variables: { principal: LockdownPrincipal } }>();
  app.use('*', async (c, next) => {
    const token = c.req.header('authorization')?.replace(/^Bearer /, '');
    if (token === 'admin-token') c.set('principal', { sub: 'root', roles: ['admin'] });
    if (token === 'reviewer-token') c.set('principal', { sub: 'rita', roles: ['reviewer'] });
    await next();
  });
  if (withRoute) app.post('/api/lockdown', createLockdownRoute(store));
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, store };
}

let NO_GATEWAY: string;

describe('portcullis lockdown', () => {
  it('asks the running gateway, which applies and persists the lockdown', async () => {
    const gw = await gatewayWithRoute();
    const r = await run(lockdownCommand, ['on', '--agent', 'release-bot', '--mode', 'read-only', '-c', config, '--url', gw.url, '--token', 'admin-token']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`agent release-bot locked down (read-only) on the gateway at ${gw.url}.`);
    expect(r.stdout).toContain('lockdown now in force: all agents: off; per agent: release-bot: read-only');
    expect(gw.store.get()).toEqual({ agents: { 'release-bot': 'read-only' } });
    expect(existsSync(join(stateDir, 'lockdown.json'))).toBe(false);

    const off = await run(lockdownCommand, ['off', '--agent', 'release-bot', '-c', config, '--json'], { PORTCULLIS_URL: `${gw.url}/mcp`, PORTCULLIS_TOKEN: 'admin-token' });
    expect(off.code).toBe(0);
    expect(JSON.parse(off.stdout)).toEqual({ applied: 'gateway', url: gw.url, lockdown: { global: null, agents: {} } });
  });

  it('exits 1 with advice when the gateway refuses a caller without the admin role', async () => {
    const gw = await gatewayWithRoute();
    const anonymous = await run(lockdownCommand, ['on', '-c', config, '--url', gw.url]);
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toMatch(/refused \(HTTP 401\).*\n  lockdown is admin-only: pass an admin token with --token or PORTCULLIS_TOKEN/);
    const reviewer = await run(lockdownCommand, ['on', '-c', config, '--url', gw.url, '--token', 'reviewer-token']);
    expect(reviewer.code).toBe(1);
    expect(reviewer.stderr).toContain('HTTP 403');
    expect(gw.store.get()).toEqual({ agents: {} });
  });

  it('writes gateway.state/lockdown.json when no gateway answers, and says it applies at the next start', async () => {
    const r = await run(lockdownCommand, ['on', '-c', config, '--url', NO_GATEWAY]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`no gateway answered at ${NO_GATEWAY} \\(ECONNREFUSED\\); recorded in ${join(stateDir, 'lockdown.json')}: all agents locked down \\(deny-all\\) from the next gateway start`));
    expect(JSON.parse(readFileSync(join(stateDir, 'lockdown.json'), 'utf8'))).toMatchObject({ version: 1, global: 'deny-all', agents: {} });
    expect((await createLockdownStore(stateDir)).get()).toEqual({ global: 'deny-all', agents: {} });

    const partial = await run(lockdownCommand, ['off', '--agent', 'default', '-c', config, '--url', NO_GATEWAY]);
    expect(partial.stdout).toContain("note: the lockdown of all agents (deny-all) still applies to default; lift it with 'portcullis lockdown off'");
    const lifted = await run(lockdownCommand, ['off', '-c', config, '--url', NO_GATEWAY, '--json']);
    expect(JSON.parse(lifted.stdout)).toMatchObject({ applied: 'state-file', lockdown: { global: null, agents: {} } });
  });

  it('writes the state file but exits 2 when the gateway has no lockdown route, since nothing changed at runtime', async () => {
    const gw = await gatewayWithRoute(false);
    const r = await run(lockdownCommand, ['on', '--agent', 'default', '-c', config, '--url', gw.url]);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('has no /api/lockdown route, so it was NOT changed at runtime');
    expect((await createLockdownStore(stateDir)).get()).toEqual({ agents: { default: 'deny-all' } });
  });

  it('exits 1 for an agent the config does not define, listing the known agents', async () => {
    const r = await run(lockdownCommand, ['on', '--agent', 'relase-bot', '-c', config, '--url', NO_GATEWAY]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no agent named 'relase-bot' under agents; known agents: default, release-bot");
    expect(existsSync(join(stateDir, 'lockdown.json'))).toBe(false);
  });

  it('exits 1 on a missing or unknown action, an unknown mode, or --mode with off', async () => {
    expect((await run(lockdownCommand, ['-c', config])).stderr).toContain("say 'on' or 'off'");
    expect((await run(lockdownCommand, ['maybe', '-c', config])).code).toBe(1);
    const mode = await run(lockdownCommand, ['on', '--mode', 'panic', '-c', config]);
    expect(mode.code).toBe(1);
    expect(mode.stderr).toContain("unknown --mode 'panic': use deny-all or read-only");
    expect((await run(lockdownCommand, ['off', '--mode', 'read-only', '-c', config])).stderr).toContain("--mode goes with 'on'");
  });
});
