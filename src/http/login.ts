/**
 * Reviewer login links and session cookies: short-lived HS256 tokens signed with the login key.
 * The key is derived from `auth.jwt.secret` when there is one (so `portcullis token --login` and
 * the gateway agree without sharing a file), else it is a random key kept in the state folder as
 * `login.key` (0600). Login and session tokens carry their own audience, so neither is ever
 * accepted as a bearer token for /mcp, nor one for the other.
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT, jwtVerify } from 'jose';

export const LOGIN_KEY_FILE = 'login.key';
export const SESSION_COOKIE = 'portcullis_session';
const ISSUER = 'portcullis';
export type LoginTokenUse = 'login' | 'session';
const AUDIENCE: Record<LoginTokenUse, string> = { login: 'portcullis-login', session: 'portcullis-session' };

export interface LoginClaims {
  name: string;
  roles: string[];
  jti: string;
  /** Expiry, seconds since the epoch. */
  exp: number;
}

/**
 * The key that signs login links and session cookies. With a JWT secret it is an HMAC of it
 * (key separation: a token signed for one purpose never verifies for the other); without one it
 * is read from, or created in, `<stateDir>/login.key`.
 */
export function loadLoginKey(options: { jwtSecret?: string | undefined; stateDir: string }): Uint8Array {
  if (options.jwtSecret) return new Uint8Array(createHmac('sha256', options.jwtSecret).update('portcullis/login-key/v1').digest());
  const file = join(options.stateDir, LOGIN_KEY_FILE);
  const existing = readKeyFile(file);
  if (existing) return existing;
  mkdirSync(options.stateDir, { recursive: true, mode: 0o700 });
  try {
    // 'wx': if another process created it meanwhile, use theirs.
    writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const created = readKeyFile(file);
  if (!created) throw new Error(`cannot read the login key ${file}`);
  return created;
}

function readKeyFile(file: string): Uint8Array | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const key = Buffer.from(text, 'base64url');
  if (key.length < 32) throw new Error(`the login key ${file} is shorter than 32 bytes: delete it to create a new one`);
  return new Uint8Array(key);
}

/** Signs a login-link or session token for a reviewer. */
export async function signLoginToken(key: Uint8Array, use: LoginTokenUse, subject: { name: string; roles: readonly string[]; ttlMs: number; now?: number }): Promise<string> {
  const now = Math.floor((subject.now ?? Date.now()) / 1000);
  return new SignJWT({ roles: [...subject.roles] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(subject.name)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE[use])
    .setIssuedAt(now)
    .setExpirationTime(now + Math.max(1, Math.ceil(subject.ttlMs / 1000)))
    .setJti(randomUUID())
    .sign(key);
}

/** Verifies a login-link or session token; throws jose errors on any problem. */
export async function verifyLoginToken(key: Uint8Array, use: LoginTokenUse, token: string, now?: number): Promise<LoginClaims> {
  const { payload } = await jwtVerify(token, key, {
    algorithms: ['HS256'],
    issuer: ISSUER,
    audience: AUDIENCE[use],
    requiredClaims: ['exp', 'sub', 'jti'],
    ...(now === undefined ? {} : { currentDate: new Date(now) }),
  });
  const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === 'string') : [];
  return { name: payload.sub!, roles, jti: payload.jti!, exp: payload.exp! };
}
