/**
 * Runs test/fixtures/scoping-corpus.json: adversarial attempts to slip a path or URL past an
 * `under` / `host` condition (expect "deny": the condition must not hold) and legitimate
 * look-alikes (expect "allow": it must hold).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Condition } from '../../src/config/schema.js';
import { compileCondition } from '../../src/policy/conditions.js';

interface CorpusEntry {
  kind: 'path' | 'url';
  condition: Condition;
  value: string;
  expect: 'allow' | 'deny';
  why: string;
}

const corpus = JSON.parse(readFileSync(new URL('../fixtures/scoping-corpus.json', import.meta.url), 'utf8')) as CorpusEntry[];
const refs = { agent: {} };

function label(e: CorpusEntry): string {
  const shown = e.value.length > 80 ? `${JSON.stringify(e.value.slice(0, 60))}… (${e.value.length} chars)` : JSON.stringify(e.value);
  return `${e.expect === 'deny' ? 'denies' : 'allows'} ${shown} for ${JSON.stringify(e.condition)}: ${e.why}`;
}

describe('scoping corpus', () => {
  it('holds at least 200 bypass attempts and 40 legitimate look-alikes of both kinds', () => {
    const count = (kind: string, expectation: string): number => corpus.filter((e) => e.kind === kind && e.expect === expectation).length;
    expect(count('path', 'deny') + count('url', 'deny')).toBeGreaterThanOrEqual(200);
    expect(count('path', 'allow') + count('url', 'allow')).toBeGreaterThanOrEqual(40);
    for (const kind of ['path', 'url']) for (const e of ['allow', 'deny']) expect(count(kind, e)).toBeGreaterThan(0);
  });

  it.each(corpus.map((e) => [label(e), e] as const))('%s', (_name, entry) => {
    const holds = compileCondition(entry.condition)(entry.value, refs);
    expect(holds, entry.why).toBe(entry.expect === 'allow');
  });
});
