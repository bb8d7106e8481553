/**
 * HTTP identity (SPEC §7): who is calling /mcp (an agent profile, from a JWT or the loopback
 * default) and who is reviewing (a principal with the reviewer/admin role, from a JWT or a login
 * cookie). Every refusal is audited as `auth.failed` and counted; no response or audit line
 * ever carries the token.
 */
import { LRUCache } from 'lru-cache';
import { createRemoteJWKSet, customFetch, decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Context, Handler, MiddlewareHandler } from 'hono';
import { isLoopbackHost, type GatewayConfig } from '../config/index.js';
import type { AuditLog } from '../audit/log.js';
import type { HttpIdentity } from '../proxy/front/http.js';
import type { Metrics } from './metrics.js';
import { SESSION_COOKIE, loadLoginKey, signLoginToken, verifyLoginToken } from './login.js';
import { remoteAddressOf } from './remote.js';

/**
 * Someone acting on the approvals page or API. `isAgent` is set when the token names an agent
 * profile (an agent's own identity: it may never decide or undo its own calls).
 */
export type Principal = { name: string; roles: string[]; isAgent?: string };

export interface PrincipalOptions {
  /**
   * Also accept a valid token without the reviewer/admin role (an agent's owner, or an agent
   * identity marked `isAgent`); the route then decides what that principal may do.
   * Default false: only reviewers and admins get through.
   */
  anyRole?: boolean;
}
export type AuthConfig = GatewayConfig['auth'];

export const REVIEWER_ROLES: readonly string[] = ['reviewer', 'admin'];
export const CSRF_HEADER = 'x-portcullis-csrf';
const HS_ALGORITHMS = ['HS256'];
// Asymmetric only: a JWKS public key can never be (mis)used as an HMAC secret.
const JWKS_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA', 'Ed25519'];
const DEFAULT_SESSION_TTL_MS = 8 * 3_600_000;
const MAX_USED_LOGIN_TOKENS = 10_000;

export interface AuthenticatorOptions {
  auth: AuthConfig;
  /** Known agent profile names; a function when the config may be reloaded. */
  agents: readonly string[] | (() => readonly string[]);
  /**
   * Base URL clients reach the gateway at (trailing slash optional). A function when it is only
   * known once the listener is bound (port 0).
   */
  publicUrl: string | (() => string);
  audit: AuditLog;
  /** `gateway.state`: holds `login.key` when there is no JWT secret. */
  stateDir?: string;
  metrics?: Pick<Metrics, 'recordAuthFailure'>;
  /** Lifetime of the reviewer session cookie set by a login link. Default 8h. */
  sessionTtlMs?: number;
  now?: () => number;
  /** Used to fetch the JWKS. */
  fetch?: typeof fetch;
}

export interface Authenticator {
  /** The agent calling /mcp, or the 401/403 response to send instead. */
  identify(request: Request, remoteAddress?: string): Promise<HttpIdentity | Response>;
  /** The reviewer behind a request to the approvals page or API, or the 401/403 to send. */
  principal(request: Request, remoteAddress?: string, options?: PrincipalOptions): Promise<Principal | Response>;
  /** RFC 9728 metadata for `GET /.well-known/oauth-protected-resource`. */
  protectedResourceMetadata(): Record<string, unknown>;
  /** A single-use login-link token for a reviewer (default role: reviewer). */
  createLoginToken(name: string, ttlMs: number, roles?: readonly string[]): Promise<string>;
  /** `<publicUrl>/login?token=…` */
  loginUrl(token: string): string;
  /** `GET /login?token=…`: sets the session cookie and redirects to /approvals. */
  readonly loginHandler: Handler;
}

/** Why a request was refused; `reason` is the stable label used in audit and metrics. */
interface AuthFailure {
  status: 401 | 403 | 503;
  reason: string;
  message: string;
  tokenGiven: boolean;
  agent?: string;
}

class AuthProblem extends Error {
  constructor(readonly failure: AuthFailure) {
    super(failure.message);
  }
}

function problem(status: AuthFailure['status'], reason: string, message: string, extra: Partial<AuthFailure> = {}): AuthProblem {
  return new AuthProblem({ status, reason, message, tokenGiven: true, ...extra });
}

/** Maps a jose (or fetch) error to a reason a client can act on, never echoing the token. */
function classify(error: unknown, viaJwks = false): AuthProblem {
  if (error instanceof AuthProblem) return error;
  if (error instanceof errors.JWTExpired) return problem(401, 'expired', 'the token has expired');
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case 'nbf':
        return problem(401, 'not_yet_valid', 'the token is not valid yet (nbf is in the future)');
      case 'iat':
        return problem(401, 'not_yet_valid', 'the token was issued in the future (iat)');
      case 'iss':
        return problem(401, 'wrong_issuer', 'the token was issued by an issuer this gateway does not trust');
      case 'aud':
        return problem(401, 'wrong_audience', 'the token is not meant for this gateway (aud)');
      case 'exp':
        return problem(401, 'missing_expiry', 'the token has no expiry (exp); tokens must expire');
      default:
        return problem(401, 'invalid_claims', `the token's ${error.claim} claim is invalid`);
    }
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return problem(401, 'bad_signature', 'the token signature does not verify');
  if (error instanceof errors.JWKSNoMatchingKey) return problem(401, 'unknown_key', 'the token was signed with a key the issuer does not publish');
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return problem(401, 'alg_not_allowed', 'the token is signed with an algorithm this gateway does not accept');
  }
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid || error instanceof errors.JWKInvalid) {
    return problem(401, 'malformed', 'the token is not a well-formed signed JWT');
  }
  // The identity provider's key set could not be fetched: not the client's fault.
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JOSEError || (viaJwks && error instanceof TypeError)) {
    return problem(503, 'jwks_unavailable', 'the identity provider key set is unavailable; try again later');
  }
  return problem(401, 'invalid_token', 'the token could not be verified');
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

function readCookie(request: Request, name: string): string | undefined {
  const header = request.headers.get('cookie');
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function rolesOf(value: unknown): string[] {
  if (typeof value === 'string') return value.split(/[\s,]+/).filter((r) => r.length > 0);
  if (Array.isArray(value)) return value.filter((r): r is string => typeof r === 'string' && r.length > 0);
  return [];
}

function isReviewer(roles: readonly string[]): boolean {
  return roles.some((r) => REVIEWER_ROLES.includes(r));
}

function clip(value: string, max = 80): string {
  return value.length > max ? `${value.slice(0, max)}…` : value;
}

/** Refusals audited per remote address and minute; past that they are counted (see auditFailure). */
export const AUDITED_FAILURES_PER_MINUTE = 20;

export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const { auth, audit } = options;
  const now = options.now ?? Date.now;
  const publicUrlOption = options.publicUrl;
  const base = (): string => trimSlash(typeof publicUrlOption === 'function' ? publicUrlOption() : publicUrlOption);
  if (typeof publicUrlOption === 'string') new URL(publicUrlOption); // a bad publicUrl fails at startup
  const knownAgents = typeof options.agents === 'function' ? options.agents : () => options.agents as readonly string[];
  const sessionTtlMs = options.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS;
  const jwt = auth.mode === 'jwt' ? auth.jwt : undefined;
  if (auth.mode === 'jwt' && !jwt?.secret && !jwt?.jwks) throw new Error('auth.mode jwt needs jwt.secret (HS256) or jwt.jwks');

  const secretKey = jwt?.secret ? new TextEncoder().encode(jwt.secret) : undefined;
  const jwks: JWTVerifyGetKey | undefined = jwt?.jwks
    ? createRemoteJWKSet(new URL(jwt.jwks), options.fetch ? { [customFetch]: options.fetch as never } : {})
    : undefined;

  let loginKey: Uint8Array | undefined;
  const getLoginKey = () => (loginKey ??= loadLoginKey({ jwtSecret: auth.jwt?.secret, stateDir: options.stateDir ?? './.portcullis/' }));
  /** Login tokens already exchanged for a cookie (jti → expiry ms): each link works once. */
  const usedLogins = new Map<string, number>();

  /** Audited failures per remote address in the current minute (see auditFailure). */
  const failureWindows = new LRUCache<string, { start: number; audited: number; suppressed: number }>({ max: 10_000 });

  /**
   * Audits a refusal, at most AUDITED_FAILURES_PER_MINUTE per remote address and minute: a
   * client hammering the endpoint with bad tokens must not flood the audit log. Past the limit
   * one `throttled` line says so; later failures are only counted (metrics count every one),
   * and the first line of the address's next minute carries how many were left out.
   */
  function auditFailure(failure: AuthFailure, route: string, remote: string): void {
    const at = now();
    let window = failureWindows.get(remote);
    let leftOut = 0;
    if (!window || at - window.start >= 60_000) {
      leftOut = window?.suppressed ?? 0;
      window = { start: at, audited: 0, suppressed: 0 };
      failureWindows.set(remote, window);
    }
    if (window.audited > AUDITED_FAILURES_PER_MINUTE) {
      window.suppressed++;
      return;
    }
    window.audited++;
    const base = { event: 'auth.failed' as const, route, remote, status: failure.status };
    if (window.audited > AUDITED_FAILURES_PER_MINUTE) {
      window.suppressed++;
      audit.record({ ...base, outcome: 'throttled', reason: 'throttled', message: `more than ${AUDITED_FAILURES_PER_MINUTE} refusals from ${remote} this minute; further ones are counted, not logged` });
      return;
    }
    audit.record({
      ...base,
      outcome: failure.reason,
      reason: failure.reason,
      message: failure.message,
      ...(failure.agent === undefined ? {} : { agent: failure.agent }),
      ...(leftOut > 0 ? { notLogged: leftOut } : {}),
    });
  }

  function fail(failure: AuthFailure, route: string, remoteAddress: string | undefined): Response {
    auditFailure(failure, route, remoteAddress ?? 'unknown');
    options.metrics?.recordAuthFailure(failure.reason);
    const headers: Record<string, string> = { 'content-type': 'application/json', 'cache-control': 'no-store' };
    if (failure.status === 401) {
      headers['www-authenticate'] = `Bearer resource_metadata="${base()}/.well-known/oauth-protected-resource"${failure.tokenGiven ? `, error="invalid_token", error_description="${failure.message.replace(/["\\]/g, '')}"` : ''}`;
    }
    const error = failure.status === 401 ? (failure.tokenGiven ? 'invalid_token' : 'unauthorized') : failure.status === 403 ? 'forbidden' : 'unavailable';
    return new Response(JSON.stringify({ error, reason: failure.reason, message: failure.message }), { status: failure.status, headers });
  }

  /** The bearer token of the request; undefined when there is none. */
  function bearerToken(request: Request): string | undefined {
    const header = request.headers.get('authorization');
    if (header === null) return undefined;
    const max = jwt?.maxTokenBytes ?? 8_192;
    // Refuse before any parsing: a huge header must not cost a regex or a base64 decode.
    if (header.length > max + 32) throw problem(401, 'token_too_large', `the token is larger than ${max} bytes`);
    const m = /^Bearer[ \t]+([^\s]+)[ \t]*$/i.exec(header);
    if (!m) throw problem(401, 'malformed', 'expected an Authorization header of the form "Bearer <JWT>"');
    const token = m[1]!;
    if (Buffer.byteLength(token) > max) throw problem(401, 'token_too_large', `the token is larger than ${max} bytes`);
    return token;
  }

  async function verify(token: string): Promise<JWTPayload> {
    if (!jwt) throw problem(401, 'invalid_token', 'this gateway does not accept bearer tokens (auth.mode none)');
    const verifyOptions = {
      requiredClaims: ['exp'],
      clockTolerance: Math.round(jwt.clockTolerance / 1000),
      currentDate: new Date(now()),
      ...(jwt.issuer === undefined ? {} : { issuer: jwt.issuer }),
      ...(jwt.audience === undefined ? {} : { audience: jwt.audience }),
    };
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw problem(401, 'malformed', 'the token is not a well-formed signed JWT');
    }
    let viaJwks = false;
    try {
      // Each key is pinned to its own algorithm family (no HS/RS confusion, no alg none).
      if (secretKey && (alg === 'HS256' || !jwks)) {
        return (await jwtVerify(token, secretKey, { ...verifyOptions, algorithms: HS_ALGORITHMS })).payload;
      }
      viaJwks = true;
      return (await jwtVerify(token, jwks!, { ...verifyOptions, algorithms: JWKS_ALGORITHMS })).payload;
    } catch (error) {
      throw classify(error, viaJwks);
    }
  }

  async function identifyOrThrow(request: Request, remoteAddress: string | undefined): Promise<HttpIdentity> {
    if (auth.mode === 'none') {
      if (remoteAddress === undefined || !isLoopbackHost(remoteAddress)) {
        throw new AuthProblem({ status: 403, reason: 'not_loopback', message: 'auth.mode none serves loopback clients only', tokenGiven: false });
      }
      return { agent: 'default', claims: undefined, modernSessionKey: 'default' };
    }
    const token = bearerToken(request);
    if (token === undefined) throw new AuthProblem({ status: 401, reason: 'missing_token', message: 'send Authorization: Bearer <JWT>', tokenGiven: false });
    const claims = await verify(token);
    const agentClaim = jwt!.agentClaim;
    const agent = claims[agentClaim];
    if (typeof agent !== 'string' || agent.length === 0) throw problem(401, 'missing_agent_claim', `the token has no "${agentClaim}" claim naming the agent`);
    if (!knownAgents().includes(agent)) throw problem(403, 'unknown_agent', `no agent profile named "${clip(agent)}"`, { agent: clip(agent) });
    const key = typeof claims.sid === 'string' && claims.sid ? `sid:${claims.sid}` : typeof claims.jti === 'string' && claims.jti ? `jti:${claims.jti}` : undefined;
    // Prefixed with the agent: two agents' tokens can never share a session.
    return { agent, claims: Object.freeze({ ...claims }), modernSessionKey: key ? `${agent}/${key}` : agent };
  }

  async function principalOrThrow(request: Request, remoteAddress: string | undefined, anyRole: boolean): Promise<Principal> {
    if (auth.mode === 'jwt' && request.headers.has('authorization')) {
      const token = bearerToken(request)!;
      const claims = await verify(token);
      const name = typeof claims.sub === 'string' && claims.sub ? claims.sub : claims[jwt!.agentClaim];
      if (typeof name !== 'string' || !name) throw problem(401, 'missing_subject', 'the token names no subject (sub)');
      const roles = rolesOf(claims[jwt!.roleClaim]);
      const agent = claims[jwt!.agentClaim];
      const isAgent = typeof agent === 'string' && knownAgents().includes(agent) ? agent : undefined;
      if (!anyRole && !isReviewer(roles)) throw problem(403, 'not_reviewer', `the token carries neither the reviewer nor the admin role in "${jwt!.roleClaim}"`, { agent: clip(name) });
      return { name, roles, ...(isAgent === undefined ? {} : { isAgent }) };
    }
    const cookie = readCookie(request, SESSION_COOKIE);
    let cookieProblem: AuthProblem | undefined;
    if (cookie) {
      try {
        const session = await verifyLoginToken(getLoginKey(), 'session', cookie, now());
        if (anyRole || isReviewer(session.roles)) return { name: session.name, roles: session.roles };
        cookieProblem = problem(403, 'not_reviewer', 'the session carries no reviewer role');
      } catch (error) {
        const c = classify(error).failure;
        cookieProblem = problem(401, 'bad_session', `the session cookie is invalid (${c.reason}); open a new login link`);
      }
    }
    if (auth.mode === 'none' && remoteAddress !== undefined && isLoopbackHost(remoteAddress)) return { name: 'local', roles: ['admin', 'reviewer'] };
    if (cookieProblem) throw cookieProblem;
    if (auth.mode === 'none') throw new AuthProblem({ status: 403, reason: 'not_loopback', message: 'auth.mode none serves loopback reviewers only, or a login link', tokenGiven: false });
    throw new AuthProblem({ status: 401, reason: 'missing_token', message: 'send Authorization: Bearer <JWT> with the reviewer role, or open a login link', tokenGiven: false });
  }

  function rememberLogin(jti: string, expMs: number): boolean {
    const t = now();
    if (usedLogins.has(jti)) return false;
    if (usedLogins.size >= MAX_USED_LOGIN_TOKENS) {
      for (const [k, exp] of usedLogins) if (exp <= t) usedLogins.delete(k);
      // Still full: forget the oldest (insertion order); it expires soon anyway.
      if (usedLogins.size >= MAX_USED_LOGIN_TOKENS) usedLogins.delete(usedLogins.keys().next().value!);
    }
    usedLogins.set(jti, expMs);
    return true;
  }

  const loginHandler: Handler = async function loginRoute(c) {
    const remote = remoteAddressOf(c);
    const token = c.req.query('token');
    const refuse = (reason: string, message: string) => {
      fail({ status: 401, reason, message, tokenGiven: token !== undefined }, 'login', remote);
      return c.text(`${message}. Ask for a new link: portcullis token --login --reviewer NAME\n`, 401, { 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
    };
    if (!token) return refuse('missing_token', 'This login link has no token');
    if (token.length > 4_096) return refuse('token_too_large', 'This login link is too long');
    let login;
    try {
      login = await verifyLoginToken(getLoginKey(), 'login', token, now());
    } catch (error) {
      const f = classify(error).failure;
      return refuse(f.reason, f.reason === 'expired' ? 'This login link has expired' : 'This login link is invalid');
    }
    if (!rememberLogin(login.jti, login.exp * 1000)) return refuse('login_reused', 'This login link was already used');
    const session = await signLoginToken(getLoginKey(), 'session', { name: login.name, roles: login.roles, ttlMs: sessionTtlMs, now: now() });
    const secure = base().startsWith('https:') ? '; Secure' : '';
    return new Response(null, {
      status: 303,
      headers: {
        location: '/approvals',
        'set-cookie': `${SESSION_COOKIE}=${session}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(sessionTtlMs / 1000)}${secure}`,
        'cache-control': 'no-store',
        'referrer-policy': 'no-referrer',
      },
    });
  };

  return {
    async identify(request, remoteAddress) {
      try {
        return await identifyOrThrow(request, remoteAddress);
      } catch (error) {
        return fail(classify(error).failure, 'mcp', remoteAddress);
      }
    },
    async principal(request, remoteAddress, principalOptions) {
      try {
        return await principalOrThrow(request, remoteAddress, principalOptions?.anyRole ?? false);
      } catch (error) {
        return fail(classify(error).failure, 'reviewer', remoteAddress);
      }
    },
    protectedResourceMetadata() {
      const publicUrl = base();
      return {
        resource: `${publicUrl}/mcp`,
        authorization_servers: jwt?.issuer ? [jwt.issuer] : [],
        bearer_methods_supported: ['header'],
        resource_name: 'Portcullis MCP gateway',
        resource_documentation: `${publicUrl}/`,
        scopes_supported: [],
      };
    },
    createLoginToken(name, ttlMs, roles = ['reviewer']) {
      return signLoginToken(getLoginKey(), 'login', { name, roles, ttlMs, now: now() });
    },
    loginUrl(token) {
      return `${base()}/login?token=${encodeURIComponent(token)}`;
    },
    loginHandler,
  };
}

export type ReviewerEnv = { Variables: { principal: Principal } };

/** `(c) => principal`, for routes that take an authorize function (the approvals routes). */
export function principalOf(authenticator: Pick<Authenticator, 'principal'>, options: PrincipalOptions = {}): (c: Context) => Promise<Principal | Response> {
  return (c) => authenticator.principal(c.req.raw, remoteAddressOf(c), options);
}

/**
 * Middleware for reviewer routes: sets `c.var.principal` or answers 401/403. With `admin: true`
 * only principals holding the admin role pass (pins, lockdown); with `anyRole: true` role-less
 * principals (owners, agents marked `isAgent`) pass too and the route decides.
 */
export function requireReviewer(authenticator: Pick<Authenticator, 'principal'>, options: PrincipalOptions & { admin?: boolean } = {}): MiddlewareHandler<ReviewerEnv> {
  return async function reviewerMiddleware(c, next) {
    const who = await authenticator.principal(c.req.raw, remoteAddressOf(c), { anyRole: options.anyRole ?? false });
    if (who instanceof Response) return who;
    if (options.admin && !who.roles.includes('admin')) return c.json({ error: 'forbidden', reason: 'not_admin', message: 'this action needs the admin role' }, 403);
    c.set('principal', who);
    await next();
    return undefined;
  };
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * CSRF guard for state-changing reviewer requests: they must carry `X-Portcullis-CSRF: 1` or a
 * JSON body (neither can be sent cross-site without a CORS preflight), and a browser's Origin,
 * when present, must be this host.
 */
export function requireCsrf(options: { allowedOrigins?: readonly string[] } = {}): MiddlewareHandler {
  const allowed = new Set((options.allowedOrigins ?? []).map((o) => new URL(o).origin));
  return async function csrfMiddleware(c, next) {
    if (SAFE_METHODS.has(c.req.method)) {
      await next();
      return undefined;
    }
    const marked = c.req.header(CSRF_HEADER) === '1';
    const json = /^application\/json\s*(;|$)/i.test(c.req.header('content-type') ?? '');
    if (!marked && !json) {
      return c.json({ error: 'forbidden', reason: 'csrf', message: `state-changing requests need the header X-Portcullis-CSRF: 1 or a JSON body` }, 403);
    }
    const origin = c.req.header('origin');
    if (origin !== undefined) {
      let same = false;
      try {
        const o = new URL(origin);
        same = o.host === c.req.header('host') || allowed.has(o.origin);
      } catch {
        same = false;
      }
      if (!same) return c.json({ error: 'forbidden', reason: 'csrf', message: 'cross-origin request refused' }, 403);
    }
    await next();
    return undefined;
  };
}
