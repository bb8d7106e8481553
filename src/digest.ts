/** SHA-256 of a text, in hex: the one digest the gateway writes (audit arguments, pins, config versions). */
import * as crypto from 'node:crypto';

/** The one-shot `crypto.hash` (Node ≥ 20.12) skips building a Hash object; older Node 20 lacks it. */
const oneShot: typeof crypto.hash | undefined = typeof crypto.hash === 'function' ? crypto.hash : undefined;

export function sha256Hex(text: string): string {
  return oneShot ? oneShot('sha256', text, 'hex') : crypto.createHash('sha256').update(text).digest('hex');
}
