/**
 * Taint core throughput and memory (SPEC §11): labelling and provenance indexing in MB/s of
 * tainted text, provenance matching per call, and memory per session.
 *
 *   node --import tsx bench/taint.ts [--dir DIR] [--seconds S]
 *
 * Corpus: the distinct tool outputs of the AgentDojo development traces (unpacked from
 * ../shared/datasets/agentdojo/dev-traces.tgz, or `--dir` pointing at an unpacked tree): mail,
 * calendars, files, chat, web pages, reviews, statements, injections included. Without the
 * dataset, generated prose with entities stands in. Sizes are UTF-8 bytes of the text.
 *
 * - label: `labelResult` on one text block per output, with the gateway's settings (hidden
 *   character strip, 2 redacted secrets, injection markers with the suite's tool names, `wrap: tag`).
 * - index: `createProvenanceIndex(...).add(texts)` with the gateway's session sizes
 *   (4,096 entities, 131,072 windows, 12-character windows); a fresh index every 256 KiB, so
 *   eviction is not what is measured.
 * - match: `match(args)` of every recorded call's arguments against an index holding its suite's
 *   outputs (µs per call).
 * - memory: `approxBytes()` after indexing N KiB, and the RSS growth of 100 sessions that each
 *   indexed 64 KiB, measured in a fresh child process after a full GC (so it is what stays
 *   resident, not pages the throughput runs left behind).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createProvenanceIndex, createRedactor, labelResult, type ProvenanceIndex } from '../src/taint/index.js';
import { markdownTable } from './lib/stats.js';
import { loadTraces } from './traces/traces.js';

const ROOT = resolve(import.meta.dirname, '..');
const DATASET = resolve(ROOT, '../shared/datasets/agentdojo/dev-traces.tgz');
const SESSION = { maxEntries: 4_096, maxWindows: 131_072, windowChars: 12 } as const;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

interface Corpus {
  source: string;
  texts: string[];
  bytes: number;
  /** Recorded call arguments, with the outputs of the same suite. */
  calls: Array<{ suite: string; args: Record<string, unknown> }>;
  bySuite: Map<string, string[]>;
  toolNames: string[];
}

function generated(): Corpus {
  const words = 'the meeting budget report please review attached quarterly draft client invoice schedule project team update deadline notes agenda summary follow'.split(' ');
  let seed = 42;
  const rnd = (n: number) => {
    seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
    return seed % n;
  };
  const texts: string[] = [];
  for (let i = 0; i < 4_000; i++) {
    const parts: string[] = [];
    for (let w = 0; w < 60 + rnd(200); w++) parts.push(words[rnd(words.length)]!);
    parts.splice(rnd(parts.length), 0, `user${i}@example.com`, `https://site${i % 97}.example.org/p/${i}`, `GB${10 + (i % 89)}NWBK6016133192${String(i).padStart(4, '0')}`);
    texts.push(parts.join(' '));
  }
  const bySuite = new Map([['generated', texts]]);
  return { source: 'generated prose', texts, bytes: byteSize(texts), calls: texts.slice(0, 500).map((t) => ({ suite: 'generated', args: { body: t.slice(0, 200), to: 'someone@example.net' } })), bySuite, toolNames: ['generated__send', 'generated__read'] };
}

function byteSize(texts: readonly string[]): number {
  return texts.reduce((n, t) => n + Buffer.byteLength(t), 0);
}

function fromTraces(dir: string): Corpus {
  const traces = loadTraces(dir);
  const seen = new Set<string>();
  const texts: string[] = [];
  const bySuite = new Map<string, string[]>();
  const tools = new Set<string>();
  const calls: Corpus['calls'] = [];
  for (const t of traces) {
    for (const [i, c] of t.calls.entries()) {
      tools.add(`${t.suite}__${c.function}`);
      calls.push({ suite: t.suite, args: c.args });
      const out = t.outputs[i]!;
      if (out.length === 0 || seen.has(out)) continue;
      seen.add(out);
      texts.push(out);
      const list = bySuite.get(t.suite) ?? [];
      list.push(out);
      bySuite.set(t.suite, list);
    }
  }
  return { source: `AgentDojo dev traces: ${texts.length} distinct tool outputs`, texts, bytes: byteSize(texts), calls, bySuite, toolNames: [...tools] };
}

/** Runs `pass` until `seconds` have passed (at least twice); returns passes per second. */
function rate(seconds: number, pass: () => void): number {
  pass(); // warm-up
  const start = process.hrtime.bigint();
  let n = 0;
  let elapsed = 0;
  do {
    pass();
    n++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  } while (elapsed < seconds || n < 2);
  return n / elapsed;
}

const MB = 1_048_576;

/** Child process: 100 session indexes of 64 KiB each from the sample; prints the growth per session as JSON. */
function sessionsChild(file: string): void {
  const text = readFileSync(file, 'utf8');
  gc();
  gc();
  const before = process.memoryUsage();
  const sessions: ProvenanceIndex[] = [];
  for (let s = 0; s < 100; s++) {
    const index = createProvenanceIndex({ ...SESSION, seed: s });
    const start = (s * 7_919) % Math.max(1, text.length - 65_536);
    index.add(text.slice(start, start + 65_536), { source: 'bench__read', callId: `c-${s}` });
    index.addTrusted({ query: `arguments of session ${s}` });
    sessions.push(index);
  }
  gc();
  gc();
  const after = process.memoryUsage();
  const n = sessions.length;
  process.stdout.write(
    JSON.stringify({
      rss: (after.rss - before.rss) / n,
      heap: (after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers) / n,
      approx: sessions.reduce((sum, i) => sum + i.approxBytes(), 0) / n,
    }),
  );
}

function main(): void {
  const { values } = parseArgs({ options: { dir: { type: 'string' }, seconds: { type: 'string', default: '2' }, 'sessions-child': { type: 'string' } }, strict: true });
  if (values['sessions-child']) return sessionsChild(values['sessions-child']);
  const seconds = Number(values.seconds);
  let unpacked: string | undefined;
  let corpus: Corpus;
  if (values.dir) corpus = fromTraces(resolve(values.dir));
  else if (existsSync(DATASET)) {
    unpacked = mkdtempSync(join(tmpdir(), 'portcullis-taint-bench-'));
    execFileSync('tar', ['-xzf', DATASET, '-C', unpacked]);
    corpus = fromTraces(unpacked);
  } else corpus = generated();
  try {
    report(corpus, seconds);
  } finally {
    if (unpacked) rmSync(unpacked, { recursive: true, force: true });
  }
}

function report(corpus: Corpus, seconds: number): void {
  const redact = createRedactor(['sk-live-bench-secret-0123456789', 'ghp_benchmarkToken0123456789abcdef']);
  const results = corpus.texts.map((text) => ({ content: [{ type: 'text', text }] }));
  process.stderr.write(`  corpus: ${corpus.source}, ${(corpus.bytes / MB).toFixed(2)} MB\n`);

  // Labelling: sanitise, redact, scan for markers, wrap.
  let labelled = 0;
  const labelRate = rate(seconds, () => {
    for (let i = 0; i < results.length; i++) {
      const out = labelResult(results[i]!, { source: 'bench__read', callId: `c-${i}`, boundary: 'b3nchb0undary0123', wrap: 'tag', redact, toolNames: corpus.toolNames });
      labelled += out.texts.length;
    }
  });

  // Indexing: a fresh session index every 256 KiB of text.
  const chunks: string[][] = [];
  let current: string[] = [];
  let size = 0;
  for (const t of corpus.texts) {
    current.push(t);
    size += t.length;
    if (size >= 256 * 1024) {
      chunks.push(current);
      current = [];
      size = 0;
    }
  }
  if (current.length > 0) chunks.push(current);
  const indexRate = rate(seconds, () => {
    for (const chunk of chunks) {
      const index = createProvenanceIndex({ ...SESSION, seed: 7 });
      for (let i = 0; i < chunk.length; i++) index.add(chunk[i]!, { source: 'bench__read', callId: `c-${i}` });
    }
  });

  // Matching: every recorded call against an index of its suite's outputs (bounded like a session).
  const suiteIndex = new Map<string, ProvenanceIndex>();
  for (const [suite, texts] of corpus.bySuite) {
    const index = createProvenanceIndex({ ...SESSION, seed: 7 });
    for (const [i, t] of texts.entries()) index.add(t, { source: `${suite}__read`, callId: `c-${i}` });
    suiteIndex.set(suite, index);
  }
  let hits = 0;
  const matchRate = rate(seconds, () => {
    for (const call of corpus.calls) hits += suiteIndex.get(call.suite)!.match(call.args, { minCopiedChars: 12 }).length;
  });

  const throughput = markdownTable(
    ['operation', 'throughput', 'per item'],
    [
      ['label (strip, redact, markers, wrap)', `${((labelRate * corpus.bytes) / MB).toFixed(1)} MB/s`, `${(1e6 / (labelRate * results.length)).toFixed(1)} µs per result`],
      ['provenance index (entities + windows)', `${((indexRate * corpus.bytes) / MB).toFixed(1)} MB/s`, `${(1e6 / (indexRate * corpus.texts.length)).toFixed(1)} µs per result`],
      ['provenance match (call arguments)', `${(matchRate * corpus.calls.length).toFixed(0)} calls/s`, `${(1e6 / (matchRate * corpus.calls.length)).toFixed(1)} µs per call`],
    ],
    ['l', 'r', 'r'],
  );

  // Memory: approxBytes after N KiB, and RSS for 100 sessions.
  const text = corpus.texts.join('\n');
  const memoryRows: string[][] = [];
  for (const kib of [16, 64, 256, 1_024, 4_096]) {
    const index = createProvenanceIndex({ ...SESSION, seed: 7 });
    let fed = 0;
    let k = 0;
    while (fed < kib * 1024) {
      const piece = text.slice((k * 65_536) % Math.max(1, text.length - 65_536), ((k * 65_536) % Math.max(1, text.length - 65_536)) + Math.min(65_536, kib * 1024 - fed));
      index.add(piece, { source: 'bench__read', callId: `c-${k++}` });
      fed += piece.length;
    }
    memoryRows.push([`${kib} KiB`, `${(index.approxBytes() / 1024).toFixed(0)} KiB`, `${(index.approxBytes() / (kib * 1024)).toFixed(2)}×`]);
  }
  const memory = markdownTable(['indexed text', 'approxBytes', 'per byte indexed'], memoryRows, ['r', 'r', 'r']);

  const sample = join(mkdtempSync(join(tmpdir(), 'portcullis-taint-sessions-')), 'sample.txt');
  writeFileSync(sample, text);
  let child: { rss: number; heap: number; approx: number };
  try {
    const out = execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/taint.ts'), '--sessions-child', sample], { cwd: ROOT, encoding: 'utf8' });
    child = JSON.parse(out) as typeof child;
  } finally {
    rmSync(resolve(sample, '..'), { recursive: true, force: true });
  }
  const perSession = markdownTable(
    ['100 sessions × 64 KiB indexed (fresh process)', 'per session'],
    [
      ['RSS growth', `${(child.rss / 1024).toFixed(0)} KiB`],
      ['heap + array buffers growth', `${(child.heap / 1024).toFixed(0)} KiB`],
      ['approxBytes()', `${(child.approx / 1024).toFixed(0)} KiB`],
    ],
    ['l', 'r'],
  );
  if (hits < 0 || labelled < 0) throw new Error('unreachable');

  process.stdout.write(
    [
      `## Taint core (${corpus.source}, ${(corpus.bytes / MB).toFixed(2)} MB; node ${process.version})`,
      '',
      throughput,
      '',
      memory,
      '',
      perSession,
      '',
    ].join('\n'),
  );
}

main();
