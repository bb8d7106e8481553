/**
 * Which gateway the gateway-talking commands (approvals, call, lockdown, pins, undo) reach.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_GATEWAY_URL, gatewayTarget, type CliIo } from '../../src/cli/command-io.js';

const ioWith = (env: Record<string, string | undefined>): CliIo => ({ out: () => {}, err: () => {}, env, now: () => 0 });

describe('the gateway a command talks to', () => {
  it('takes --url and --token over the environment, and the environment over the default', () => {
    const env = { PORTCULLIS_URL: 'http://gw.example:9000', PORTCULLIS_TOKEN: 'from-env' };
    expect(gatewayTarget(ioWith(env), { url: 'http://flag.example:1', token: 'from-flag' })).toEqual({ base: 'http://flag.example:1', token: 'from-flag' });
    expect(gatewayTarget(ioWith(env), {})).toEqual({ base: 'http://gw.example:9000', token: 'from-env' });
    expect(gatewayTarget(ioWith({}), {})).toEqual({ base: DEFAULT_GATEWAY_URL, token: undefined });
  });

  it.each([
    ['http://127.0.0.1:8787/', 'http://127.0.0.1:8787'],
    ['http://127.0.0.1:8787/mcp', 'http://127.0.0.1:8787'],
    ['http://127.0.0.1:8787/mcp/', 'http://127.0.0.1:8787'],
    ['https://gw.example/base', 'https://gw.example/base'],
  ])('uses %s as the base %s, whether or not it names the MCP endpoint', (url, base) => {
    expect(gatewayTarget(ioWith({}), { url }).base).toBe(base);
  });
});
