import { describe, expect, it } from 'vitest';
import { ERROR_CODES, GatewayError, asGatewayError, httpStatusOf, toJsonRpcError, type ErrorCode } from '../src/errors.js';

const CODES = Object.keys(ERROR_CODES) as ErrorCode[];

describe('GatewayError codes', () => {
  it.each(CODES)('maps %s to a JSON-RPC error code and an HTTP error status', (code) => {
    const error = new GatewayError(code, 'message');
    expect(Number.isInteger(toJsonRpcError(error).code)).toBe(true);
    expect(toJsonRpcError(error).code).toBeLessThan(0);
    expect(httpStatusOf(error)).toBeGreaterThanOrEqual(400);
    expect(httpStatusOf(error)).toBeLessThan(600);
  });

  it('has unique names, and tells an upstream outage from a client mistake', () => {
    expect(new Set(CODES).size).toBe(CODES.length);
    // An upstream outage is never reported as the client's fault (4xx).
    for (const code of ['UPSTREAM_UNAVAILABLE', 'UPSTREAM_TIMEOUT', 'UPSTREAM_ERROR'] as const) {
      expect(httpStatusOf(new GatewayError(code, 'x'))).toBeGreaterThanOrEqual(500);
    }
  });

  it('relays an upstream JSON-RPC error with its own code and data', () => {
    const relayed = new GatewayError('UPSTREAM_ERROR', 'nope', { relayed: { code: -32602, data: { uri: 'x://y' } } });
    expect(toJsonRpcError(relayed)).toEqual({ code: -32602, message: 'nope', data: { uri: 'x://y' } });
  });

  it('keeps resource-not-found data exactly { uri } so clients recognise it', () => {
    expect(toJsonRpcError(new GatewayError('UNKNOWN_RESOURCE', 'unknown resource: a://b', { data: { uri: 'a://b' } })).data).toEqual({ uri: 'a://b' });
  });

  it('turns an unknown thrown value into a generic internal error without its message', () => {
    const error = asGatewayError(new Error('secret detail'));
    expect(error.code).toBe('INTERNAL');
    expect(error.message).not.toContain('secret detail');
  });
});
