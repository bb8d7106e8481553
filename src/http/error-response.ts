/** A GatewayError (or anything thrown) as the JSON error body of an HTTP API response. */
import { asGatewayError, httpStatusOf } from '../errors.js';

export function errorResponse(error: unknown): Response {
  const e = asGatewayError(error);
  const body = { error: { code: e.code, message: e.message, ...(e.data ? { data: e.data } : {}) } };
  return new Response(JSON.stringify(body), { status: httpStatusOf(e), headers: { 'content-type': 'application/json' } });
}
