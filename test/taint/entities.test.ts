import { describe, expect, it } from 'vitest';
import { canonicalPath, canonicalUrl, extractEntities, isValidIban } from '../../src/taint/index.js';

const kindsAndValues = (text: string) => extractEntities(text).map((e) => `${e.kind}:${e.value}`);

describe('canonicalUrl', () => {
  const same: Array<[string, string]> = [
    ['www.x.com', 'http://www.x.com/'],
    ['HTTP://WWW.X.COM', 'https://x.com'],
    ['http://x.com:80/a/', 'http://x.com/a'],
    ['https://x.com:443/a/b/../c', 'https://x.com/a/c'],
    ['http://user:pw@x.com/a#frag', 'http://x.com/a'],
    ['http://bücher.example/', 'http://xn--bcher-kva.example'],
    ['http://x.com./a', 'http://x.com/a'],
  ];

  it.each(same)('gives %s and %s the same key', (a, b) => {
    expect(canonicalUrl(a)?.key).toBe(canonicalUrl(b)?.key);
    expect(canonicalUrl(a)?.host).toBe(canonicalUrl(b)?.host);
  });

  const different: Array<[string, string]> = [
    ['http://x.com/a', 'http://x.com/b'],
    ['http://x.com/a?q=1', 'http://x.com/a?q=2'],
    ['http://x.com:8080/', 'http://x.com/'],
    ['http://x.com/', 'http://y.com/'],
  ];

  it.each(different)('gives %s and %s different keys', (a, b) => {
    expect(canonicalUrl(a)?.key).not.toBe(canonicalUrl(b)?.key);
  });

  it.each([['javascript:alert(1)'], ['mailto:a@b.c'], ['http://'], ['not a url at all']])('rejects %s', (raw) => {
    expect(canonicalUrl(raw)).toBeUndefined();
  });
});

describe('isValidIban', () => {
  it.each([
    ['GB29NWBK60161331926819'],
    ['GB29 NWBK 6016 1331 9268 19'],
    ['de89 3704 0044 0532 0130 00'],
    ['CH9300762011623852957'],
    ['SE3550000000054910000003'],
    ['FR1420041010050500013M02606'],
  ])('accepts %s', (iban) => {
    expect(isValidIban(iban)).toBe(true);
  });

  it.each([
    ['a wrong check digit', 'GB28NWBK60161331926819'],
    ['a swapped digit', 'GB29NWBK60161331926891'],
    ['the wrong length for the country', 'DE8937040044053201300'],
    ['a country without IBANs', 'US133000000121212121212'],
    ['letters only', 'HELLOWORLDHELLOWORLD'],
  ])('rejects %s', (_name, iban) => {
    expect(isValidIban(iban)).toBe(false);
  });
});

describe('canonicalPath', () => {
  it.each([
    ['/x/y/', '/x/y'],
    ['/x//y/./z', '/x/y/z'],
    ['/x/../../etc/passwd', '/etc/passwd'],
    ['~/notes/todo.md', '~/notes/todo.md'],
    ['c:\\Users\\me\\', 'C:\\Users\\me'],
  ])('normalises %s to %s', (raw, expected) => {
    expect(canonicalPath(raw)).toBe(expected);
  });

  it.each([['/x'], ['and/or'], ['relative/path'], ['//host/share']])('does not take %s for a path', (raw) => {
    expect(canonicalPath(raw)).toBeUndefined();
  });
});

describe('extractEntities', () => {
  it('finds emails, lowercased, and ignores email domains as hosts', () => {
    expect(kindsAndValues('Write to Mark.Black-2134@Gmail.com today.')).toEqual(['email:mark.black-2134@gmail.com']);
  });

  it('finds URLs in prose and markdown, trimming trailing punctuation', () => {
    expect(kindsAndValues('See [docs](https://ex.com/a/b), or (https://ex.com/c).')).toEqual([
      'url:https://ex.com/a/b',
      'host:ex.com',
      'url:https://ex.com/c',
    ]);
  });

  it('keeps balanced parentheses that belong to a URL', () => {
    expect(kindsAndValues('https://en.wikipedia.org/wiki/Foo_(bar)')[0]).toBe('url:https://en.wikipedia.org/wiki/Foo_(bar)');
  });

  it('reads bare hosts with www, a path or a common TLD, and not file names', () => {
    expect(kindsAndValues('www.secure-systems-252.com example.org/login notes.txt readme.md')).toEqual([
      'url:http://www.secure-systems-252.com',
      'host:secure-systems-252.com',
      'url:http://example.org/login',
      'host:example.org',
    ]);
  });

  it('finds a valid IBAN written in groups without reporting its digits again', () => {
    expect(kindsAndValues('Pay DE89 3704 0044 0532 0130 00 and 12345678 too')).toEqual(['iban:DE89370400440532013000', 'account:12345678']);
  });

  it('keeps the digits of an IBAN-shaped value that fails validation as an account', () => {
    expect(kindsAndValues('to the account US133000000121212121212 now')).toEqual(['account:133000000121212121212']);
  });

  it('finds account numbers of 8 or more digits with separators stripped', () => {
    expect(kindsAndValues('acct 12345-678-90123 and 1234567')).toEqual(['account:1234567890123']);
  });

  it('gives phone numbers in different formats the same key', () => {
    for (const text of ['+1 (415) 555-0100', '415-555-0100', '415.555.0100', '4155550100', '+14155550100', '+1 415 555 0100']) {
      expect(extractEntities(text).map((e) => e.key)).toContain('num:4155550100');
    }
  });

  it.each([
    ['an ISO date and time', 'on 2024-05-13 10:30:00'],
    ['a European date', 'am 13.05.2024'],
    ['a US date', 'on 05/13/2024'],
    ['an IPv4 address', 'host 192.168.100.100'],
    ['a decimal amount', 'total 0.12345678'],
    ['a short number', 'room 1234567'],
    ['digits inside an identifier', 'build abc12345678def'],
  ])('does not take %s for a number', (_name, text) => {
    expect(extractEntities(text).filter((e) => e.kind === 'account' || e.kind === 'phone')).toEqual([]);
  });

  it('finds paths at the start of a token', () => {
    expect(kindsAndValues('open /etc/ssh/sshd_config or "~/secrets/key.pem"; not and/or')).toEqual([
      'path:/etc/ssh/sshd_config',
      'path:~/secrets/key.pem',
    ]);
  });

  it('turns file URLs into paths', () => {
    expect(kindsAndValues('file:///home/me/a%20b.txt')).toEqual(['path:/home/me/a b.txt']);
  });
});
