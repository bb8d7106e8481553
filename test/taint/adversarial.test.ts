import { describe, it } from 'vitest';
import { createProvenanceIndex, extractEntities, findInjectionMarkers, labelResult } from '../../src/taint/index.js';

/**
 * Inputs shaped to trigger catastrophic backtracking or quadratic rescans. Every scan is meant to
 * be linear; a regression shows up as a hang, which the per-test timeout turns into a failure
 * (a guard, not a performance measurement: those live in the benchmarks).
 */
const inputs: Array<[string, string]> = [
  ['a long run of spaces after a keyword', `ignore${' '.repeat(200_000)}x`],
  ['angle brackets and slashes', `<${' /'.repeat(100_000)}`],
  ['dotted digits', '1.'.repeat(200_000)],
  ['label-like runs with no TLD', `${'a1-'.repeat(100_000)}.`],
  ['digit groups ending in a letter', `${'1 '.repeat(200_000)}x`],
  ['unbalanced brackets in URLs', `${`http://a${']'.repeat(2_000)} `.repeat(200)}`],
  ['an email with a huge domain', `${'a.'.repeat(50)}@${'b.'.repeat(100_000)}`],
  ['unterminated OSC sequences', '\x1b]'.repeat(100_000)],
  ['black flags without tags', '\u{1F3F4}'.repeat(100_000)],
  ['emoji joined by ZWJ', '👍\u200D'.repeat(100_000)],
  ['IBAN country prefixes', 'DE89 '.repeat(100_000)],
];

describe('linear-time scanning', () => {
  it.each(inputs)('labels and indexes %s without hanging', { timeout: 20_000 }, (_name, text) => {
    findInjectionMarkers(text, { toolNames: ['bank__send_money'] });
    extractEntities(text);
    labelResult({ content: [{ type: 'text', text }] }, { source: 's', callId: 'c', boundary: 'abcdef123456', wrap: 'tag' });
    const index = createProvenanceIndex({ maxEntries: 100, maxWindows: 10_000, windowChars: 12 });
    index.add(text, { source: 's', callId: 'c' });
    index.match({ a: text }, { minCopiedChars: 12 });
  });
});
