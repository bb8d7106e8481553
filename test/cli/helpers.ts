/** Running CLI commands in-process with captured output, or as the real binary. */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import type { CliIo } from '../../src/cli/command-io.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'bin/portcullis.js');
export const POLICIES = join(ROOT, 'test/fixtures/policies');

/** Path of a policy fixture. */
export function policy(name: string): string {
  return join(POLICIES, name);
}

export interface Captured {
  io: CliIo;
  readonly stdout: string;
  readonly stderr: string;
}

/** An io whose output is kept for assertions; the environment is only what is passed. */
export function captureIo(env: Record<string, string | undefined> = {}, now = Date.UTC(2026, 0, 1)): Captured {
  let stdout = '';
  let stderr = '';
  return {
    io: { out: (t) => void (stdout += t), err: (t) => void (stderr += t), env, now: () => now },
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
  };
}

/** Runs a command function and returns its exit code with what it printed. */
export async function run(command: (argv: string[], io: CliIo) => Promise<number>, argv: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const c = captureIo(env);
  const code = await command(argv, c.io);
  return { code, stdout: c.stdout, stderr: c.stderr };
}

/** Runs `node bin/portcullis.js …` (built into dist/ by `npm run build`). */
export function runBin(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: options.cwd ?? ROOT, env: { ...process.env, ...options.env }, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A loopback URL where nothing listens: a port that was free a moment ago. */
export async function closedUrl(): Promise<string> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const { port } = server.address() as { port: number };
  await new Promise((resolveClose) => server.close(resolveClose));
  return `http://127.0.0.1:${port}`;
}
