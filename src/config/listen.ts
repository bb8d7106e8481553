/** `gateway.listen` addresses, and which of them are loopback-only. */
import { isIPv4 } from 'node:net';

export const DEFAULT_LISTEN = '127.0.0.1:8787';

/**
 * Splits `host:port`, `[v6]:port` or a bare port. A bare port means loopback (127.0.0.1), never
 * every interface: exposing the gateway must be written out.
 */
export function parseListen(listen: string = DEFAULT_LISTEN): { host: string; port: number } {
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(listen);
  if (bracketed) return { host: bracketed[1]!, port: Number(bracketed[2]) };
  const colon = listen.lastIndexOf(':');
  if (colon < 0) return { host: '127.0.0.1', port: Number(listen) };
  return { host: listen.slice(0, colon), port: Number(listen.slice(colon + 1)) };
}

/** True for 127.0.0.0/8, ::1 (and its IPv4-mapped and long forms) and `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === 'localhost.') return true;
  if (isIPv4(h)) return h.startsWith('127.');
  if (h === '::1' || /^(?:0{1,4}:){7}0{0,3}1$/.test(h)) return true;
  const mapped = /^(?:0{1,4}:){0,5}:?ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h) ?? /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  return mapped !== null && isIPv4(mapped[1]!) && mapped[1]!.startsWith('127.');
}
