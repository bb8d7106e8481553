import { describe, expect, it } from 'vitest';
import { canonicalHost, canonicalPath, canonicalUrl, hostMatches, isUnder, MAX_PATH_LENGTH } from '../../src/policy/canonical.js';

describe('canonicalPath', () => {
  it.each<[string, string | undefined, string]>([
    ['/a/b', '/a/b', 'keeps a plain absolute path'],
    ['/a//b/', '/a/b', 'collapses repeated separators and drops a trailing one'],
    ['/a/./b', '/a/b', 'drops . segments'],
    ['/a/b/..', '/a', 'resolves ..'],
    ['/', '/', 'keeps root'],
    ['a/b', 'a/b', 'keeps a relative path relative'],
    ['./a', 'a', 'drops a leading ./'],
    ['a/..', '.', 'writes an empty relative path as .'],
    ['.', '.', 'keeps .'],
    ['\\a\\b', '/a/b', 'treats backslash as a separator'],
    ['/a%2fb', '/a/b', 'decodes an encoded slash into a separator'],
    ['/a/%2e%2e/b', '/b', 'decodes %2e%2e into ..'],
    ['/a/%252e%252e', '/a/%252e%252e', 'decodes once: %252e%252e is the literal name %2e%2e (its % written back as %25)'],
    ['/a/100%25', '/a/100%25', 'writes a decoded % back as %25'],
    ['/a/%E6%97%A5', '/a/\u65e5', 'decodes UTF-8'],
    ['/\u00e9t\u00e9', '/\u00e9t\u00e9', 'keeps non-ASCII letters'],
    ['/Marketing', '/Marketing', 'is case-sensitive'],
    ['C:\\x', 'C:/x', 'treats a drive letter as an ordinary relative segment'],
    ['~/x', '~/x', 'does not expand ~'],
    ['/a/..hidden', '/a/..hidden', 'keeps names that merely start with ..'],
  ])('canonicalises %j to %j (%s)', (input, output) => {
    expect(canonicalPath(input)).toBe(output);
  });

  it.each<[string, string]>([
    ['', 'an empty path'],
    ['/..', 'a climb above root'],
    ['/a/../..', 'a climb above root after a segment'],
    ['..', 'a relative climb above the base'],
    ['C:/../x', 'a .. that pops a drive segment'],
    ['//a', 'a leading // (UNC or implementation-defined)'],
    ['\\\\server\\share', 'a UNC path'],
    ['/a/...', 'a dots-only segment other than . and ..'],
    ['/a/.. ', 'dots followed by a space'],
    ['/a/\u0000', 'NUL'],
    ['/a/%00', 'encoded NUL'],
    ['/a/\u0085', 'a C1 control'],
    ['/a/%', 'invalid percent-encoding'],
    ['/a/%c0%ae', 'overlong UTF-8'],
    ['/a\u2215b', 'a look-alike slash'],
    ['/a/\uff0e\uff0e', 'look-alike dots'],
    ['/a/\u200b', 'a zero-width space'],
    ['/a/\ud800', 'a lone surrogate'],
    [`/${'a'.repeat(MAX_PATH_LENGTH)}`, 'a path over the length limit'],
  ])('rejects %j (%s)', (input) => {
    expect(canonicalPath(input)).toBeUndefined();
  });
});

describe('isUnder', () => {
  it.each<[string, string, boolean]>([
    ['/marketing', '/marketing', true],
    ['/marketing/x', '/marketing', true],
    ['/marketing/x', '/marketing/', true],
    ['/marketing/x', '/marketing//', true],
    ['/marketing-evil', '/marketing', false],
    ['/marketingx', '/marketing', false],
    ['/marketing/../etc', '/marketing', false],
    ['/anything', '/', true],
    ['relative', '/', false],
    ['reports/q1', 'reports', true],
    ['/reports/q1', 'reports', false],
    ['q1', '.', true],
    ['/x', '/..', false],
  ])('isUnder(%j, %j) is %s', (path, folder, expected) => {
    expect(isUnder(path, folder)).toBe(expected);
  });
});

describe('canonicalUrl', () => {
  it('lower-cases scheme and host, strips one trailing dot and fills the default port', () => {
    expect(canonicalUrl('HTTPS://WWW.Example.COM./a/../b?q#f')).toEqual({ scheme: 'https', host: 'www.example.com', port: 443, path: '/b' });
  });

  it('keeps an explicit port', () => {
    expect(canonicalUrl('http://example.com:8080/')?.port).toBe(8080);
  });

  it('normalises IPv4 number forms and IPv4-mapped IPv6 to a dotted quad', () => {
    for (const u of ['http://2130706433/', 'http://0177.0.0.1/', 'http://0x7f.1/', 'http://[::ffff:127.0.0.1]/']) {
      expect(canonicalUrl(u)?.host, u).toBe('127.0.0.1');
    }
  });

  it('keeps IPv6 hosts in brackets', () => {
    expect(canonicalUrl('http://[0:0:0:0:0:0:0:1]/')?.host).toBe('[::1]');
  });

  it('converts international hosts to punycode', () => {
    expect(canonicalUrl('https://\u00e9xample.com/')?.host).toBe('xn--xample-9ua.com');
  });

  it('rejects schemes that are not allowed, and accepts them when listed', () => {
    expect(canonicalUrl('ftp://example.com/')).toBeUndefined();
    expect(canonicalUrl('ftp://example.com/', ['ftp'])).toEqual({ scheme: 'ftp', host: 'example.com', port: 21, path: '/' });
    expect(canonicalUrl('data:text/plain,hi', ['DATA'])).toEqual({ scheme: 'data', host: '', port: undefined, path: 'text/plain,hi' });
    expect(canonicalUrl('file:///etc/passwd', ['file'])?.path).toBe('/etc/passwd');
  });

  it.each([
    ['https:example.com', 'a special scheme without //'],
    ['https:///example.com', 'an empty authority'],
    ['//example.com/', 'a scheme-relative URL'],
    ['example.com', 'a missing scheme'],
    ['https://user@example.com/', 'userinfo'],
    ['https://%65xample.com/', 'percent-encoding in the authority'],
    ['https://example.com\\@evil.com/', 'a backslash'],
    ['https://exa\tmple.com/', 'a tab'],
    [' https://example.com/', 'surrounding whitespace'],
    ['https://example..com/', 'an empty label'],
    ['https://*.example.com/', 'a * in the host'],
  ])('rejects %j (%s)', (input) => {
    expect(canonicalUrl(input)).toBeUndefined();
  });
});

describe('canonicalHost', () => {
  it.each<[string, boolean, string | undefined]>([
    ['*.EXAMPLE.com.', true, '*.example.com'],
    ['*.example.com', false, undefined],
    ['api-*.example.com', true, 'api-*.example.com'],
    ['*\u00fc.com', true, undefined],
    ['example.com:80', false, undefined],
    ['::1', false, '[::1]'],
    ['[::1]', false, '[::1]'],
    ['[::1]:80', false, undefined],
    ['0x7f.1', false, '127.0.0.1'],
    ['https://example.com', false, undefined],
    ['example.com/x', false, undefined],
    ['user@example.com', false, undefined],
    ['\u00e9xample.com', false, 'xn--xample-9ua.com'],
  ])('canonicalHost(%j, wildcards %s) is %j', (input, wildcards, output) => {
    expect(canonicalHost(input, wildcards)).toBe(output);
  });
});

describe('hostMatches', () => {
  it.each<[string, string | string[], boolean]>([
    ['a.example.com', '*.example.com', true],
    ['a.b.example.com', '*.example.com', true],
    ['example.com', '*.example.com', false],
    ['aexample.com', '*.example.com', false],
    ['api-v2.example.com', 'api-*.example.com', true],
    ['api.example.com', 'api-*.example.com', false],
    ['x.api-v2.example.com', 'api-*.example.com', false],
    ['EXAMPLE.com.', 'example.com', true],
    ['anything.io', '*', true],
    ['a.b.c', '*.*', true],
    ['com', '*.*', false],
    ['example.com', ['evil.com', 'example.com'], true],
    ['example.com', ['not a host', 'evil.com'], false],
    ['127.0.0.1', '0x7f.1', true],
    ['[::1]', '::1', true],
  ])('hostMatches(%j, %j) is %s', (host, patterns, expected) => {
    expect(hostMatches(host, patterns)).toBe(expected);
  });
});
