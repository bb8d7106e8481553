import { describe, expect, it } from 'vitest';
import { createUsageCounter, formatDuration, limitKey } from '../../src/policy/index.js';

const HOUR = 3_600_000;
const T = 1_700_000_000_000;

describe('createUsageCounter', () => {
  const key = limitKey('default', 'docs__update_*', HOUR, 3);

  it('counts calls inside the sliding window and drops those older than the window', () => {
    const c = createUsageCounter();
    c.record([key], T);
    c.record([key], T + 1_000);
    expect(c.count(key, T + 1_000, HOUR)).toBe(2);
    expect(c.count(key, T + HOUR - 1, HOUR)).toBe(2);
    expect(c.count(key, T + HOUR, HOUR)).toBe(1);
    expect(c.count(key, T + HOUR + 1_000, HOUR)).toBe(0);
  });

  it('counts zero for a key never recorded', () => {
    expect(createUsageCounter().count('limit:x:1000:1:y', T, 1_000)).toBe(0);
  });

  it('records every key it is given', () => {
    const c = createUsageCounter();
    const other = limitKey('default', 'docs__*', HOUR, 3);
    c.record([key, other], T);
    expect(c.count(key, T, HOUR)).toBe(1);
    expect(c.count(other, T, HOUR)).toBe(1);
  });

  const retryCases = [
    { when: 'under the limit', stamps: [T], now: T + 5, expected: 0 },
    { when: 'at the limit', stamps: [T, T + 10_000, T + 20_000], now: T + 30_000, expected: HOUR - 30_000 },
    { when: 'at the limit after the oldest slid out', stamps: [T, T + 10_000, T + 20_000, T + HOUR + 1], now: T + HOUR + 1, expected: 10_000 - 1 },
  ];
  it.each(retryCases)('returns the wait until one more call fits when $when', ({ stamps, now, expected }) => {
    const c = createUsageCounter();
    for (const s of stamps) c.record([key], s);
    expect(c.retryAfter(key, now, HOUR, 3)).toBe(expected);
  });

  it('keeps at most max timestamps per key (bounded memory) while still counting at the limit', () => {
    const c = createUsageCounter();
    for (let i = 0; i < 1_000; i++) c.record([key], T + i);
    expect(c.count(key, T + 1_000, HOUR)).toBe(3);
    expect(c.retryAfter(key, T + 1_000, HOUR, 3)).toBe(HOUR - 3);
  });

  it('forgets keys whose calls all left the window when pruned', () => {
    const c = createUsageCounter();
    c.record([key], T);
    expect(c.size).toBe(1);
    c.prune(T + HOUR + 1);
    expect(c.size).toBe(0);
  });

  it('keeps timestamps ascending when the caller\'s clock steps back', () => {
    const c = createUsageCounter();
    c.record([key], T + 5_000);
    c.record([key], T);
    expect(c.count(key, T + 5_000, HOUR)).toBe(2);
  });

  it('bounds keys not made by limitKey with a fallback cap', () => {
    const c = createUsageCounter();
    for (let i = 0; i < 20_000; i++) c.record(['custom'], T);
    expect(c.count('custom', T, HOUR)).toBe(10_000);
  });
});

describe('formatDuration', () => {
  const cases = [
    { ms: 250, text: '250ms' },
    { ms: 1_000, text: '1s' },
    { ms: 45_000, text: '45s' },
    { ms: 723_000, text: '12m 3s' },
    { ms: 722_001, text: '12m 3s' },
    { ms: HOUR, text: '1h' },
    { ms: HOUR + 60_000, text: '1h 1m' },
    { ms: 2 * 86_400_000, text: '2d' },
  ];
  it.each(cases)('formats $ms ms as "$text"', ({ ms, text }) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
