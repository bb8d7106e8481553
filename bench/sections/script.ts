/**
 * A section that runs a standalone benchmark script (bench/approvals.ts, bench/taint.ts) in a
 * fresh process and prints what it printed: each keeps its own table.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Section } from '../lib/types.js';

export function scriptSection(name: string, title: string, script: string, nodeArgs: string[] = []): Section {
  return {
    name,
    title,
    run: (options) =>
      new Promise((resolve, reject) => {
        options.progress(`${name}: running ${script}`);
        const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', join(options.root, script)], { cwd: options.root, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
        child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
        const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
        child.once('exit', (code) => {
          clearTimeout(timer);
          if (code === 0) resolve({ markdown: out.trim(), goals: [], data: { output: out } });
          else reject(new Error(`${script} exited with ${code}: ${err.slice(-2_000)}`));
        });
      }),
  };
}
