import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Hono } from 'hono';
import { serve, type ServerType } from '@hono/node-server';
import { SignJWT } from 'jose';
import { createAuthenticator, principalOf, requireCsrf, requireReviewer, type Authenticator, type AuthConfig, type ReviewerEnv } from '../../src/http/auth.js';
import { LOGIN_KEY_FILE, SESSION_COOKIE } from '../../src/http/login.js';
import { remoteAddressOf } from '../../src/http/remote.js';
import { tempAudit, type TempAudit } from './helpers.js';

const SECRET = 'reviewer-secret-0123456789-abcdefghijkl';
const JWT_AUTH: AuthConfig = { mode: 'jwt', jwt: { secret: SECRET, agentClaim: 'sub', roleClaim: 'roles', clockTolerance: 0, maxTokenBytes: 8_192 } };
const LOOPBACK = { incoming: { socket: { remoteAddress: '127.0.0.1' } } };
const REMOTE = { incoming: { socket: { remoteAddress: '203.0.113.9' } } };

function reviewerApp(auth: Authenticator): Hono<ReviewerEnv> {
  const app = new Hono<ReviewerEnv>();
  app.get('/login', auth.loginHandler);
  app.get('/api/whoami', requireReviewer(auth), (c) => c.json(c.get('principal')));
  app.post('/api/decide', requireCsrf(), requireReviewer(auth), (c) => c.json({ by: c.get('principal').name }));
  app.post('/api/lockdown', requireCsrf(), requireReviewer(auth, { admin: true }), (c) => c.json({ ok: true }));
  return app;
}

function sessionCookie(res: Response): string {
  const setCookie = res.headers.get('set-cookie') ?? '';
  const m = new RegExp(`^${SESSION_COOKIE}=([^;]+)`).exec(setCookie);
  if (!m) throw new Error(`no session cookie in ${setCookie}`);
  return `${SESSION_COOKIE}=${m[1]}`;
}

async function bearer(claims: Record<string, unknown>): Promise<string> {
  return new SignJWT({ exp: Math.floor(Date.now() / 1000) + 600, ...claims }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET));
}

describe('reviewer identity', () => {
  let audit: TempAudit;
  let auth: Authenticator;
  let app: Hono<ReviewerEnv>;
  let now = Date.now();

  beforeEach(() => {
    audit = tempAudit();
    now = Date.now();
    auth = createAuthenticator({ auth: JWT_AUTH, agents: ['default'], publicUrl: 'https://gw.example.com/', audit: audit.audit, stateDir: join(audit.dir, 'state'), now: () => now });
    app = reviewerApp(auth);
  });
  afterEach(() => audit.cleanup());

  it('accepts a bearer token carrying the reviewer role', async () => {
    const res = await app.request('/api/whoami', { headers: { authorization: `Bearer ${await bearer({ sub: 'alice', roles: ['reviewer'] })}` } }, REMOTE);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ name: 'alice', roles: ['reviewer'] });
  });

  it('accepts a role claim written as a space-separated string', async () => {
    const res = await app.request('/api/whoami', { headers: { authorization: `Bearer ${await bearer({ sub: 'root', roles: 'admin ops' })}` } }, REMOTE);
    expect(await res.json()).toEqual({ name: 'root', roles: ['admin', 'ops'] });
  });

  it('refuses an agent token without a reviewer role with 403 and audits it', async () => {
    const res = await app.request('/api/whoami', { headers: { authorization: `Bearer ${await bearer({ sub: 'default' })}` } }, REMOTE);
    expect(res.status).toBe(403);
    expect(audit.lines()[0]).toMatchObject({ event: 'auth.failed', reason: 'not_reviewer', route: 'reviewer', remote: '203.0.113.9' });
  });

  it('with anyRole, passes a role-less owner through and marks a token naming an agent profile as that agent', async () => {
    const authorize = principalOf(auth, { anyRole: true });
    const a = new Hono();
    a.get('/who', async (c) => {
      const who = await authorize(c);
      return who instanceof Response ? who : c.json(who);
    });
    const owner = await a.request('/who', { headers: { authorization: `Bearer ${await bearer({ sub: 'alice@example.com' })}` } }, REMOTE);
    expect(await owner.json()).toEqual({ name: 'alice@example.com', roles: [] });
    const agent = await a.request('/who', { headers: { authorization: `Bearer ${await bearer({ sub: 'default', roles: ['reviewer'] })}` } }, REMOTE);
    expect(await agent.json()).toEqual({ name: 'default', roles: ['reviewer'], isAgent: 'default' });
    expect((await a.request('/who', { headers: { authorization: 'Bearer nope' } }, REMOTE)).status).toBe(401);
  });

  it('refuses a request without credentials with 401, even from loopback, in jwt mode', async () => {
    const res = await app.request('/api/whoami', {}, LOOPBACK);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('resource_metadata="https://gw.example.com/.well-known/oauth-protected-resource"');
  });

  it('turns a login link into an HttpOnly SameSite=Strict session cookie that identifies the reviewer', async () => {
    const url = auth.loginUrl(await auth.createLoginToken('bob', 5 * 60_000));
    expect(url).toMatch(/^https:\/\/gw\.example\.com\/login\?token=/);
    const login = await app.request(url.replace('https://gw.example.com', ''), {}, REMOTE);
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/approvals');
    const setCookie = login.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/; Path=\/; HttpOnly; SameSite=Strict; Max-Age=28800; Secure$/);
    const res = await app.request('/api/whoami', { headers: { cookie: `theme=dark; ${sessionCookie(login)}` } }, REMOTE);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ name: 'bob', roles: ['reviewer'] });
  });

  it('accepts a login link only once', async () => {
    const path = auth.loginUrl(await auth.createLoginToken('bob', 60_000)).replace('https://gw.example.com', '');
    expect((await app.request(path, {}, REMOTE)).status).toBe(303);
    const again = await app.request(path, {}, REMOTE);
    expect(again.status).toBe(401);
    expect(again.headers.get('set-cookie')).toBeNull();
    expect(audit.lines().at(-1)).toMatchObject({ event: 'auth.failed', reason: 'login_reused', route: 'login' });
  });

  it('refuses an expired login link', async () => {
    const path = auth.loginUrl(await auth.createLoginToken('bob', 60_000)).replace('https://gw.example.com', '');
    now += 61_000;
    const res = await app.request(path, {}, REMOTE);
    expect(res.status).toBe(401);
    expect(await res.text()).toContain('expired');
  });

  it('refuses a session cookie once it has expired', async () => {
    const login = await app.request(auth.loginUrl(await auth.createLoginToken('bob', 60_000)).replace('https://gw.example.com', ''), {}, REMOTE);
    now += 8 * 3_600_000 + 1_000;
    const res = await app.request('/api/whoami', { headers: { cookie: sessionCookie(login) } }, REMOTE);
    expect(res.status).toBe(401);
    expect(audit.lines().at(-1)).toMatchObject({ reason: 'bad_session' });
  });

  it('never accepts a login token or a session cookie as a bearer token for /mcp', async () => {
    const loginToken = await auth.createLoginToken('default', 60_000);
    expect(((await auth.identify(new Request('https://gw.example.com/mcp', { headers: { authorization: `Bearer ${loginToken}` } }))) as Response).status).toBe(401);
    const login = await app.request(auth.loginUrl(loginToken).replace('https://gw.example.com', ''), {}, REMOTE);
    const session = sessionCookie(login).split('=')[1]!;
    expect(((await auth.identify(new Request('https://gw.example.com/mcp', { headers: { authorization: `Bearer ${session}` } }))) as Response).status).toBe(401);
  });

  it('does not accept a login token as a session cookie', async () => {
    const res = await app.request('/api/whoami', { headers: { cookie: `${SESSION_COOKIE}=${await auth.createLoginToken('bob', 60_000)}` } }, REMOTE);
    expect(res.status).toBe(401);
  });

  it('requires the admin role where asked, even for a valid reviewer', async () => {
    const token = await bearer({ sub: 'alice', roles: ['reviewer'] });
    const res = await app.request('/api/lockdown', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'x-portcullis-csrf': '1' } }, REMOTE);
    expect(res.status).toBe(403);
    const admin = await bearer({ sub: 'root', roles: ['admin'] });
    expect((await app.request('/api/lockdown', { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'x-portcullis-csrf': '1' } }, REMOTE)).status).toBe(200);
  });
});

describe('login key without a JWT secret', () => {
  let audit: TempAudit;
  beforeEach(() => {
    audit = tempAudit();
  });
  afterEach(() => audit.cleanup());

  it('creates gateway.state/login.key with mode 0600 and shares it across authenticators (CLI and gateway)', async () => {
    const stateDir = join(audit.dir, 'state');
    const gateway = createAuthenticator({ auth: { mode: 'none' }, agents: ['default'], publicUrl: 'http://127.0.0.1:8787', audit: audit.audit, stateDir });
    const cli = createAuthenticator({ auth: { mode: 'none' }, agents: ['default'], publicUrl: 'http://127.0.0.1:8787', audit: audit.audit, stateDir });
    const token = await cli.createLoginToken('carol', 60_000);
    expect(statSync(join(stateDir, LOGIN_KEY_FILE)).mode & 0o777).toBe(0o600);
    const app = reviewerApp(gateway);
    const login = await app.request(`/login?token=${token}`, {}, REMOTE);
    expect(login.status).toBe(303);
    expect(login.headers.get('set-cookie')).not.toContain('Secure');
    const res = await app.request('/api/whoami', { headers: { cookie: sessionCookie(login) } }, REMOTE);
    expect(await res.json()).toEqual({ name: 'carol', roles: ['reviewer'] });
  });
});

describe('CSRF guard', () => {
  const app = new Hono();
  app.use('*', requireCsrf({ allowedOrigins: ['https://gw.example.com'] }));
  app.get('/read', (c) => c.text('ok'));
  app.post('/write', (c) => c.text('ok'));

  it('lets safe methods through without a marker', async () => {
    expect((await app.request('/read')).status).toBe(200);
  });

  it('refuses a form-style POST without the marker header or a JSON body', async () => {
    for (const type of ['application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=x']) {
      const res = await app.request('/write', { method: 'POST', headers: { 'content-type': type }, body: 'a=1' });
      expect(res.status, type).toBe(403);
    }
    expect((await app.request('/write', { method: 'POST' })).status).toBe(403);
  });

  it('accepts a POST carrying X-Portcullis-CSRF: 1 or a JSON body', async () => {
    expect((await app.request('/write', { method: 'POST', headers: { 'x-portcullis-csrf': '1' } })).status).toBe(200);
    expect((await app.request('/write', { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body: '{}' })).status).toBe(200);
  });

  it('refuses a marked POST whose Origin is another site, and accepts its own or a configured one', async () => {
    const headers = { 'x-portcullis-csrf': '1', host: 'localhost:8787' };
    expect((await app.request('http://localhost:8787/write', { method: 'POST', headers: { ...headers, origin: 'https://evil.test' } })).status).toBe(403);
    expect((await app.request('http://localhost:8787/write', { method: 'POST', headers: { ...headers, origin: 'null' } })).status).toBe(403);
    expect((await app.request('http://localhost:8787/write', { method: 'POST', headers: { ...headers, origin: 'http://localhost:8787' } })).status).toBe(200);
    expect((await app.request('http://localhost:8787/write', { method: 'POST', headers: { ...headers, origin: 'https://gw.example.com' } })).status).toBe(200);
  });
});

describe('identity over a real socket', () => {
  let server: ServerType | undefined;
  let audit: TempAudit;
  beforeEach(() => {
    audit = tempAudit();
  });
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
    audit.cleanup();
  });

  it('reads the peer address from the Node socket, so mode none serves a loopback client', async () => {
    const auth = createAuthenticator({ auth: { mode: 'none' }, agents: ['default'], publicUrl: 'http://127.0.0.1:8787', audit: audit.audit });
    const app = new Hono();
    app.all('/mcp', async (c) => {
      const who = await auth.identify(c.req.raw, remoteAddressOf(c));
      return who instanceof Response ? who : c.json({ ...who, remote: remoteAddressOf(c) });
    });
    app.get('/.well-known/oauth-protected-resource', (c) => c.json(auth.protectedResourceMetadata()));
    server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const res = await fetch(`${base}/mcp`, { method: 'POST' });
    expect(await res.json()).toEqual({ agent: 'default', modernSessionKey: 'default', remote: '127.0.0.1' });
    const meta = await fetch(`${base}/.well-known/oauth-protected-resource`);
    expect(await meta.json()).toMatchObject({ resource: 'http://127.0.0.1:8787/mcp', bearer_methods_supported: ['header'] });
  });
});
