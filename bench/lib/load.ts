/** A closed-loop load generator: `concurrency` workers each keep one call in flight. */
import { performance } from 'node:perf_hooks';
import { quantileSorted } from './stats.js';

export interface LoadResult {
  readonly calls: number;
  readonly seconds: number;
  readonly callsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** How long the warm-up (discarded) lasts: at least `ms` and `calls` calls, but never past `maxMs`. */
export interface Warmup {
  readonly ms: number;
  readonly calls: number;
  readonly maxMs: number;
}

/**
 * Runs `call` through the warm-up (discarded), then for `durationMs`, with `concurrency` calls
 * in flight. Throughput counts calls completed from the start of measuring until the last worker
 * finishes its final call. Any failed call rejects the whole measurement.
 *
 * The warm-up is counted in calls as well as time because V8 optimises a function after it has
 * run enough, not after a time: a server under test reaches its steady state after a few thousand
 * calls, however long those take.
 */
export async function drive(
  call: () => Promise<void>,
  concurrency: number,
  warmup: Warmup,
  durationMs: number,
  hooks: { beforeMeasure?: () => void; afterMeasure?: () => void } = {},
): Promise<LoadResult & { warmupCalls: number }> {
  const phase = async (until: (elapsedMs: number, calls: number) => boolean, record: boolean) => {
    const latencies: number[] = [];
    let calls = 0;
    const start = performance.now();
    const worker = async () => {
      while (!until(performance.now() - start, calls)) {
        const t0 = performance.now();
        await call();
        calls++;
        if (record) latencies.push(performance.now() - t0);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return { latencies, calls, elapsedMs: performance.now() - start };
  };
  const warm = await phase((ms, calls) => ms >= warmup.maxMs || (ms >= warmup.ms && calls >= warmup.calls), false);
  hooks.beforeMeasure?.();
  const { latencies, elapsedMs } = await phase((ms) => ms >= durationMs, true);
  hooks.afterMeasure?.();
  const sorted = Float64Array.from(latencies).sort();
  return {
    calls: latencies.length,
    seconds: elapsedMs / 1000,
    callsPerSec: latencies.length / (elapsedMs / 1000),
    p50Ms: quantileSorted(sorted, 0.5),
    p99Ms: quantileSorted(sorted, 0.99),
    warmupCalls: warm.calls,
  };
}
