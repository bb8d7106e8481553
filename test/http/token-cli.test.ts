import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Hono } from 'hono';
import { decodeJwt } from 'jose';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/index.js';
import { tokenCommand } from '../../src/cli/token.js';
import type { CliIo } from '../../src/cli/command-io.js';
import { createAuthenticator, type Authenticator } from '../../src/http/auth.js';
import type { HttpIdentity } from '../../src/proxy/front/http.js';
import { tempAudit, type TempAudit } from './helpers.js';

const SECRET = 'cli-secret-0123456789-abcdefghijklmnopq';
const NOW = Date.now();

let audit: TempAudit;
let configFile: string;

function writeConfig(auth: Record<string, unknown>, extra: Record<string, unknown> = {}): void {
  configFile = join(audit.dir, 'portcullis.yaml');
  writeFileSync(configFile, stringify({ version: 1, gateway: { auth, state: join(audit.dir, 'state'), publicUrl: 'http://127.0.0.1:9999', ...extra }, agents: { default: {}, 'release-bot': {} } }));
}

function captureIo(): CliIo & { stdout: string; stderr: string } {
  const io = { stdout: '', stderr: '', out: (t: string) => void (io.stdout += t), err: (t: string) => void (io.stderr += t), env: {}, now: () => NOW };
  return io;
}

async function gatewayAuth(): Promise<Authenticator> {
  const { config } = await loadConfig(configFile, { env: {} });
  return createAuthenticator({ auth: config.gateway.auth, agents: Object.keys(config.agents), publicUrl: config.gateway.publicUrl!, audit: audit.audit, stateDir: config.gateway.state, now: () => NOW });
}

beforeEach(() => {
  audit = tempAudit();
});
afterEach(() => audit.cleanup());

describe('portcullis token', () => {
  it('mints a token the gateway maps to the agent, with its extra claims, issuer and audience', async () => {
    writeConfig({ mode: 'jwt', jwt: { secret: SECRET, issuer: 'portcullis-dev', audience: 'gw' } });
    const io = captureIo();
    expect(await tokenCommand(['-c', configFile, '--sub', 'release-bot', '--claim', 'channel=C123', '--claim', 'thread_ts=1712345.678', '--claim', 'n:=5', '--ttl', '2h'], io)).toBe(0);
    const token = io.stdout.trim();
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ sub: 'release-bot', iss: 'portcullis-dev', aud: 'gw', channel: 'C123', thread_ts: '1712345.678', n: 5 });
    expect(claims.exp! - claims.iat!).toBe(7200);
    const who = (await (await gatewayAuth()).identify(new Request('http://127.0.0.1:9999/mcp', { headers: { authorization: `Bearer ${token}` } }))) as HttpIdentity;
    expect(who.agent).toBe('release-bot');
    expect(who.claims).toMatchObject({ channel: 'C123', thread_ts: '1712345.678' });
  });

  it('puts roles in the configured role claim and the name in the configured agent claim', async () => {
    writeConfig({ mode: 'jwt', jwt: { secret: SECRET, agentClaim: 'agent', roleClaim: 'groups' } });
    const io = captureIo();
    expect(await tokenCommand(['-c', configFile, '--sub', 'alice', '--role', 'reviewer', '--role', 'admin'], io)).toBe(0);
    const token = io.stdout.trim();
    expect(decodeJwt(token)).toMatchObject({ sub: 'alice', agent: 'alice', groups: ['reviewer', 'admin'] });
    const principal = await (await gatewayAuth()).principal(new Request('http://127.0.0.1:9999/api/approvals', { headers: { authorization: `Bearer ${token}` } }));
    expect(principal).toEqual({ name: 'alice', roles: ['reviewer', 'admin'] });
  });

  it('explains that it needs gateway.auth.jwt.secret when the config has only a JWKS', async () => {
    writeConfig({ mode: 'jwt', jwt: { jwks: 'https://idp.example.com/jwks.json' } });
    const io = captureIo();
    expect(await tokenCommand(['-c', configFile, '--sub', 'default'], io)).toBe(2);
    expect(io.stderr).toContain('no gateway.auth.jwt.secret');
    expect(io.stderr).toContain('identity provider');
    expect(io.stdout).toBe('');
  });

  it.each([
    [['--sub', 'x', '--role', 'god'], "unknown --role 'god'"],
    [['--sub', 'x', '--ttl', 'forever'], 'bad --ttl'],
    [['--sub', 'x', '--claim', 'exp=1'], '--claim exp'],
    [['--sub', 'x', '--claim', 'novalue'], 'KEY=VALUE'],
    [['--role', 'admin'], '--sub NAME is required'],
    [['--login'], '--login needs --reviewer NAME'],
  ])('refuses %j with a usage error', async (args, message) => {
    writeConfig({ mode: 'jwt', jwt: { secret: SECRET } });
    const io = captureIo();
    expect(await tokenCommand(['-c', configFile, ...args], io)).toBe(1);
    expect(io.stderr).toContain(message);
  });

  for (const withSecret of [true, false]) {
    it(`prints a login link the gateway accepts ${withSecret ? 'with a JWT secret' : 'with only the state folder key'}`, async () => {
      writeConfig(withSecret ? { mode: 'jwt', jwt: { secret: SECRET } } : { mode: 'none' }, withSecret ? {} : { listen: '127.0.0.1:9999' });
      const io = captureIo();
      expect(await tokenCommand(['-c', configFile, '--login', '--reviewer', 'dana'], io)).toBe(0);
      const url = new URL(io.stdout.trim());
      expect(`${url.origin}${url.pathname}`).toBe('http://127.0.0.1:9999/login');
      const claims = decodeJwt(url.searchParams.get('token')!);
      expect(claims.exp! - claims.iat!).toBe(600);
      const auth = await gatewayAuth();
      const app = new Hono();
      app.get('/login', auth.loginHandler);
      const res = await app.request(`${url.pathname}${url.search}`);
      expect(res.status).toBe(303);
      expect(res.headers.get('set-cookie')).toMatch(/^portcullis_session=/);
    });
  }
});
