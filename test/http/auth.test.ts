import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { AUDITED_FAILURES_PER_MINUTE, createAuthenticator, type AuthConfig } from '../../src/http/auth.js';
import { createMetrics, type Metrics } from '../../src/http/metrics.js';
import type { HttpIdentity } from '../../src/proxy/front/http.js';
import { parsePrometheus, sampleValue, tempAudit, type TempAudit } from './helpers.js';

const SECRET = 'test-secret-0123456789-abcdefghijklmnop';
const ISSUER = 'https://idp.test/';
const AUDIENCE = 'portcullis';
const PUBLIC_URL = 'http://gw.test:8787';
const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const sec = (ms: number) => Math.floor(ms / 1000);

function jwtAuth(jwt: Partial<NonNullable<AuthConfig['jwt']>>): AuthConfig {
  return {
    mode: 'jwt',
    jwt: { agentClaim: 'sub', roleClaim: 'roles', clockTolerance: 30_000, maxTokenBytes: 8_192, issuer: ISSUER, audience: AUDIENCE, ...jwt },
  };
}

function mcpRequest(token?: string, headers: Record<string, string> = {}): Request {
  return new Request(`${PUBLIC_URL}/mcp`, { method: 'POST', headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...headers } });
}

async function hs256(claims: Record<string, unknown>, options: { key?: string; header?: Record<string, unknown> } = {}): Promise<string> {
  return new SignJWT({ iss: ISSUER, aud: AUDIENCE, iat: sec(NOW), exp: sec(NOW) + 600, ...claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT', ...options.header })
    .sign(new TextEncoder().encode(options.key ?? SECRET));
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe('JWT identity with an HS256 secret', () => {
  let audit: TempAudit;
  let metrics: Metrics;
  let auth: ReturnType<typeof createAuthenticator>;

  beforeEach(() => {
    audit = tempAudit();
    metrics = createMetrics({ processMetrics: false });
    auth = createAuthenticator({ auth: jwtAuth({ secret: SECRET }), agents: ['default', 'release-bot'], publicUrl: PUBLIC_URL, audit: audit.audit, metrics, now: () => NOW, stateDir: audit.dir });
  });
  afterEach(() => audit.cleanup());

  it('maps a valid token to the agent named by its claim and passes every claim through', async () => {
    const token = await hs256({ sub: 'release-bot', channel: 'C123', thread_ts: '1712345.678', sid: 'thread-9' });
    const who = (await auth.identify(mcpRequest(token), '203.0.113.7')) as HttpIdentity;
    expect(who).not.toBeInstanceOf(Response);
    expect(who.agent).toBe('release-bot');
    expect(who.claims).toMatchObject({ sub: 'release-bot', channel: 'C123', thread_ts: '1712345.678', iss: ISSUER });
    expect(who.modernSessionKey).toBe('release-bot/sid:thread-9');
    expect(Object.isFrozen(who.claims)).toBe(true);
    expect(audit.lines()).toEqual([]);
  });

  it('keys the session-less session by jti when there is no sid, else by the agent alone', async () => {
    const withJti = (await auth.identify(mcpRequest(await hs256({ sub: 'default', jti: 'j-1' })))) as HttpIdentity;
    const bare = (await auth.identify(mcpRequest(await hs256({ sub: 'default' })))) as HttpIdentity;
    expect(withJti.modernSessionKey).toBe('default/jti:j-1');
    expect(bare.modernSessionKey).toBe('default');
  });

  it('accepts a token that expired within the clock tolerance', async () => {
    const token = await hs256({ sub: 'default', exp: sec(NOW) - 10 });
    expect(await auth.identify(mcpRequest(token))).not.toBeInstanceOf(Response);
  });

  const attacks: Array<{ name: string; token: () => Promise<string>; status: number; reason: string }> = [
    { name: 'alg none', token: async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'default', iss: ISSUER, aud: AUDIENCE, exp: sec(NOW) + 600 })}.`, status: 401, reason: 'alg_not_allowed' },
    { name: 'a token signed with the wrong key', token: () => hs256({ sub: 'default' }, { key: 'another-secret-0123456789-abcdefghij' }), status: 401, reason: 'bad_signature' },
    {
      name: 'an RS256 token against an HS256 secret',
      token: async () => {
        const { privateKey } = await generateKeyPair('RS256');
        return new SignJWT({ sub: 'default', iss: ISSUER, aud: AUDIENCE, exp: sec(NOW) + 600 }).setProtectedHeader({ alg: 'RS256' }).sign(privateKey);
      },
      status: 401,
      reason: 'alg_not_allowed',
    },
    { name: 'an expired token', token: () => hs256({ sub: 'default', iat: sec(NOW) - 7200, exp: sec(NOW) - 3600 }), status: 401, reason: 'expired' },
    { name: 'a token that is not yet valid', token: () => hs256({ sub: 'default', nbf: sec(NOW) + 3600 }), status: 401, reason: 'not_yet_valid' },
    { name: 'a token from the wrong issuer', token: () => hs256({ sub: 'default', iss: 'https://evil.test/' }), status: 401, reason: 'wrong_issuer' },
    { name: 'a token for the wrong audience', token: () => hs256({ sub: 'default', aud: 'another-service' }), status: 401, reason: 'wrong_audience' },
    { name: 'a token without expiry', token: () => hs256({ sub: 'default', exp: undefined }), status: 401, reason: 'missing_expiry' },
    { name: 'a token without the agent claim', token: () => hs256({ sub: undefined, channel: 'C1' }), status: 401, reason: 'missing_agent_claim' },
    { name: 'a token naming an unknown agent', token: () => hs256({ sub: 'intruder' }), status: 403, reason: 'unknown_agent' },
    { name: 'an oversized token', token: () => hs256({ sub: 'default', pad: 'x'.repeat(9_000) }), status: 401, reason: 'token_too_large' },
    { name: 'garbage instead of a JWT', token: async () => 'not-a-jwt', status: 401, reason: 'malformed' },
  ];

  for (const attack of attacks) {
    it(`rejects ${attack.name} with ${attack.status} (${attack.reason}), audits it without the token and counts it`, async () => {
      const token = await attack.token();
      const response = await auth.identify(mcpRequest(token), '198.51.100.4');
      expect(response).toBeInstanceOf(Response);
      const res = response as Response;
      expect(res.status).toBe(attack.status);
      const text = await res.text();
      const body = JSON.parse(text) as { reason: string; message: string };
      expect(body.reason).toBe(attack.reason);
      expect(body.message.length).toBeGreaterThan(5);
      expect(text).not.toContain(token);
      if (attack.status === 401) {
        expect(res.headers.get('www-authenticate')).toBe(
          `Bearer resource_metadata="${PUBLIC_URL}/.well-known/oauth-protected-resource", error="invalid_token", error_description="${body.message.replace(/["\\]/g, '')}"`,
        );
      } else {
        expect(res.headers.get('www-authenticate')).toBeNull();
      }
      const lines = audit.lines();
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ event: 'auth.failed', reason: attack.reason, outcome: attack.reason, remote: '198.51.100.4', route: 'mcp', status: attack.status });
      expect(JSON.stringify(lines[0])).not.toContain(token.slice(0, 60));
      const samples = parsePrometheus(await metrics.render());
      expect(sampleValue(samples, 'portcullis_auth_failures_total', { reason: attack.reason })).toBe(1);
    });
  }

  it('audits at most a bounded number of refusals per address and minute, and counts every one', async () => {
    let clock = NOW;
    const throttled = createAuthenticator({ auth: jwtAuth({ secret: SECRET }), agents: ['default'], publicUrl: PUBLIC_URL, audit: audit.audit, metrics, now: () => clock, stateDir: audit.dir });
    const extra = 5;
    for (let i = 0; i < AUDITED_FAILURES_PER_MINUTE + extra; i++) expect(((await throttled.identify(mcpRequest('not-a-jwt'), '198.51.100.9')) as Response).status).toBe(401);
    // Another address is audited on its own.
    await throttled.identify(mcpRequest('not-a-jwt'), '198.51.100.10');
    let lines = audit.lines();
    const from = (remote: string) => lines.filter((l) => l.remote === remote);
    expect(from('198.51.100.9').filter((l) => l.reason !== 'throttled')).toHaveLength(AUDITED_FAILURES_PER_MINUTE);
    expect(from('198.51.100.9').filter((l) => l.reason === 'throttled')).toHaveLength(1);
    expect(from('198.51.100.10')).toHaveLength(1);
    const samples = parsePrometheus(await metrics.render());
    expect(sampleValue(samples, 'portcullis_auth_failures_total', { reason: 'malformed' })).toBe(AUDITED_FAILURES_PER_MINUTE + extra + 1);
    // The next minute audits again, saying how many were left out.
    clock += 61_000;
    await throttled.identify(mcpRequest('not-a-jwt'), '198.51.100.9');
    lines = audit.lines();
    expect(lines.at(-1)).toMatchObject({ event: 'auth.failed', remote: '198.51.100.9', notLogged: extra });
  });

  it('answers a request without a token with 401 and a WWW-Authenticate naming the metadata, but no error code', async () => {
    const res = (await auth.identify(mcpRequest())) as Response;
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${PUBLIC_URL}/.well-known/oauth-protected-resource"`);
    expect(audit.lines()[0]).toMatchObject({ event: 'auth.failed', reason: 'missing_token', remote: 'unknown' });
  });

  it('rejects an Authorization header that is not a bearer token', async () => {
    const res = (await auth.identify(mcpRequest(undefined, { authorization: 'Basic dXNlcjpwYXNz' }))) as Response;
    expect(res.status).toBe(401);
    expect(((await res.json()) as { reason: string }).reason).toBe('malformed');
  });

  it('refuses a huge Authorization header before parsing it', async () => {
    const res = (await auth.identify(mcpRequest(undefined, { authorization: `Bearer ${'a'.repeat(100_000)}` }))) as Response;
    expect(res.status).toBe(401);
    expect(((await res.json()) as { reason: string }).reason).toBe('token_too_large');
  });

  it('describes the resource in RFC 9728 metadata', () => {
    expect(auth.protectedResourceMetadata()).toEqual({
      resource: `${PUBLIC_URL}/mcp`,
      authorization_servers: [ISSUER],
      bearer_methods_supported: ['header'],
      resource_name: 'Portcullis MCP gateway',
      resource_documentation: `${PUBLIC_URL}/`,
      scopes_supported: [],
    });
  });

  it('takes the agent from a custom agentClaim and sees profiles added by a reload', async () => {
    const agents = ['default'];
    const custom = createAuthenticator({ auth: jwtAuth({ secret: SECRET, agentClaim: 'agent' }), agents: () => agents, publicUrl: PUBLIC_URL, audit: audit.audit, now: () => NOW });
    const token = await hs256({ sub: 'alice', agent: 'late-bot' });
    expect(((await custom.identify(mcpRequest(token))) as Response).status).toBe(403);
    agents.push('late-bot');
    expect(((await custom.identify(mcpRequest(token))) as HttpIdentity).agent).toBe('late-bot');
  });
});

describe('JWT identity with a JWKS served over HTTP', () => {
  let server: Server;
  let jwksUrl: string;
  let privateKey: CryptoKey;
  let publicJwk: JWK;
  let publicPem: string;
  let audit: TempAudit;
  let fetches = 0;

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256', { extractable: true });
    privateKey = pair.privateKey;
    publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    publicPem = await exportSPKI(pair.publicKey);
    server = createServer((req, res) => {
      fetches++;
      if (req.url === '/jwks.json') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [publicJwk] }));
      } else {
        res.writeHead(500).end('down');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    audit = tempAudit();
  });
  afterEach(() => audit.cleanup());

  const rs256 = (claims: Record<string, unknown>, key: CryptoKey = privateKey, kid = 'k1') =>
    new SignJWT({ iss: ISSUER, aud: AUDIENCE, exp: sec(Date.now()) + 600, ...claims }).setProtectedHeader({ alg: 'RS256', kid }).sign(key);
  const jwksAuth = (url = jwksUrl) => createAuthenticator({ auth: jwtAuth({ jwks: url }), agents: ['default'], publicUrl: PUBLIC_URL, audit: audit.audit });

  it('accepts an RS256 token whose key the JWKS publishes', async () => {
    const before = fetches;
    const who = (await jwksAuth().identify(mcpRequest(await rs256({ sub: 'default', tenant: 't1' })))) as HttpIdentity;
    expect(who.agent).toBe('default');
    expect(who.claims).toMatchObject({ tenant: 't1' });
    expect(fetches).toBeGreaterThan(before);
  });

  it('rejects an HS256 token signed with the RSA public key as the HMAC secret (key confusion)', async () => {
    const forged = await new SignJWT({ sub: 'default', iss: ISSUER, aud: AUDIENCE, exp: sec(Date.now()) + 600 })
      .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
      .sign(new TextEncoder().encode(publicPem));
    const res = (await jwksAuth().identify(mcpRequest(forged))) as Response;
    expect(res.status).toBe(401);
    expect(((await res.json()) as { reason: string }).reason).toBe('alg_not_allowed');
    expect(audit.lines()[0]).toMatchObject({ event: 'auth.failed', reason: 'alg_not_allowed' });
  });

  it('rejects a token signed by another RSA key under the published kid', async () => {
    const other = await generateKeyPair('RS256');
    const res = (await jwksAuth().identify(mcpRequest(await rs256({ sub: 'default' }, other.privateKey)))) as Response;
    expect(res.status).toBe(401);
    expect(((await res.json()) as { reason: string }).reason).toBe('bad_signature');
  });

  it('rejects a token whose kid the JWKS does not publish', async () => {
    const res = (await jwksAuth().identify(mcpRequest(await rs256({ sub: 'default' }, privateKey, 'k-unknown')))) as Response;
    expect(res.status).toBe(401);
    expect(((await res.json()) as { reason: string }).reason).toBe('unknown_key');
  });

  it('answers 503, not 401, when the JWKS cannot be fetched', async () => {
    const res = (await jwksAuth(jwksUrl.replace('jwks.json', 'broken')).identify(mcpRequest(await rs256({ sub: 'default' })))) as Response;
    expect(res.status).toBe(503);
    expect(((await res.json()) as { reason: string }).reason).toBe('jwks_unavailable');
    expect(audit.lines()[0]).toMatchObject({ event: 'auth.failed', reason: 'jwks_unavailable', status: 503 });
  });
});

describe('auth mode none', () => {
  let audit: TempAudit;
  let auth: ReturnType<typeof createAuthenticator>;
  beforeEach(() => {
    audit = tempAudit();
    auth = createAuthenticator({ auth: { mode: 'none' }, agents: ['default'], publicUrl: 'http://127.0.0.1:8787', audit: audit.audit, stateDir: audit.dir });
  });
  afterEach(() => audit.cleanup());

  for (const address of ['127.0.0.1', '::1', '::ffff:127.0.0.1', '127.8.9.10']) {
    it(`serves the loopback client ${address} as the default agent`, async () => {
      expect(await auth.identify(mcpRequest(), address)).toEqual({ agent: 'default', claims: undefined, modernSessionKey: 'default' });
      expect(await auth.principal(mcpRequest(), address)).toEqual({ name: 'local', roles: ['admin', 'reviewer'] });
    });
  }

  for (const address of ['10.0.0.5', '::ffff:192.168.1.2', '2001:db8::1', undefined]) {
    it(`refuses the non-loopback client ${String(address)} with 403 and audits it`, async () => {
      const res = (await auth.identify(mcpRequest(), address)) as Response;
      expect(res.status).toBe(403);
      expect(audit.lines()[0]).toMatchObject({ event: 'auth.failed', reason: 'not_loopback', remote: address ?? 'unknown' });
      expect(((await auth.principal(mcpRequest(), address)) as Response).status).toBe(403);
    });
  }

  it('ignores a bearer token: the gateway does not verify tokens in mode none', async () => {
    expect(await auth.identify(mcpRequest('whatever'), '127.0.0.1')).toMatchObject({ agent: 'default' });
  });

  it('publishes metadata without authorization servers', () => {
    expect(auth.protectedResourceMetadata()).toMatchObject({ resource: 'http://127.0.0.1:8787/mcp', authorization_servers: [] });
  });
});
