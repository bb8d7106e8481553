/** Child processes for the benchmark: started in their own process group, drained, stopped. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const TAIL = 16_384;

export interface Proc {
  readonly child: ChildProcess;
  readonly pid: number;
  /** The last few KiB of stderr (the rest is read and dropped, so the pipe never fills). */
  stderrTail(): string;
  /** Resolves with the first match of `re` in stderr; rejects on exit or timeout. */
  waitForStderr(re: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
  /** SIGTERM to the process, then SIGKILL to whatever is left of its process group. */
  stop(): Promise<void>;
}

/**
 * Spawns `command args` as the leader of a new process group (so that stop() can also reap the
 * grandchildren it spawned, and nothing else). stdout is ignored, stderr drained.
 */
export function startProc(command: string, args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Proc {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  const pid = child.pid;
  let tail = '';
  let seen = '';
  const watchers = new Set<() => void>();
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    tail = (tail + d).slice(-TAIL);
    if (watchers.size > 0) {
      seen = (seen + d).slice(-TAIL);
      for (const w of watchers) w();
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    pid,
    stderrTail: () => tail,
    waitForStderr(re, timeoutMs) {
      seen = tail;
      return new Promise((resolve, reject) => {
        const done = (fn: () => void) => {
          clearTimeout(timer);
          watchers.delete(check);
          child.off('exit', onExit);
          fn();
        };
        const check = () => {
          const m = re.exec(seen);
          if (m) done(() => resolve(m));
        };
        const onExit = (code: number | null) => done(() => reject(new Error(`${command} exited (${code}) before ${re}:\n${tail}`)));
        const timer = setTimeout(() => done(() => reject(new Error(`${command}: no ${re} within ${timeoutMs} ms:\n${tail}`))), timeoutMs);
        child.once('exit', onExit);
        watchers.add(check);
        check();
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      killGroup(pid);
    },
  };
}

/** SIGKILL to a process group this benchmark created; absent groups are fine. */
export function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once something answers HTTP at `url` (any status). */
export async function waitForHttp(url: string, timeoutMs: number, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url, { method: 'GET', signal: AbortSignal.timeout(1_000) });
      await res.body?.cancel();
      return;
    } catch {
      if (!alive()) throw new Error(`process behind ${url} exited`);
      if (Date.now() > deadline) throw new Error(`nothing answered at ${url} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Resident set size of a process, in MiB, from /proc/<pid>/status (VmRSS). */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Direct children of a process (Linux: /proc/<pid>/task/<pid>/children). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** A process and all its descendants, the process first. */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...childPids(out[i]!));
  return out;
}

export interface CpuSample {
  /** ns on a CPU, summed over the process's threads. */
  readonly onCpuNs: number;
  /** ns its threads waited runnable for a CPU (scheduler contention). */
  readonly waitNs: number;
}

/** CPU time of a process so far, from /proc/<pid>/task/<tid>/schedstat; zeros once it is gone. */
export function cpuOf(pid: number): CpuSample {
  let onCpuNs = 0;
  let waitNs = 0;
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return { onCpuNs, waitNs };
  }
  for (const tid of tids) {
    try {
      const [run, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ');
      onCpuNs += Number(run);
      waitNs += Number(wait);
    } catch {
      // the thread ended meanwhile
    }
  }
  return { onCpuNs, waitNs };
}
