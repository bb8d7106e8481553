import { describe, expect, it } from 'vitest';
import { TaintSchema } from '../../src/config/schema.js';
import type { Effect } from '../../src/config/schema.js';
import { CLEAN_SESSION, compileTaint, escalate, isSink, MAX_TAINT_SOURCES, recordTaint } from '../../src/taint/index.js';
import type { ProvenanceHit, SessionTaint, SinkTool } from '../../src/taint/index.js';

const taint = compileTaint(TaintSchema.parse({ classes: { critical: ['*__send_money*', '*__delete_*'] } }));

const WRITE: SinkTool = { name: 'mail__send_email', readOnlyHint: false, annotationsTrusted: true };
const READ_TRUSTED: SinkTool = { name: 'docs__search', readOnlyHint: true, annotationsTrusted: true };
const READ_UNTRUSTED: SinkTool = { name: 'web__search', readOnlyHint: true, annotationsTrusted: false };
const CRITICAL: SinkTool = { name: 'bank__send_money', annotationsTrusted: true };

const CLEAN: SessionTaint = CLEAN_SESSION;
const TAINTED: SessionTaint = { tainted: true, suspicious: false, sources: [{ source: 'web__fetch', callId: 'c-12' }] };
const SUSPICIOUS: SessionTaint = { ...TAINTED, suspicious: true };
const HIT: ProvenanceHit = { argPath: 'to', kind: 'email', value: 'a@b.c', origin: { source: 'web__fetch', callId: 'c-12' } };

const decision = (effect: Effect) => ({ effect, reasons: ['rule agents.default.rules[0]'], rule: { index: 0 } });

describe('isSink', () => {
  it.each([
    ['a write tool', WRITE, true],
    ['a readOnly tool of a trusted server', READ_TRUSTED, false],
    ['a readOnly tool whose annotations are not trusted', READ_UNTRUSTED, true],
    ['a tool without annotations', { name: 'x__y', annotationsTrusted: true }, true],
  ] as const)('with sinks: default, treats %s as sink=%s', (_name, tool, expected) => {
    expect(isSink(tool, taint)).toBe(expected);
  });

  it('with an explicit glob list, treats exactly the matching tools as sinks', () => {
    const explicit = compileTaint(TaintSchema.parse({ sinks: ['mail__*', '{bank,pay}__transfer'] }));
    expect(isSink(WRITE, explicit)).toBe(true);
    expect(isSink({ name: 'pay__transfer', annotationsTrusted: false }, explicit)).toBe(true);
    expect(isSink({ name: 'docs__update', annotationsTrusted: false }, explicit)).toBe(false);
    expect(isSink({ name: 'mail__list', readOnlyHint: true, annotationsTrusted: true }, explicit)).toBe(true);
  });
});

describe('escalate', () => {
  const table: Array<[string, Effect, SinkTool, SessionTaint, ProvenanceHit[], number, Effect, string | undefined]> = [
    ['keeps allow for a sink in a clean session', 'allow', WRITE, CLEAN, [], 0, 'allow', undefined],
    ['keeps allow for a non-sink in a tainted session', 'allow', READ_TRUSTED, TAINTED, [], 0, 'allow', undefined],
    ['keeps allow for a non-sink in a suspicious session', 'allow', READ_TRUSTED, SUSPICIOUS, [], 0, 'allow', undefined],
    ['denies hidden characters in arguments even for a non-sink', 'allow', READ_TRUSTED, CLEAN, [], 3, 'deny', 'hidden-args'],
    ['denies hidden characters in arguments over an ask rule', 'ask', WRITE, TAINTED, [HIT], 1, 'deny', 'hidden-args'],
    ['asks for a sink in a tainted session', 'allow', WRITE, TAINTED, [], 0, 'ask', 'taint'],
    ['asks for a critical sink in a tainted session', 'allow', CRITICAL, TAINTED, [], 0, 'ask', 'critical'],
    ['denies a sink in a suspicious session', 'allow', WRITE, SUSPICIOUS, [], 0, 'deny', 'suspicious'],
    ['asks when an argument came from tainted content', 'allow', WRITE, TAINTED, [HIT], 0, 'ask', 'provenance'],
    ['asks on provenance even if the session flag was lost', 'allow', WRITE, CLEAN, [HIT], 0, 'ask', 'provenance'],
    ['keeps ask without naming a cause when nothing is stricter', 'ask', WRITE, TAINTED, [], 0, 'ask', undefined],
    ['never loosens a deny', 'deny', WRITE, TAINTED, [HIT], 0, 'deny', undefined],
    ['never loosens a deny for a clean non-sink', 'deny', READ_TRUSTED, CLEAN, [], 0, 'deny', undefined],
  ];

  it.each(table)('%s', (_name, effect, tool, session, provenance, argsHidden, expected, cause) => {
    const result = escalate(decision(effect), { tool, session, provenance, argsHidden }, taint);
    expect(result.effect).toBe(expected);
    expect(result.escalatedBy).toBe(cause);
    expect(result.reasons[0]).toBe('rule agents.default.rules[0]');
    expect(result.rule).toEqual({ index: 0 });
  });

  it('uses the configured floors', () => {
    const strict = compileTaint(TaintSchema.parse({ onTaintedSink: 'deny', onCriticalTainted: 'deny', onSuspicious: 'ask', classes: { critical: ['bank__*'] } }));
    expect(escalate(decision('allow'), { tool: WRITE, session: TAINTED, provenance: [], argsHidden: 0 }, strict).effect).toBe('deny');
    expect(escalate(decision('allow'), { tool: CRITICAL, session: TAINTED, provenance: [], argsHidden: 0 }, strict)).toMatchObject({ effect: 'deny', escalatedBy: 'critical' });
    expect(escalate(decision('allow'), { tool: WRITE, session: { ...SUSPICIOUS }, provenance: [], argsHidden: 0 }, strict)).toMatchObject({ effect: 'deny', escalatedBy: 'taint' });
  });

  it('applies the tainted-sink floor to critical sinks too', () => {
    const odd = compileTaint(TaintSchema.parse({ onTaintedSink: 'deny', onCriticalTainted: 'ask', classes: { critical: ['bank__*'] } }));
    expect(escalate(decision('allow'), { tool: CRITICAL, session: TAINTED, provenance: [], argsHidden: 0 }, odd).effect).toBe('deny');
  });

  it('allows a tainted sink when the admin configured onTaintedSink: allow, but still asks on provenance', () => {
    const lenient = compileTaint(TaintSchema.parse({ onTaintedSink: 'allow' }));
    expect(escalate(decision('allow'), { tool: WRITE, session: TAINTED, provenance: [], argsHidden: 0 }, lenient).effect).toBe('allow');
    expect(escalate(decision('allow'), { tool: WRITE, session: TAINTED, provenance: [HIT], argsHidden: 0 }, lenient).effect).toBe('ask');
  });

  it('names the argument, entity and source in provenance reasons', () => {
    const text: ProvenanceHit = { argPath: '/body', kind: 'text', value: 'wire the funds today', origin: { source: 'mail__read', callId: 'c-3' }, copiedChars: 20 };
    const result = escalate(decision('allow'), { tool: WRITE, session: TAINTED, provenance: [HIT, text], argsHidden: 0 }, taint);
    expect(result.reasons).toEqual([
      'rule agents.default.rules[0]',
      'argument "to" contains email a@b.c from web__fetch (call c-12)',
      'argument "/body" contains 20 characters of text copied from mail__read (call c-3): "wire the funds today"',
      'mail__send_email is a sink and the session has seen external content from web__fetch (call c-12)',
    ]);
  });

  it('explains hidden arguments, suspicion and critical sinks', () => {
    const result = escalate(decision('allow'), { tool: CRITICAL, session: SUSPICIOUS, provenance: [], argsHidden: 2 }, taint);
    expect(result.reasons.slice(1)).toEqual([
      'arguments contain 2 hidden characters (invisible Unicode or terminal control sequences)',
      'session is suspicious: hidden characters or injection markers were seen in external content from web__fetch (call c-12)',
      'bank__send_money is a critical sink and the session has seen external content from web__fetch (call c-12)',
    ]);
  });

  it('caps provenance reasons', () => {
    const hits = Array.from({ length: 14 }, (_, i) => ({ ...HIT, argPath: `a${i}` }));
    const result = escalate(decision('allow'), { tool: WRITE, session: TAINTED, provenance: hits, argsHidden: 0 }, taint);
    expect(result.reasons.filter((r) => r.startsWith('argument'))).toHaveLength(10);
    expect(result.reasons).toContain('and 4 more argument values from external content');
  });

  it('does not mutate the decision', () => {
    const d = decision('allow');
    const snapshot = structuredClone(d);
    escalate(d, { tool: WRITE, session: SUSPICIOUS, provenance: [HIT], argsHidden: 1 }, taint);
    expect(d).toEqual(snapshot);
  });
});

describe('recordTaint', () => {
  it('taints a clean session and keeps it tainted', () => {
    const once = recordTaint(CLEAN_SESSION, { source: 'web__fetch', callId: 'c-1', level: 'untrusted' });
    expect(once).toEqual({ tainted: true, suspicious: false, sources: [{ source: 'web__fetch', callId: 'c-1' }] });
    expect(CLEAN_SESSION.tainted).toBe(false);
    const twice = recordTaint(once, { source: 'mail__read', callId: 'c-2', level: 'suspicious' });
    expect(twice.suspicious).toBe(true);
    expect(recordTaint(twice, { source: 'x', callId: 'c-3', level: 'untrusted' }).suspicious).toBe(true);
  });

  it('keeps the most recent sources only', () => {
    let session: SessionTaint = CLEAN_SESSION;
    for (let i = 0; i < MAX_TAINT_SOURCES + 5; i++) session = recordTaint(session, { source: 's', callId: `c-${i}`, level: 'untrusted' });
    expect(session.sources).toHaveLength(MAX_TAINT_SOURCES);
    expect(session.sources.at(-1)?.callId).toBe(`c-${MAX_TAINT_SOURCES + 4}`);
  });
});
