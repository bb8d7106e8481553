import { describe, expect, it } from 'vitest';
import { isLoopbackHost, parseListen } from '../../src/config/index.js';
import { describeToken } from '../../src/config/tokens.js';

describe('describeToken', () => {
  it.each([
    ['sk-proj-4fT9xQ2mL7vB1nZ8wR3yK6', 'an API key (sk-…)'],
    ['sk-ant-api03-Zx8Qm2Lr7Vb4Nt1Wy5Cd', 'an API key (sk-…)'],
    ['ghp_R8x2Kq9LmZ4vB7nT1wY5cD3fH6jP0sA2eG8u', 'a GitHub token'],
    ['github_pat_11ABCDEFG0123456789_abcdefghijklmnop', 'a GitHub token'],
    ['xoxb-1234567890-abcdefghij', 'a Slack token'],
    ['AKIAIOSFODNN7EXAMPLE', 'an AWS access key id'],
    ['eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.sig-part_1', 'a JWT'],
    ['Bearer q8Zr2LmX7vB4nT1wY5cD3fH6', 'a bearer token'],
    ['token e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'a long random token'],
    ['q8Zr2LmX7vB4nT1wY5cD3fH6jP0sA2eG', 'a long random token'],
  ])('recognises %s as %s', (text, kind) => {
    expect(describeToken(text)).toBe(kind);
  });

  it.each([
    'debug',
    'changeme',
    '/usr/local/lib/node_modules/portcullis/dist/main.js',
    'https://idp.example.com/.well-known/jwks.json',
    'ThisIsAVeryLongCamelCaseIdentifierName',
    'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
    '123e4567-e89b-12d3-a456-426614174000',
    'task-runner-for-the-documentation-site',
    'Bearer ',
  ])('does not flag %s', (text) => {
    expect(describeToken(text)).toBeUndefined();
  });

  it('ignores long random runs when only prefixed shapes count', () => {
    expect(describeToken('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', { generic: false })).toBeUndefined();
    expect(describeToken('--token=ghp_R8x2Kq9LmZ4vB7nT1wY5cD3fH6jP0sA2eG8u', { generic: false })).toBe('a GitHub token');
  });
});

describe('listen addresses', () => {
  it.each([
    ['127.0.0.1:8787', '127.0.0.1', 8787],
    ['[::1]:9000', '::1', 9000],
    ['localhost:80', 'localhost', 80],
    ['8787', '127.0.0.1', 8787],
  ])('parses %s as host %s port %d', (listen, host, port) => {
    expect(parseListen(listen)).toEqual({ host, port });
  });

  it.each([
    ['127.0.0.1', true],
    ['127.255.0.9', true],
    ['::1', true],
    ['0:0:0:0:0:0:0:1', true],
    ['::ffff:127.0.0.1', true],
    ['LOCALHOST', true],
    ['0.0.0.0', false],
    ['::', false],
    ['128.0.0.1', false],
    ['127.0.0.1.nip.io', false],
    ['localhost.example.com', false],
    ['::ffff:10.0.0.1', false],
  ])('treats %s as loopback: %s', (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });
});
