/**
 * Held calls waiting on a request: each waits until the request changes state, its inline wait
 * runs out, or its client cancels. Timers are unref'd so a held call never keeps a process alive.
 */

export type WaitEnd = 'changed' | 'timeout' | 'aborted';

export interface WaitOptions {
  timeoutMs: number;
  signal: AbortSignal;
  tickMs: number;
  onTick?: () => void;
}

export class Waiters {
  private readonly byRequest = new Map<string, Set<(end: WaitEnd) => void>>();

  /** How many held calls wait on this request. */
  count(requestId: string): number {
    return this.byRequest.get(requestId)?.size ?? 0;
  }

  /** Wakes every call waiting on this request. */
  wake(requestId: string): void {
    const waiting = this.byRequest.get(requestId);
    if (!waiting) return;
    this.byRequest.delete(requestId);
    for (const finish of waiting) finish('changed');
  }

  /** Ends every wait as a timeout (shutdown: the calls answer "pending"). */
  releaseAll(): void {
    const all = [...this.byRequest.values()];
    this.byRequest.clear();
    for (const waiting of all) for (const finish of waiting) finish('timeout');
  }

  wait(requestId: string, opts: WaitOptions): Promise<WaitEnd> {
    if (opts.signal.aborted) return Promise.resolve('aborted');
    if (opts.timeoutMs <= 0) return Promise.resolve('timeout');
    return new Promise<WaitEnd>((resolve) => {
      let waiting = this.byRequest.get(requestId);
      if (!waiting) this.byRequest.set(requestId, (waiting = new Set()));
      const set = waiting;
      const timer = setTimeout(() => finish('timeout'), opts.timeoutMs);
      timer.unref();
      const ticker = opts.onTick ? setInterval(opts.onTick, opts.tickMs) : undefined;
      ticker?.unref();
      const onAbort = () => finish('aborted');
      opts.signal.addEventListener('abort', onAbort, { once: true });
      function finish(end: WaitEnd) {
        clearTimeout(timer);
        if (ticker) clearInterval(ticker);
        opts.signal.removeEventListener('abort', onAbort);
        set.delete(finish);
        resolve(end);
      }
      set.add(finish);
    }).finally(() => {
      const waiting = this.byRequest.get(requestId);
      if (waiting?.size === 0) this.byRequest.delete(requestId);
    });
  }
}
