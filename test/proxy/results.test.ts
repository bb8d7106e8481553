import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { capResultSize, explainRefusal, jsonSizeBound, relayInputRequired } from '../../src/proxy/results.js';

describe('jsonSizeBound', () => {
  it('never undercounts the UTF-8 size of the JSON, whatever the characters', () => {
    const text = fc.string({ unit: fc.oneof(fc.constantFrom('"', '\\', '\n', '\u0000', '\u2028', '\ud800', 'é', '😀', 'a')), maxLength: 30 });
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, text, fc.double(), fc.integer(), fc.boolean(), fc.constant(null), fc.array(tie('node'), { maxLength: 4 }), fc.dictionary(text, tie('node'), { maxKeys: 4 })),
    })).node;
    fc.assert(fc.property(value, (v) => {
      expect(jsonSizeBound(v, Infinity)).toBeGreaterThanOrEqual(Buffer.byteLength(JSON.stringify(v)));
    }), { numRuns: 20_000 });
  });

  it('bounds the longest numbers JSON prints', () => {
    for (const n of [-0.0000012345678901234567, -1.2345678901234567e-300, -123456789012345680000, Number.MIN_VALUE]) {
      expect(jsonSizeBound([n], Infinity)).toBeGreaterThanOrEqual(JSON.stringify([n]).length);
    }
  });

  it('measures rather than bounds anything that is not plain data', () => {
    expect(jsonSizeBound({ when: new Date(0) }, Infinity)).toBe(Infinity);
  });

  it('gives up past the limit', () => {
    expect(jsonSizeBound({ content: [{ type: 'text', text: 'x'.repeat(1_000) }] }, 100)).toBe(Infinity);
  });
});

describe('capResultSize', () => {
  it('returns a result under the cap unchanged', () => {
    const result = { content: [{ type: 'text' as const, text: 'small' }] };
    expect(capResultSize(result, 1_000)).toBe(result);
  });

  it('cuts a result over the cap to fit, with a notice naming both sizes', () => {
    const result = { content: [{ type: 'text' as const, text: 'x'.repeat(100_000) }], structuredContent: { big: 'y'.repeat(50_000) } };
    const cut = capResultSize(result, 10_000);
    expect(Buffer.byteLength(JSON.stringify(cut))).toBeLessThanOrEqual(10_000);
    const notice = (cut.content.at(-1) as { text: string }).text;
    expect(notice).toMatch(/the result was \d+ bytes, over the 10000-byte limit; it was cut/);
  });

  it.each([
    ['multi-byte', '界'.repeat(20_000)],
    ['escape-heavy', '"\\\n'.repeat(20_000)],
  ])('keeps %s text within the byte cap', (_kind, text) => {
    const cut = capResultSize({ content: [{ type: 'text' as const, text }] }, 5_000);
    const size = Buffer.byteLength(JSON.stringify(cut));
    expect(size).toBeLessThanOrEqual(5_000);
    expect(size).toBeGreaterThan(2_000);
  });
});

describe('explainRefusal', () => {
  it('names the taint reasons when taint escalated an allowed call', () => {
    const text = explainRefusal({ effect: 'deny', rule: { path: 'agents.a.rules[0]', index: 0 }, reasons: ['allowed by rule', 'session is suspicious'], escalatedBy: 'suspicious' }, 1);
    expect(text).toBe('Denied by taint policy: session is suspicious. Policy rule agents.a.rules[0] alone would allow this call.');
  });

  it('uses the policy’s own denial otherwise', () => {
    expect(explainRefusal({ effect: 'deny', rule: { path: 'agents.a.rules[2]', index: 2 }, reasons: ['Deleting is never done by agents.'] }, 1)).toBe('Denied by policy (rule agents.a.rules[2]): Deleting is never done by agents.');
  });
});

describe('relayInputRequired', () => {
  it('keeps the upstream’s requests and its requestState byte for byte', () => {
    const relayed = relayInputRequired({ resultType: 'input_required', inputRequests: { q: { method: 'roots/list' } }, requestState: 'opaque.state' } as never);
    expect(relayed).toMatchObject({ resultType: 'input_required', inputRequests: { q: { method: 'roots/list' } }, requestState: 'opaque.state' });
  });
});
