/** The Caller a front builds for one client request, from how it can reach that client. */
import { CLIENT_CANCELLED, type Caller } from '../pipeline.js';
import type { Session } from '../session.js';
import type { ClientRequestMethod } from '../upstream/connection.js';

/** How long the client behind a call may take to answer a question (sampling, elicitation, roots). */
const ASK_TIMEOUT_MS = 10 * 60_000;

export interface ClientChannel {
  /** Sends a notification related to the request. */
  notify(method: string, params: Record<string, unknown>): Promise<void>;
  /** Asks the client something; absent when the client cannot be asked mid-request (2026-07-28). */
  request?(method: ClientRequestMethod, params: Record<string, unknown>, options: { signal: AbortSignal; timeout: number }): Promise<Record<string, unknown>>;
}

/** Progress only when the client gave a progress token; notifications never fail the call. */
export function callerOf(session: Session, signal: AbortSignal, progressToken: unknown, channel: ClientChannel): Caller {
  const caller: Caller = {
    session,
    signal,
    notify: (method, params) => void channel.notify(method, params).catch(() => undefined),
  };
  if (typeof progressToken === 'string' || typeof progressToken === 'number') {
    caller.progress = (p) => channel.notify('notifications/progress', { progressToken, ...p }).catch(() => undefined);
  }
  const request = channel.request;
  if (request) caller.ask = (method, params, askSignal) => request(method, params, { signal: askSignal, timeout: ASK_TIMEOUT_MS });
  return caller;
}

/** A signal that aborts when `signal` does, with the gateway's own reason (see `Caller.signal`). */
export function ownSignal(signal: AbortSignal): AbortSignal {
  const own = new AbortController();
  if (signal.aborted) own.abort(new Error(CLIENT_CANCELLED));
  else signal.addEventListener('abort', () => own.abort(new Error(CLIENT_CANCELLED)), { once: true });
  return own.signal;
}
