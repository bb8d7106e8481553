/**
 * `npm run bench`: measures what SPEC §11 asks for and prints it as markdown; everything measured
 * also goes to bench/results/latest.json. Goals print PASS/MISS; a miss is a measurement, not a
 * failure: the exit code is non-zero only when something broke.
 *
 *   node --import tsx bench/run.ts [--only all|proxy|policy[,…]] [--runs N] [--duration-ms MS]
 *                                  [--warmup-ms MS] [--warmup-calls N] [--max-warmup-ms MS]
 *                                  [--set section.key=value …]
 *
 * Sections run in the order of SECTIONS; add new ones (approvals drain, taint throughput, …) there.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { policySection } from './sections/policy.js';
import { proxySection } from './sections/proxy.js';
import { scriptSection } from './sections/script.js';
import { markdownTable } from './lib/stats.js';
import type { BenchOptions, Goal, Section } from './lib/types.js';

/** The extension point: every section, in the order they run. */
const SECTIONS: readonly Section[] = [
  proxySection,
  policySection,
  scriptSection('approvals', '1,000 concurrent held calls approved through the API', 'bench/approvals.ts', ['--expose-gc']),
  scriptSection('taint', 'Taint labelling and provenance throughput, memory per session', 'bench/taint.ts'),
];

const ROOT = resolve(import.meta.dirname, '..');

function usage(): string {
  return `usage: node --import tsx bench/run.ts [--only all|${SECTIONS.map((s) => s.name).join('|')}[,…]] [--runs N] [--duration-ms MS] [--warmup-ms MS] [--warmup-calls N] [--max-warmup-ms MS] [--set section.key=value …]\n`;
}

function parseOptions(argv: string[]): { sections: Section[]; options: BenchOptions } {
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string', default: 'all' },
      runs: { type: 'string', default: '3' },
      'duration-ms': { type: 'string', default: '2000' },
      'warmup-ms': { type: 'string', default: '400' },
      // Steady state: V8 has optimised a server's hot path after a few thousand calls (see bench/lib/load.ts).
      'warmup-calls': { type: 'string', default: '3000' },
      'max-warmup-ms': { type: 'string', default: '20000' },
      set: { type: 'string', multiple: true, default: [] },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(usage());
    process.exit(0);
  }
  const wanted = values.only.split(',').map((s) => s.trim()).filter(Boolean);
  const sections = wanted.includes('all') ? [...SECTIONS] : SECTIONS.filter((s) => wanted.includes(s.name));
  const unknown = wanted.filter((w) => w !== 'all' && !SECTIONS.some((s) => s.name === w));
  if (unknown.length > 0 || sections.length === 0) throw new Error(`unknown section ${unknown.join(', ') || '(none)'}\n${usage()}`);
  const positive = (name: string, raw: string) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} needs a positive integer, got ${raw}`);
    return n;
  };
  const settings = new Map<string, string>();
  for (const pair of values.set) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`--set needs key=value, got ${pair}`);
    settings.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return {
    sections,
    options: {
      runs: positive('runs', values.runs),
      durationMs: positive('duration-ms', values['duration-ms']),
      warmupMs: positive('warmup-ms', values['warmup-ms']),
      warmupCalls: positive('warmup-calls', values['warmup-calls']),
      maxWarmupMs: positive('max-warmup-ms', values['max-warmup-ms']),
      root: ROOT,
      progress: (line) => process.stderr.write(`  ${line}\n`),
      settings,
    },
  };
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n`);
    return 2;
  }
  const { sections, options } = parsed;
  const started = Date.now();
  const env = {
    node: process.version,
    cpus: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
    memGiB: Math.round(totalmem() / 2 ** 30),
    loadAvgAtStart: loadavg().map((l) => Number(l.toFixed(2))),
    runs: options.runs,
    durationMs: options.durationMs,
    warmupMs: options.warmupMs,
    warmupCalls: options.warmupCalls,
    maxWarmupMs: options.maxWarmupMs,
  };
  const out: string[] = [
    '## Portcullis benchmark',
    '',
    `Node ${env.node}, ${env.cpus}, ${env.memGiB} GiB; load average at start ${env.loadAvgAtStart.join(' / ')}. ` +
      `${options.runs} runs per cell on fresh processes, a warm-up of at least ${options.warmupMs} ms and ${options.warmupCalls} calls (at most ${options.maxWarmupMs} ms) + ${options.durationMs} ms measured each; figures are medians across runs.`,
  ];
  const goals: Goal[] = [];
  const data: Record<string, unknown> = {};
  for (const section of sections) {
    process.stderr.write(`bench: ${section.name}\n`);
    const t0 = Date.now();
    const result = await section.run(options);
    data[section.name] = { ...(result.data as object), seconds: (Date.now() - t0) / 1000 };
    goals.push(...result.goals);
    out.push('', `### ${section.title}`, '', result.markdown);
  }
  out.push(
    '',
    '### Goals',
    '',
    markdownTable(['goal', 'measured', 'target', ''], goals.map((g) => [g.name, g.shown, g.target, g.met ? 'PASS' : 'MISS']), ['l', 'r', 'r', 'l']),
    '',
    `Took ${((Date.now() - started) / 1000).toFixed(0)} s; load average at end ${loadavg().map((l) => l.toFixed(2)).join(' / ')}.`,
  );
  const text = out.join('\n');
  process.stdout.write(`${text}\n`);

  const dir = join(ROOT, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'latest.json');
  writeFileSync(file, `${JSON.stringify({ date: new Date(started).toISOString(), env, goals, sections: data, markdown: text }, null, 2)}\n`);
  process.stderr.write(`bench: wrote ${file}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench: failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
