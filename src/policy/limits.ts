/**
 * Rate limits (SPEC §4 `limits`): a sliding-window call counter. Plain data, no clock: every
 * method takes `now` in milliseconds. The caller records a call only after it executed, with the
 * keys the decision listed (`Decision.limitKeys`).
 */

/** Read side of the counter, what `evaluate` needs. */
export interface UsageView {
  /** Calls recorded under `key` in the window `(now - windowMs, now]`. */
  count(key: string, now: number, windowMs: number): number;
  /** Milliseconds until one more call fits under `max` in the window; 0 when it fits now. */
  retryAfter(key: string, now: number, windowMs: number, max: number): number;
}

export interface UsageCounter extends UsageView {
  /** Records one call at `now` under each key. */
  record(keys: readonly string[], now: number): void;
  /** Drops timestamps that fell out of their window, and keys left empty. */
  prune(now: number): void;
  /** Number of keys holding timestamps. */
  readonly size: number;
}

const KEY_PREFIX = 'limit:';
/** Bounds for keys not made by `limitKey` (they carry no window or max). */
const FALLBACK_WINDOW_MS = 86_400_000;
const FALLBACK_MAX = 10_000;

/**
 * The counter key of one limit: `limit:<agent>:<windowMs>:<max>:<pattern>`. Agent names hold no
 * `:`, so the key parses back unambiguously. Changing a limit's window or max starts a new count.
 */
export function limitKey(agent: string, pattern: string, windowMs: number, max: number): string {
  return `${KEY_PREFIX}${agent}:${windowMs}:${max}:${pattern}`;
}

function boundsOf(key: string): { windowMs: number; max: number } {
  if (key.startsWith(KEY_PREFIX)) {
    const m = /^[^:]*:[^:]*:(\d+):(\d+):/.exec(key);
    if (m) return { windowMs: Number(m[1]), max: Math.max(1, Number(m[2])) };
  }
  return { windowMs: FALLBACK_WINDOW_MS, max: FALLBACK_MAX };
}

/** Index of the first timestamp inside the window (timestamps are ascending). */
function firstInWindow(stamps: readonly number[], now: number, windowMs: number): number {
  const from = now - windowMs;
  let lo = 0;
  let hi = stamps.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (stamps[mid]! <= from) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A sliding-window counter with bounded memory: per key it keeps at most `max` timestamps (the
 * newest) and none older than the window, both read from the key made by `limitKey`.
 */
export function createUsageCounter(): UsageCounter {
  const stamps = new Map<string, number[]>();

  function trim(key: string, list: number[], now: number): void {
    const { windowMs, max } = boundsOf(key);
    const drop = Math.max(firstInWindow(list, now, windowMs), list.length - max);
    if (drop > 0) list.splice(0, drop);
    if (list.length === 0) stamps.delete(key);
  }

  return {
    record(keys, now) {
      for (const key of keys) {
        let list = stamps.get(key);
        if (!list) stamps.set(key, (list = []));
        // Keep the list ascending even if a caller's clock stepped back.
        const last = list[list.length - 1];
        list.push(last !== undefined && last > now ? last : now);
        trim(key, list, now);
      }
    },
    count(key, now, windowMs) {
      const list = stamps.get(key);
      if (!list) return 0;
      const start = firstInWindow(list, now, windowMs);
      let n = 0;
      for (let i = start; i < list.length && list[i]! <= now; i++) n++;
      return n;
    },
    retryAfter(key, now, windowMs, max) {
      const list = stamps.get(key);
      if (!list) return 0;
      const start = firstInWindow(list, now, windowMs);
      const inWindow = list.length - start;
      if (inWindow < max) return 0;
      // The call that must leave the window before one more fits.
      const blocking = list[start + (inWindow - max)]!;
      return Math.max(1, blocking + windowMs - now);
    },
    prune(now) {
      for (const [key, list] of stamps) trim(key, list, now);
    },
    get size() {
      return stamps.size;
    },
  };
}

/** `1h`, `12m 3s`, `45s`, `250ms`: a duration for messages. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.max(0, Math.round(ms))}ms`;
  let s = Math.ceil(ms / 1_000);
  const d = Math.floor(s / 86_400);
  s -= d * 86_400;
  const h = Math.floor(s / 3_600);
  s -= h * 3_600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const parts = [d && `${d}d`, h && `${h}h`, m && `${m}m`, s && `${s}s`].filter(Boolean);
  return parts.join(' ');
}
