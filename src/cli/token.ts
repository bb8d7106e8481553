/**
 * `portcullis token --sub NAME [--role reviewer|admin] [--ttl DUR] [--claim K=V ...] [-c FILE]`:
 * mints an HS256 JWT with the configured `gateway.auth.jwt.secret`, for development and scripts.
 * `--login --reviewer NAME` prints a single-use login link for the approvals page instead.
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { SignJWT } from 'jose';
import { parseDuration, type Config } from '../config/index.js';
import { loadLoginKey, signLoginToken } from '../http/login.js';
import { errorText, EXIT, loadConfigOrExit, parseCommand, processIo, usageError, type CliIo } from './command-io.js';

const HELP = `usage: portcullis token --sub NAME [--role reviewer|admin] [--ttl DUR] [--claim K=V ...] [-c FILE]
       portcullis token --login --reviewer NAME [--role admin] [--ttl DUR] [-c FILE]

Mints a JWT signed with gateway.auth.jwt.secret (HS256) and prints it. The agent claim
(gateway.auth.jwt.agentClaim, default sub) is set to NAME, roles go in the role claim, and the
configured issuer and audience are included.

  --sub NAME         the agent profile (or reviewer) the token is for
  --role ROLE        reviewer or admin; repeat for both
  --ttl DUR          lifetime (default 1h; 10m for --login)
  --claim K=V        an extra string claim, e.g. --claim channel=C123; K:=JSON for other types
  --login            print a single-use login link <publicUrl>/login?token=… that sets a reviewer
                     session cookie (works without a JWT secret: uses gateway.state/login.key)
  --reviewer NAME    the reviewer the login link is for
  -c, --config FILE  config file (default: portcullis.yaml)
`;

const ROLES = ['reviewer', 'admin'];
const RESERVED = new Set(['iss', 'aud', 'exp', 'nbf', 'iat']);

/** Where reviewers reach the gateway: gateway.publicUrl, else the listen address. */
export function publicBaseUrl(config: Readonly<Config>): string {
  if (config.gateway.publicUrl) return config.gateway.publicUrl.replace(/\/+$/, '');
  const listen = config.gateway.listen ?? '127.0.0.1:8787';
  return `http://${/^\d+$/.test(listen) ? `127.0.0.1:${listen}` : listen}`;
}

function parseClaims(pairs: readonly string[]): Record<string, unknown> | string {
  const claims: Record<string, unknown> = {};
  for (const pair of pairs) {
    const typed = /^([^=:]+):=(.*)$/s.exec(pair);
    const plain = /^([^=]+)=(.*)$/s.exec(pair);
    if (typed) {
      try {
        claims[typed[1]!] = JSON.parse(typed[2]!);
      } catch {
        return `--claim ${pair}: the value after := must be JSON`;
      }
    } else if (plain) {
      claims[plain[1]!] = plain[2]!;
    } else {
      return `--claim ${pair}: write KEY=VALUE (a string) or KEY:=JSON`;
    }
  }
  for (const key of Object.keys(claims)) if (RESERVED.has(key)) return `--claim ${key}: set by the token command itself (from the config and --ttl)`;
  return claims;
}

export async function tokenCommand(argv: string[], io: CliIo = processIo()): Promise<number> {
  const parsed = parseCommand(io, 'token', argv, {
    sub: { type: 'string' },
    role: { type: 'string', multiple: true, default: [] },
    ttl: { type: 'string' },
    claim: { type: 'string', multiple: true, default: [] },
    login: { type: 'boolean', default: false },
    reviewer: { type: 'string' },
    config: { type: 'string', short: 'c', default: 'portcullis.yaml' },
  }, HELP);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (positionals.length > 0) return usageError(io, 'token', `unexpected argument '${positionals[0]}'`, HELP);
  const roles = [...new Set(values.role)];
  const badRole = roles.find((r) => !ROLES.includes(r));
  if (badRole) return usageError(io, 'token', `unknown --role '${badRole}': use reviewer or admin`, HELP);
  const ttlMs = values.ttl === undefined ? (values.login ? 10 * 60_000 : 3_600_000) : parseDuration(values.ttl);
  if (ttlMs === undefined || ttlMs <= 0) return usageError(io, 'token', `bad --ttl '${values.ttl}': write a duration such as 30m, 8h, 7d`, HELP);

  if (values.login) {
    const name = values.reviewer ?? values.sub;
    if (!name) return usageError(io, 'token', '--login needs --reviewer NAME', HELP);
    if (values.claim.length > 0) return usageError(io, 'token', '--claim does not apply to login links', HELP);
    const loaded = await loadConfigOrExit(io, 'token', values.config);
    if (typeof loaded === 'number') return loaded;
    const { config } = loaded;
    try {
      const key = loadLoginKey({ jwtSecret: config.gateway.auth.jwt?.secret, stateDir: resolve(config.gateway.state) });
      const token = await signLoginToken(key, 'login', { name, roles: roles.length > 0 ? roles : ['reviewer'], ttlMs, now: io.now() });
      io.out(`${publicBaseUrl(config)}/login?token=${encodeURIComponent(token)}\n`);
      return EXIT.OK;
    } catch (error) {
      io.err(`portcullis token: cannot create a login link: ${errorText(error)}\n`);
      return EXIT.CANNOT_RUN;
    }
  }

  if (!values.sub) return usageError(io, 'token', '--sub NAME is required (the agent profile or reviewer the token is for)', HELP);
  if (values.reviewer !== undefined) return usageError(io, 'token', '--reviewer goes with --login; for a reviewer bearer token use --sub NAME --role reviewer', HELP);
  const extra = parseClaims(values.claim);
  if (typeof extra === 'string') return usageError(io, 'token', extra, HELP);
  const loaded = await loadConfigOrExit(io, 'token', values.config);
  if (typeof loaded === 'number') return loaded;
  const jwt = loaded.config.gateway.auth.jwt;
  if (!jwt?.secret) {
    io.err(
      `portcullis token: ${values.config} has no gateway.auth.jwt.secret, so there is no HS256 key to sign with.\n` +
        `  set gateway.auth.jwt.secret: \${env:PORTCULLIS_JWT_SECRET}${jwt?.jwks ? ', or get tokens from the identity provider behind gateway.auth.jwt.jwks' : ''}\n`,
    );
    return EXIT.CANNOT_RUN;
  }
  const now = Math.floor(io.now() / 1000);
  const payload: Record<string, unknown> = { ...extra, [jwt.agentClaim]: values.sub };
  if (roles.length > 0) payload[jwt.roleClaim] = roles;
  let builder = new SignJWT(payload)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(typeof extra.sub === 'string' ? extra.sub : values.sub)
    .setIssuedAt(now)
    .setExpirationTime(now + Math.ceil(ttlMs / 1000));
  if (extra.jti === undefined) builder = builder.setJti(randomUUID());
  if (jwt.issuer !== undefined) builder = builder.setIssuer(jwt.issuer);
  if (jwt.audience !== undefined) builder = builder.setAudience(jwt.audience);
  io.out(`${await builder.sign(new TextEncoder().encode(jwt.secret))}\n`);
  return EXIT.OK;
}
