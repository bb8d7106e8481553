/** The peer address of an HTTP request, as the Node server saw it (never a forwarded header). */
import type { Context } from 'hono';

/** The socket's remote address, or undefined when the request did not come through a Node socket. */
export function remoteAddressOf(c: Context): string | undefined {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress;
}
