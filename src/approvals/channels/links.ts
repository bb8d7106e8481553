/**
 * Signed one-time approve/deny links (`/a/:token`): an HS256 JWT naming the request, the
 * decision and a random jti, expiring with the request. Single use is enforced by the store
 * (used jti), not here.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT, errors, jwtVerify } from 'jose';
import { GatewayError } from '../../errors.js';
import { writeAtomically } from '../store.js';

const AUDIENCE = 'portcullis:approval-link';
export const MIN_LINK_SECRET_BYTES = 32;

export interface LinkClaims {
  requestId: string;
  decision: 'approve' | 'deny';
  jti: string;
  /** Expiry, milliseconds since the epoch. */
  exp: number;
}

/** Why a link was refused; the routes turn it into a page and status. */
export type LinkProblem = 'invalid' | 'expired' | 'used' | 'decided' | 'not-found';

export function linkError(problem: LinkProblem, message: string): GatewayError {
  const code = problem === 'not-found' ? 'NOT_FOUND' : problem === 'invalid' ? 'FORBIDDEN' : 'CONFLICT';
  return new GatewayError(code, message, { data: { link: problem } });
}

export interface LinkSigner {
  sign(requestId: string, decision: 'approve' | 'deny', expiresAt: number): Promise<string>;
  /** Checks signature, audience and expiry; throws a link error otherwise. */
  verify(token: string): Promise<LinkClaims>;
}

export function createLinkSigner(secret: Uint8Array, now: () => number): LinkSigner {
  if (secret.byteLength < MIN_LINK_SECRET_BYTES) throw new GatewayError('CONFIG_INVALID', `the approval link secret must be at least ${MIN_LINK_SECRET_BYTES} bytes`);
  const key = new Uint8Array(secret);
  return {
    async sign(requestId, decision, expiresAt) {
      return new SignJWT({ rid: requestId, d: decision })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setAudience(AUDIENCE)
        .setIssuedAt(Math.floor(now() / 1000))
        .setExpirationTime(Math.ceil(expiresAt / 1000))
        .setJti(randomBytes(16).toString('base64url'))
        .sign(key);
    },
    async verify(token) {
      try {
        const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'], audience: AUDIENCE, currentDate: new Date(now()), clockTolerance: 0 });
        const { rid, d, jti, exp } = payload;
        if (typeof rid !== 'string' || (d !== 'approve' && d !== 'deny') || typeof jti !== 'string' || typeof exp !== 'number') {
          throw linkError('invalid', 'This approval link is not valid.');
        }
        return { requestId: rid, decision: d, jti, exp: exp * 1000 };
      } catch (error) {
        if (error instanceof GatewayError) throw error;
        if (error instanceof errors.JWTExpired) throw linkError('expired', 'This approval link has expired.');
        throw linkError('invalid', 'This approval link is not valid (it may have been altered or cut off).');
      }
    },
  };
}

/**
 * The link-signing key kept in the state folder (created once, 0600), so links sent before a
 * restart still work after it.
 */
export function loadOrCreateLinkSecret(stateDir: string): Uint8Array {
  const file = join(stateDir, 'approval-link.key');
  if (existsSync(file)) {
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64url');
    if (key.byteLength >= MIN_LINK_SECRET_BYTES) return new Uint8Array(key);
  }
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(MIN_LINK_SECRET_BYTES);
  writeAtomically(file, key.toString('base64url'));
  return new Uint8Array(key);
}
