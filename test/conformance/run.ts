/**
 * Conformance harness: runs the server scenarios of @modelcontextprotocol/conformance against
 *
 *   a  reference-direct     test/fixtures/reference-server.ts over Streamable HTTP
 *   b  reference-gateway    the same server (stdio upstream) behind `portcullis serve`
 *   c  everything-direct    @modelcontextprotocol/server-everything over Streamable HTTP
 *   d  everything-gateway   server-everything (stdio upstream) behind `portcullis serve`
 *
 * and prints scenario → pass/fail per target. Exit 0 only when (a) passes every scenario,
 * (b) passes every scenario (a) passes, and (d) every scenario (c) passes. 1 otherwise, 2 on
 * usage errors.
 *
 *   node --import tsx test/conformance/run.ts [--only a,b,c,d] [--scenario NAME[,NAME…]]
 *                                             [--suite-timeout SECONDS] [--gateway FILE]
 *
 * Results (checks.json per scenario, logs, the generated gateway config and its audit log) go to
 * test-results/conformance/<target>/. `--gateway FILE` runs another gateway script in place of
 * bin/portcullis.js (same argv), e.g. to compare against a plain proxy.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { stringify } from 'yaml';

// ---------------------------------------------------------------------------------------------
// Paths and constants

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const RESULTS = join(ROOT, 'test-results', 'conformance');
const REFERENCE_SERVER = join(ROOT, 'test', 'fixtures', 'reference-server.ts');
const EVERYTHING = join(ROOT, 'node_modules', '@modelcontextprotocol', 'server-everything', 'dist', 'index.js');
const CONFORMANCE_BIN = join(ROOT, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
const DEFAULT_GATEWAY_BIN = join(ROOT, 'bin', 'portcullis.js');
const GATEWAY_BUILT = join(ROOT, 'dist', 'cli', 'index.js');
/** `--gateway FILE` swaps in another gateway script (run as `node FILE serve -c CFG --listen H:P`). */
let gatewayBin = DEFAULT_GATEWAY_BIN;
/** The conformance CLI needs `fs.globSync` (Node 22+); on Node 20 this loader hook adds it. */
const NODE20_SHIM = resolve(ROOT, '..', 'shared', 'tools', 'conformance-node20', 'register.mjs');

const START_TIMEOUT_MS = 30_000;
const GATEWAY_START_TIMEOUT_MS = 60_000;
const LIST_TIMEOUT_MS = 60_000;
const TOTAL_TIMEOUT_MS = 20 * 60_000;

type TargetId = 'a' | 'b' | 'c' | 'd';

interface Target {
  id: TargetId;
  name: string;
  title: string;
  /** Starts what the suite talks to; returns the MCP endpoint URL. */
  start(dir: string): Promise<string>;
  /** For gateway targets: the direct target whose passes this one must reproduce. */
  baseline?: TargetId;
}

interface TargetResult {
  target: Target;
  /** scenario → passed; absent = not run (counts as failed). */
  scenarios: Map<string, boolean>;
  error?: string;
  durationMs: number;
}

// ---------------------------------------------------------------------------------------------
// Child processes: each in its own process group, killed as a group on exit.

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

async function stopChild(child: ChildProcess, graceMs = 3_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    children.delete(child);
    return;
  }
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  killGroup(child, 'SIGTERM');
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
  await Promise.race([exited, new Promise((r) => setTimeout(r, graceMs + 2_000))]);
  clearTimeout(timer);
  // The group may outlive its leader (grandchildren); make sure nothing is left behind.
  killGroup(child, 'SIGKILL');
  children.delete(child);
}

async function cleanup(): Promise<void> {
  await Promise.all([...children].map((child) => stopChild(child, 1_000)));
  await Promise.all([...tempDirs].map((dir) => rm(dir, { recursive: true, force: true }).catch(() => {})));
  tempDirs.clear();
}

function cleanupSync(): void {
  for (const child of children) killGroup(child, 'SIGKILL');
}

interface Spawned {
  child: ChildProcess;
  log: WriteStream;
  /** The last lines of output, for error messages. */
  tail(): string;
}

function spawnLogged(command: string, args: string[], opts: { env?: NodeJS.ProcessEnv; logFile: string; onLine?: (line: string) => void }): Spawned {
  const log = createWriteStream(opts.logFile, { flags: 'a' });
  const child = spawn(command, args, {
    cwd: ROOT,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // own process group, so the whole tree can be killed
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const lines: string[] = [];
  const feed = (stream: NodeJS.ReadableStream | null) => {
    if (!stream) return;
    let partial = '';
    stream.on('data', (chunk: Buffer) => {
      log.write(chunk);
      partial += chunk.toString('utf8');
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        if (lines.length > 40) lines.shift();
        opts.onLine?.(line);
      }
    });
  };
  feed(child.stdout);
  feed(child.stderr);
  return { child, log, tail: () => lines.slice(-15).join('\n') };
}

/** Resolves once `ready()` says so; rejects if the process exits first or time runs out. */
function waitReady(spawned: Spawned, what: string, timeoutMs: number, ready: (signal: AbortSignal) => Promise<boolean>): Promise<void> {
  return new Promise<void>((resolveReady, reject) => {
    const abort = new AbortController();
    let settled = false;
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      abort.abort();
      clearTimeout(timer);
      spawned.child.off('exit', onExit);
      if (error) reject(error);
      else resolveReady();
    };
    const onExit = (code: number | null, signal: string | null) =>
      finish(new Error(`${what} exited before it was ready (code ${code}, signal ${signal})\n${spawned.tail()}`));
    const timer = setTimeout(() => finish(new Error(`${what} not ready after ${timeoutMs / 1000}s\n${spawned.tail()}`)), timeoutMs);
    spawned.child.once('exit', onExit);
    void (async () => {
      while (!settled) {
        try {
          if (await ready(abort.signal)) return finish();
        } catch {
          /* not yet */
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolvePort(port));
    });
  });
}

async function httpStatus(url: string, signal: AbortSignal): Promise<number> {
  const response = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(2_000)]) });
  await response.body?.cancel();
  return response.status;
}

// ---------------------------------------------------------------------------------------------
// Targets

/** The reference server over HTTP; it prints `listening on URL` once ready. */
async function startReference(dir: string): Promise<string> {
  let url: string | undefined;
  const spawned = spawnLogged(process.execPath, ['--import', 'tsx', REFERENCE_SERVER, '--http', '0'], {
    logFile: join(dir, 'server.log'),
    onLine: (line) => {
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) url = m[1];
    },
  });
  await waitReady(spawned, 'reference server', START_TIMEOUT_MS, async () => url !== undefined);
  return url!;
}

/** server-everything's streamableHttp mode; the port comes from $PORT (it binds every interface). */
async function startEverything(dir: string): Promise<string> {
  const port = await freePort();
  let ready = false;
  const spawned = spawnLogged(process.execPath, [EVERYTHING, 'streamableHttp'], {
    env: { ...process.env, PORT: String(port) },
    logFile: join(dir, 'server.log'),
    onLine: (line) => {
      if (/listening on port/i.test(line)) ready = true;
    },
  });
  await waitReady(spawned, 'server-everything', START_TIMEOUT_MS, async () => ready);
  return `http://127.0.0.1:${port}/mcp`;
}

/** `portcullis serve` with one stdio upstream, names unprefixed, everything allowed. */
async function startGateway(dir: string, upstream: { key: string; command: string; args: string[] }): Promise<string> {
  if (gatewayBin === DEFAULT_GATEWAY_BIN && !existsSync(GATEWAY_BUILT)) throw new Error(`the gateway is not built (${GATEWAY_BUILT} missing): run npm run build`);
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  const tmp = await mkdtemp(join(tmpdir(), 'portcullis-conformance-'));
  tempDirs.add(tmp);
  const config = {
    version: 1,
    gateway: { listen, audit: { file: join(tmp, 'audit.jsonl') }, state: join(tmp, 'state') },
    servers: {
      [upstream.key]: { command: upstream.command, args: upstream.args, cwd: ROOT, prefix: '' },
    },
    agents: {
      default: {
        rules: [{ allow: '**' }],
        resources: [{ allow: '**' }],
        prompts: [{ allow: '**' }],
      },
    },
  };
  const configFile = join(tmp, 'portcullis.yaml');
  await writeFile(configFile, stringify(config));
  await copyFile(configFile, join(dir, 'portcullis.yaml'));
  const spawned = spawnLogged(process.execPath, [gatewayBin, 'serve', '-c', configFile, '--listen', listen], {
    logFile: join(dir, 'gateway.log'),
  });
  // Ready when /readyz (upstreams up) answers 200; a gateway without /readyz is ready on /healthz.
  await waitReady(spawned, 'gateway', GATEWAY_START_TIMEOUT_MS, async (signal) => {
    const readyz = await httpStatus(`http://${listen}/readyz`, signal);
    if (readyz === 200) return true;
    return readyz === 404 && (await httpStatus(`http://${listen}/healthz`, signal)) === 200;
  });
  return `http://${listen}/mcp`;
}

const TARGETS: Record<TargetId, Target> = {
  a: { id: 'a', name: 'reference-direct', title: 'reference server, direct (HTTP)', start: startReference },
  b: {
    id: 'b',
    name: 'reference-gateway',
    title: 'reference server behind the gateway',
    baseline: 'a',
    start: (dir) => startGateway(dir, { key: 'ref', command: 'node', args: ['--import', 'tsx', REFERENCE_SERVER, '--stdio'] }),
  },
  c: { id: 'c', name: 'everything-direct', title: 'server-everything, direct (HTTP)', start: startEverything },
  d: {
    id: 'd',
    name: 'everything-gateway',
    title: 'server-everything behind the gateway',
    baseline: 'c',
    start: (dir) => startGateway(dir, { key: 'everything', command: 'node', args: [EVERYTHING, 'stdio'] }),
  },
};

// ---------------------------------------------------------------------------------------------
// The conformance CLI

function conformanceEnv(): NodeJS.ProcessEnv {
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= 22) return process.env;
  if (!existsSync(NODE20_SHIM)) {
    throw new Error(`Node ${process.versions.node} needs the conformance loader shim, not found at ${NODE20_SHIM} (expected ../shared beside the repository)`);
  }
  const nodeOptions = [process.env.NODE_OPTIONS, `--import ${JSON.stringify(NODE20_SHIM)}`].filter(Boolean).join(' ');
  return { ...process.env, NODE_OPTIONS: nodeOptions };
}

/** Runs the CLI to completion (or until the timeout kills it); returns its exit code. */
async function runConformance(args: string[], logFile: string, timeoutMs: number, onLine?: (line: string) => void): Promise<number | null> {
  const spawned = spawnLogged(process.execPath, [CONFORMANCE_BIN, ...args], { env: conformanceEnv(), logFile, ...(onLine ? { onLine } : {}) });
  const exited = new Promise<number | null>((resolveExit) => spawned.child.once('exit', (code) => resolveExit(code)));
  const timer = setTimeout(() => {
    spawned.log.write(`\n[run.ts] timed out after ${timeoutMs / 1000}s; killing the suite\n`);
    void stopChild(spawned.child, 1_000);
  }, timeoutMs);
  const code = await exited;
  clearTimeout(timer);
  await new Promise<void>((r) => spawned.log.end(() => r()));
  return code;
}

async function listScenarios(): Promise<string[]> {
  await mkdir(RESULTS, { recursive: true });
  const names: string[] = [];
  let inServer = false;
  await runConformance(['list', '--server'], join(RESULTS, 'list.log'), LIST_TIMEOUT_MS, (line) => {
    if (/^Server scenarios/.test(line)) inServer = true;
    else if (/^\S/.test(line)) inServer = false;
    const m = /^\s+-\s+(\S+)/.exec(line);
    if (inServer && m) names.push(m[1]!);
  });
  if (names.length === 0) throw new Error(`could not list the conformance scenarios; see ${join(RESULTS, 'list.log')}`);
  return names;
}

/** The CLI writes `<dir>/server-<scenario>-<ISO time>/checks.json`; a FAILURE check fails it. */
async function readResults(dir: string): Promise<Map<string, boolean>> {
  const results = new Map<string, boolean>();
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const m = /^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/.exec(entry.name);
    if (!entry.isDirectory() || !m) continue;
    const scenario = m[1]!;
    let passed = false;
    try {
      const checks = JSON.parse(await readFile(join(dir, entry.name, 'checks.json'), 'utf8')) as Array<{ status?: string }>;
      passed = Array.isArray(checks) && !checks.some((check) => check.status === 'FAILURE');
    } catch {
      passed = false;
    }
    results.set(scenario, (results.get(scenario) ?? true) && passed);
  }
  return results;
}

async function runTarget(target: Target, scenarios: string[], selected: string[] | undefined, suiteTimeoutMs: number): Promise<TargetResult> {
  const started = Date.now();
  const dir = join(RESULTS, target.name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const checksDir = join(dir, 'scenarios');
  await mkdir(checksDir, { recursive: true });
  const before = new Set(children);
  let error: string | undefined;
  try {
    console.error(`[${target.id}] starting ${target.title} …`);
    const url = await target.start(dir);
    console.error(`[${target.id}] ${url}: running ${selected ? selected.join(', ') : `${scenarios.length} scenarios`} …`);
    const runs = selected ? selected.map((s) => ['--scenario', s]) : [['--suite', 'all']];
    const deadline = Date.now() + suiteTimeoutMs;
    for (const run of runs) {
      const left = deadline - Date.now();
      if (left <= 0) {
        error = `suite timed out after ${suiteTimeoutMs / 1000}s`;
        break;
      }
      const code = await runConformance(['server', '--url', url, ...run, '-o', checksDir], join(dir, 'conformance.log'), left);
      if (code === null) error = `suite timed out after ${suiteTimeoutMs / 1000}s`;
    }
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
  } finally {
    // Stop what this target started (server or gateway, with their process trees).
    await Promise.all([...children].filter((c) => !before.has(c)).map((c) => stopChild(c)));
    for (const tmp of [...tempDirs]) {
      if (existsSync(join(tmp, 'audit.jsonl'))) await copyFile(join(tmp, 'audit.jsonl'), join(dir, 'audit.jsonl')).catch(() => {});
      await rm(tmp, { recursive: true, force: true }).catch(() => {});
      tempDirs.delete(tmp);
    }
  }
  const found = await readResults(checksDir);
  const results = new Map<string, boolean>();
  for (const s of selected ?? scenarios) results.set(s, found.get(s) ?? false);
  for (const [s, passed] of found) if (!results.has(s)) results.set(s, passed);
  const result: TargetResult = { target, scenarios: results, durationMs: Date.now() - started, ...(error ? { error } : {}) };
  await writeFile(
    join(dir, 'summary.json'),
    JSON.stringify(
      {
        target: target.name,
        title: target.title,
        error: error ?? null,
        durationMs: result.durationMs,
        passed: [...results].filter(([, p]) => p).map(([s]) => s),
        failed: [...results].filter(([, p]) => !p).map(([s]) => s),
      },
      null,
      2,
    ),
  );
  if (error) console.error(`[${target.id}] error: ${error}`);
  return result;
}

// ---------------------------------------------------------------------------------------------
// Command line, table, verdict

function usage(message?: string): never {
  if (message) console.error(`run.ts: ${message}`);
  console.error('usage: node --import tsx test/conformance/run.ts [--only a,b,c,d] [--scenario NAME[,NAME…]] [--suite-timeout SECONDS] [--gateway FILE]');
  console.error('  a reference-direct   b reference-gateway   c everything-direct   d everything-gateway');
  console.error('  (b needs a as its baseline and d needs c; they are added when missing)');
  process.exit(2);
}

function parseArgs(argv: string[]): { only: TargetId[]; scenarios?: string[]; suiteTimeoutMs: number; gateway?: string } {
  let gateway: string | undefined;
  let only: TargetId[] = ['a', 'b', 'c', 'd'];
  let scenarios: string[] | undefined;
  let suiteTimeoutMs = 300_000;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => inline ?? argv[++i] ?? usage(`${flag} needs a value`);
    if (flag === '--only') {
      const ids = value().split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
      for (const id of ids) if (!(id in TARGETS)) usage(`unknown target ${id}`);
      const set = new Set(ids as TargetId[]);
      if (set.has('b')) set.add('a');
      if (set.has('d')) set.add('c');
      only = (['a', 'b', 'c', 'd'] as const).filter((id) => set.has(id));
    } else if (flag === '--scenario' || flag === '--scenarios') {
      scenarios = value().split(',').map((s) => s.trim()).filter(Boolean);
    } else if (flag === '--suite-timeout') {
      const seconds = Number(value());
      if (!Number.isFinite(seconds) || seconds <= 0) usage('--suite-timeout takes a positive number of seconds');
      suiteTimeoutMs = seconds * 1000;
    } else if (flag === '--gateway') {
      gateway = resolve(value());
      if (!existsSync(gateway)) usage(`--gateway: ${gateway} not found`);
    } else if (flag === '--help' || flag === '-h') {
      usage();
    } else {
      usage(`unknown argument ${arg}`);
    }
  }
  if (only.length === 0) usage('--only selected no target');
  return { only, ...(scenarios ? { scenarios } : {}), suiteTimeoutMs, ...(gateway ? { gateway } : {}) };
}

function printTable(scenarios: string[], results: TargetResult[]): void {
  const header = ['scenario', ...results.map((r) => `${r.target.id}:${r.target.name}`)];
  const rows = scenarios.map((s) => [s, ...results.map((r) => (r.scenarios.get(s) === undefined ? '-' : r.scenarios.get(s) ? 'pass' : 'FAIL'))]);
  const totals = ['passed', ...results.map((r) => `${[...r.scenarios.values()].filter(Boolean).length}/${r.scenarios.size}`)];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length), totals[i]!.length));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  console.log(line(totals));
}

function verdict(scenarios: string[], results: Map<TargetId, TargetResult>): string[] {
  const problems: string[] = [];
  const passes = (id: TargetId, s: string) => results.get(id)?.scenarios.get(s) === true;
  const a = results.get('a');
  if (a) {
    const failed = scenarios.filter((s) => !passes('a', s));
    if (failed.length) problems.push(`(a) must pass every scenario; fails ${failed.join(', ')}`);
  }
  for (const [id, baseline] of [['b', 'a'], ['d', 'c']] as const) {
    const r = results.get(id);
    if (!r) continue;
    if (r.error && ![...r.scenarios.values()].some(Boolean)) continue; // reported below
    const regressed = scenarios.filter((s) => passes(baseline, s) && !passes(id, s));
    if (regressed.length) problems.push(`(${id}) fails what (${baseline}) passes: ${regressed.join(', ')}`);
  }
  for (const r of results.values()) if (r.error) problems.push(`(${r.target.id}) ${r.error.split('\n')[0]}`);
  return problems;
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  if (options.gateway) gatewayBin = options.gateway;
  if (!existsSync(CONFORMANCE_BIN)) throw new Error(`${CONFORMANCE_BIN} missing: run npm ci`);
  const all = await listScenarios();
  if (options.scenarios) for (const s of options.scenarios) if (!all.includes(s)) usage(`unknown scenario ${s}`);
  const scenarios = options.scenarios ?? all;

  const results = new Map<TargetId, TargetResult>();
  for (const id of options.only) results.set(id, await runTarget(TARGETS[id], all, options.scenarios, options.suiteTimeoutMs));

  console.log('');
  printTable(scenarios, [...results.values()]);
  console.log('');
  for (const r of results.values()) {
    console.log(`${r.target.id}  ${r.target.name.padEnd(18)} ${r.target.title} (${(r.durationMs / 1000).toFixed(1)}s) → ${join('test-results', 'conformance', r.target.name)}/`);
  }
  const problems = verdict(scenarios, results);
  console.log('');
  if (problems.length === 0) {
    console.log('conformance: OK');
    return 0;
  }
  for (const p of problems) console.log(`conformance: ${p}`);
  return 1;
}

const overall = setTimeout(() => {
  console.error(`run.ts: gave up after ${TOTAL_TIMEOUT_MS / 60_000} minutes`);
  cleanupSync();
  process.exit(1);
}, TOTAL_TIMEOUT_MS);
overall.unref();

process.on('exit', cleanupSync);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    console.error(`run.ts: ${signal}, stopping`);
    void cleanup().finally(() => process.exit(130));
  });
}

let exitCode = 1;
try {
  exitCode = await main();
} catch (e) {
  console.error(`run.ts: ${e instanceof Error ? e.message : String(e)}`);
  exitCode = 2;
} finally {
  await cleanup();
}
process.exit(exitCode);
