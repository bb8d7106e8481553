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

/**
 * Runs `call` for `warmupMs` (discarded), then for `durationMs`, with `concurrency` calls in
 * flight. Throughput counts calls completed from the start of measuring until the last worker
 * finishes its final call. Any failed call rejects the whole measurement.
 */
export async function drive(
  call: () => Promise<void>,
  concurrency: number,
  warmupMs: number,
  durationMs: number,
  hooks: { beforeMeasure?: () => void; afterMeasure?: () => void } = {},
): Promise<LoadResult> {
  const phase = async (ms: number, record: boolean) => {
    const latencies: number[] = [];
    const start = performance.now();
    const deadline = start + ms;
    const worker = async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        await call();
        if (record) latencies.push(performance.now() - t0);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return { latencies, elapsedMs: performance.now() - start };
  };
  await phase(warmupMs, false);
  hooks.beforeMeasure?.();
  const { latencies, elapsedMs } = await phase(durationMs, true);
  hooks.afterMeasure?.();
  const sorted = Float64Array.from(latencies).sort();
  return {
    calls: latencies.length,
    seconds: elapsedMs / 1000,
    callsPerSec: latencies.length / (elapsedMs / 1000),
    p50Ms: quantileSorted(sorted, 0.5),
    p99Ms: quantileSorted(sorted, 0.99),
  };
}
