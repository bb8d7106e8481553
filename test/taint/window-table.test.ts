import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WindowTable } from '../../src/taint/window-table.js';

type Op = { op: 'set'; key: number; value: number } | { op: 'delete'; key: number };

const KEY = fc.integer({ min: 0, max: 2 ** 30 - 1 });
// A few hot keys as well, so that sets overwrite and deletes hit.
const HOT = fc.integer({ min: 0, max: 40 }).map((k) => k * 1_048_573);

describe('WindowTable', () => {
  it('behaves like a Map under any sequence of sets and deletes', () => {
    const ops = fc.array(
      fc.oneof(
        fc.record({ op: fc.constant('set' as const), key: fc.oneof(KEY, HOT), value: fc.integer({ min: 0, max: 2 ** 31 - 1 }) }),
        fc.record({ op: fc.constant('delete' as const), key: fc.oneof(KEY, HOT) }),
      ),
      { maxLength: 3_000 },
    );
    fc.assert(
      fc.property(ops, (sequence: Op[]) => {
        const table = new WindowTable();
        const model = new Map<number, number>();
        for (const step of sequence) {
          if (step.op === 'set') {
            table.set(step.key, step.value);
            model.set(step.key, step.value);
          } else {
            table.delete(step.key);
            model.delete(step.key);
          }
        }
        expect(table.size).toBe(model.size);
        for (const [key, value] of model) expect(table.get(key)).toBe(value);
        for (const step of sequence) if (!model.has(step.key)) expect(table.has(step.key)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it('grows past its initial capacity and keeps every entry', () => {
    const table = new WindowTable();
    for (let i = 0; i < 50_000; i++) table.set(i * 7_919, i);
    expect(table.size).toBe(50_000);
    expect(table.capacity).toBeGreaterThanOrEqual(100_000);
    for (let i = 0; i < 50_000; i += 997) expect(table.get(i * 7_919)).toBe(i);
    expect(table.get(3)).toBe(-1);
  });
});
