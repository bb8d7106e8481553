/**
 * Forwarding overhead (SPEC §11, issue 2):
 *   (a) stdio client → gateway (`serve --stdio`) → stdio upstream, against the same client
 *       spawning the upstream itself;
 *   (b) Streamable HTTP client (2025-era session) → gateway `/mcp` → stdio upstream, against the
 *       same client → mcp-proxy fronting the same upstream.
 * Each cell (payload × concurrency) of each target is measured on fresh processes, `runs` times,
 * the two targets of a pair back to back (alternating which goes first); medians across runs.
 * Policy, audit (arguments: full) and info logging stay on in the gateway. Every upstream leg
 * speaks the 2025-era protocol, as the baselines' clients do.
 * Also: gateway RSS idle and with 100 open HTTP sessions (and mcp-proxy's, for reference).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { stringify } from 'yaml';
import { drive, type LoadResult } from '../lib/load.js';
import { transpileFixture } from '../lib/fixture.js';
import { cpuOf, freePort, processTree, rssMiB, sleep, startProc, waitForHttp, type Proc } from '../lib/procs.js';
import { fmt, markdownTable, median } from '../lib/stats.js';
import { goal, type BenchOptions, type Goal, type Section, type SectionResult } from '../lib/types.js';

const CLIENT_INFO = { name: 'portcullis-bench', version: '1.0.0' };
const BLOB_BYTES = 64 * 1024;
const SESSIONS = 100;
const targetsOf = (pair: Pair): Target[] => [pair.baseline, ...(pair.reference ? [pair.reference] : []), pair.gateway];

/** A call that takes this long is an error, not a measurement. */
const CALL_TIMEOUT_MS = 20_000;

type Payload = 'tiny' | '64KiB';
const PAYLOADS: readonly Payload[] = ['tiny', '64KiB'];
const CONCURRENCY = [1, 8] as const;

interface Running {
  readonly client: Client;
  /** The exposed name of an upstream tool (`echo` / `blob`) through this target. */
  readonly prefix: string;
  /** The process the client talks to: the proxy (its descendants are the upstream), or the upstream itself. */
  readonly pid: number;
  readonly viaProxy: boolean;
  /** The tail of the proxy's (or upstream's) stderr, for error reports. */
  stderrTail(): string;
  stop(): Promise<void>;
}

interface Target {
  readonly id: string;
  readonly label: string;
  start(options: BenchOptions): Promise<Running>;
}

interface Pair {
  readonly id: 'a' | 'b';
  readonly title: string;
  readonly baseline: Target;
  readonly gateway: Target;
  /** Measured alongside for scale, not a goal: what a proxy costs that does nothing but relay. */
  readonly reference?: Target;
}

const FIXTURE = 'bench/echo-server.ts';
const RELAY = 'bench/relay.ts';
/** The fixture transpiled to plain JS (see transpileFixture); tsx until the section has started. */
let compiledFixture: string | undefined;
let compiledRelay: string | undefined;

/** The upstream fixture as a command line (after `node`). */
function upstreamArgs(root: string): string[] {
  return compiledFixture ? [compiledFixture] : ['--import', 'tsx', join(root, FIXTURE)];
}

/** A gateway config in a fresh temp folder: one stdio upstream, allow rules, audit + info log. */
function writeGatewayConfig(root: string): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-'));
  const file = join(dir, 'portcullis.yaml');
  const config = {
    version: 1,
    gateway: {
      audit: { file: join(dir, 'audit.jsonl'), arguments: 'full' },
      state: join(dir, 'state'),
      logLevel: 'info',
    },
    servers: {
      // The era the baselines speak to the upstream (the SDK client by default, mcp-proxy's v1
      // client): the same protocol on every upstream leg.
      bench: { command: process.execPath, args: upstreamArgs(root), cwd: root, protocol: 'legacy' },
    },
    agents: {
      default: {
        rules: [
          { allow: 'bench__echo' },
          { allow: 'bench__blob', where: { bytes: { max: 1_048_576 } } },
        ],
      },
    },
  };
  writeFileSync(file, stringify(config));
  return { dir, file };
}

async function stdioClient(command: string, args: string[], cwd: string): Promise<{ client: Client; pid: number; stderrTail: () => string }> {
  const transport = new StdioClientTransport({ command, args, cwd, stderr: 'pipe' });
  let tail = '';
  // Drain (the gateway logs at info), keeping the last few KiB for error reports.
  transport.stderr?.on('data', (d: Buffer) => (tail = (tail + d.toString('utf8')).slice(-8_192)));
  const client = new Client(CLIENT_INFO);
  await client.connect(transport);
  if (transport.pid === null) throw new Error(`${command} has no pid`);
  return { client, pid: transport.pid, stderrTail: () => tail };
}

/**
 * The client's fetch, minus a cost that is the load generator's, not the server's: the SDK
 * transport passes one long-lived AbortSignal to every POST, and undici's fetch leaves an abort
 * listener on it until that request is garbage-collected. Thousands pile up on a fast run, and
 * each new listener is checked against all of them, so the client slows down the more calls a
 * server answers. POSTs go without the signal (the benchmark never aborts one); GETs keep it.
 */
const benchFetch: typeof fetch = (input, init) => fetch(input, init?.method === 'POST' ? { ...init, signal: null } : init);

async function httpClient(url: string): Promise<Client> {
  const client = new Client(CLIENT_INFO);
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { fetch: benchFetch }));
  return client;
}

async function closeQuietly(client: Client): Promise<void> {
  try {
    await client.close();
  } catch {
    // the far end may already be gone
  }
}

const directStdio: Target = {
  id: 'direct',
  label: 'direct (client spawns upstream)',
  async start(o) {
    const { client, pid, stderrTail } = await stdioClient(process.execPath, upstreamArgs(o.root), o.root);
    return { client, pid, viaProxy: false, prefix: '', stderrTail, stop: () => closeQuietly(client) };
  },
};

const relayStdio: Target = {
  id: 'relay',
  label: 'bare relay (reference)',
  async start(o) {
    if (!compiledRelay) throw new Error('the relay is not compiled');
    const { client, pid, stderrTail } = await stdioClient(process.execPath, [compiledRelay, process.execPath, ...upstreamArgs(o.root)], o.root);
    return { client, pid, viaProxy: true, prefix: '', stderrTail, stop: () => closeQuietly(client) };
  },
};

const gatewayStdio: Target = {
  id: 'gateway',
  label: 'gateway `serve --stdio`',
  async start(o) {
    const { dir, file } = writeGatewayConfig(o.root);
    const { client, pid, stderrTail } = await stdioClient(process.execPath, [join(o.root, 'bin/portcullis.js'), 'serve', '--stdio', '-c', file], o.root);
    return {
      client,
      pid,
      viaProxy: true,
      stderrTail,
      prefix: 'bench__',
      async stop() {
        await closeQuietly(client);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

interface HttpServerProc {
  readonly proc: Proc;
  readonly url: string;
  readonly prefix: string;
  cleanup(): void;
}

async function startHttpGateway(o: BenchOptions): Promise<HttpServerProc> {
  const { dir, file } = writeGatewayConfig(o.root);
  const proc = startProc(process.execPath, [join(o.root, 'bin/portcullis.js'), 'serve', '-c', file, '--listen', '127.0.0.1:0'], { cwd: o.root });
  try {
    const m = await proc.waitForStderr(/MCP endpoint (http:\/\/\S+)/, 30_000);
    return { proc, url: m[1]!, prefix: 'bench__', cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (error) {
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** The mcp-proxy command line, for the report. */
export function mcpProxyArgs(root: string, port: number): string[] {
  return [join(root, 'node_modules/mcp-proxy/dist/bin/mcp-proxy.mjs'), '--host', '127.0.0.1', '--port', String(port), '--server', 'stream', '--', process.execPath, ...upstreamArgs(root)];
}

/** As run, with paths relative to the repository root. */
function mcpProxyCommand(root: string): string {
  return ['node', ...mcpProxyArgs(root, 0)].join(' ').replaceAll(process.execPath, 'node').replaceAll(`${root}/`, '').replace('--port 0', '--port PORT');
}

async function startMcpProxy(o: BenchOptions): Promise<HttpServerProc> {
  const port = await freePort();
  const proc = startProc(process.execPath, mcpProxyArgs(o.root, port), { cwd: o.root });
  const url = `http://127.0.0.1:${port}/mcp`;
  try {
    // It prints "starting server" before it listens: poll the port instead.
    await waitForHttp(url, 30_000, () => proc.child.exitCode === null);
    return { proc, url, prefix: '', cleanup: () => {} };
  } catch (error) {
    await proc.stop();
    throw error;
  }
}

function httpTarget(id: string, label: string, startServer: (o: BenchOptions) => Promise<HttpServerProc>): Target {
  return {
    id,
    label,
    async start(o) {
      const server = await startServer(o);
      let client: Client;
      try {
        client = await httpClient(server.url);
      } catch (error) {
        await server.proc.stop();
        server.cleanup();
        throw error;
      }
      return {
        client,
        pid: server.proc.pid,
        viaProxy: true,
        stderrTail: () => server.proc.stderrTail(),
        prefix: server.prefix,
        async stop() {
          await closeQuietly(client);
          await server.proc.stop();
          server.cleanup();
        },
      };
    },
  };
}

const gatewayHttp = httpTarget('gateway', 'gateway `/mcp`', startHttpGateway);
const mcpProxyHttp = httpTarget('mcp-proxy', 'mcp-proxy `/mcp`', startMcpProxy);

const PAIRS: readonly Pair[] = [
  { id: 'a', title: '(a) stdio client → gateway (stdio front) → stdio upstream, vs. client → upstream directly', baseline: directStdio, gateway: gatewayStdio, reference: relayStdio },
  { id: 'b', title: '(b) Streamable HTTP client (2025-era session) → gateway /mcp → stdio upstream, vs. → mcp-proxy → same upstream', baseline: mcpProxyHttp, gateway: gatewayHttp },
];

/** One call of the given payload; throws unless the result is what the upstream sends. */
function caller(running: Running, payload: Payload): () => Promise<void> {
  const request = payload === 'tiny'
    ? { name: `${running.prefix}echo`, arguments: { text: 'ping' } }
    : { name: `${running.prefix}blob`, arguments: { bytes: BLOB_BYTES } };
  const expected = payload === 'tiny' ? 4 : BLOB_BYTES;
  return async () => {
    const result = await running.client.callTool(request, { timeout: CALL_TIMEOUT_MS });
    const block = (result.content as Array<{ type: string; text?: string }> | undefined)?.[0];
    if (result.isError || block?.type !== 'text' || (block.text?.length ?? 0) < expected) {
      throw new Error(`unexpected result from ${request.name}: ${JSON.stringify(result).slice(0, 300)}`);
    }
  };
}

/** CPU per call, in µs, of each process in the chain (from schedstat, all threads). */
interface CpuPerCall {
  /** The gateway or mcp-proxy; absent for the direct baseline. */
  readonly proxy?: number;
  readonly upstream: number;
  /** The benchmark process, i.e. the client. */
  readonly client: number;
  /** µs per call the proxy's threads (or the upstream's, direct) waited runnable for a CPU. */
  readonly runQueueWait: number;
}

interface Measured extends LoadResult {
  readonly warmupCalls: number;
  readonly cpu: CpuPerCall;
}

async function measure(target: Target, payload: Payload, concurrency: number, o: BenchOptions): Promise<Measured> {
  const running = await target.start(o);
  try {
    const call = caller(running, payload);
    await call(); // fail fast on a broken setup, before timing anything
    let tree: number[] = [];
    let before: Array<{ onCpuNs: number; waitNs: number }> = [];
    let after: typeof before = [];
    let clientBefore = process.cpuUsage();
    let client = 0;
    const result = await drive(call, concurrency, { ms: o.warmupMs, calls: o.warmupCalls, maxMs: o.maxWarmupMs }, o.durationMs, {
      beforeMeasure() {
        tree = processTree(running.pid);
        before = tree.map(cpuOf);
        clientBefore = process.cpuUsage();
      },
      afterMeasure() {
        const used = process.cpuUsage(clientBefore);
        client = used.user + used.system;
        after = tree.map(cpuOf);
      },
    });
    const perCall = (ns: number) => ns / 1000 / result.calls;
    const delta = (i: number) => ({ on: after[i]!.onCpuNs - before[i]!.onCpuNs, wait: after[i]!.waitNs - before[i]!.waitNs });
    const upstreamNs = tree.map((_, i) => (running.viaProxy && i === 0 ? 0 : delta(i).on)).reduce((a, b) => a + b, 0);
    const cpu: CpuPerCall = {
      ...(running.viaProxy ? { proxy: perCall(delta(0).on) } : {}),
      upstream: perCall(upstreamNs),
      client: client / result.calls,
      runQueueWait: perCall(delta(0).wait),
    };
    return { ...result, cpu };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${target.label}, ${payload}, conc. ${concurrency}: ${message}\n--- its stderr, last lines ---\n${running.stderrTail().split('\n').slice(-25).join('\n')}`, { cause: error });
  } finally {
    await running.stop();
  }
}

interface Cell {
  payload: Payload;
  concurrency: number;
  runs: Measured[];
  p50Ms: number;
  p99Ms: number;
  callsPerSec: number;
  cpu: { proxy?: number; upstream: number; client: number; runQueueWait: number };
}

function summarise(payload: Payload, concurrency: number, runs: Measured[]): Cell {
  const med = (f: (r: Measured) => number) => median(runs.map(f));
  const proxy = runs[0]!.cpu.proxy === undefined ? {} : { proxy: med((r) => r.cpu.proxy!) };
  return {
    payload,
    concurrency,
    runs,
    p50Ms: med((r) => r.p50Ms),
    p99Ms: med((r) => r.p99Ms),
    callsPerSec: med((r) => r.callsPerSec),
    cpu: { ...proxy, upstream: med((r) => r.cpu.upstream), client: med((r) => r.cpu.client), runQueueWait: med((r) => r.cpu.runQueueWait) },
  };
}

type PairResults = Record<string, Cell[]>;

async function runPair(pair: Pair, o: BenchOptions): Promise<PairResults> {
  const raw = new Map<string, Measured[]>();
  const key = (t: Target, p: Payload, c: number) => `${t.id}|${p}|${c}`;
  for (let run = 0; run < o.runs; run++) {
    for (const payload of PAYLOADS) {
      for (const concurrency of CONCURRENCY) {
        const targets = targetsOf(pair);
        const order = run % 2 === 0 ? targets : targets.reverse();
        for (const target of order) {
          const r = await measure(target, payload, concurrency, o);
          o.progress(
            `proxy (${pair.id}) run ${run + 1}/${o.runs} ${target.id} ${payload} c=${concurrency}: p50 ${fmt(r.p50Ms, 3)} ms, p99 ${fmt(r.p99Ms, 3)} ms, ` +
              `${fmt(r.callsPerSec, 0)} calls/s (${r.calls} calls, after ${r.warmupCalls} warm-up); CPU µs/call proxy ${fmt(r.cpu.proxy ?? Number.NaN, 0)} upstream ${fmt(r.cpu.upstream, 0)} client ${fmt(r.cpu.client, 0)}`,
          );
          const k = key(target, payload, concurrency);
          raw.set(k, [...(raw.get(k) ?? []), r]);
        }
      }
    }
  }
  const out: PairResults = {};
  for (const target of targetsOf(pair)) {
    out[target.id] = PAYLOADS.flatMap((p) => CONCURRENCY.map((c) => summarise(p, c, raw.get(key(target, p, c))!)));
  }
  return out;
}

const cellOf = (cells: Cell[], p: Payload, c: number) => cells.find((x) => x.payload === p && x.concurrency === c)!;

function pairTable(pair: Pair, results: PairResults): string {
  const rows: string[][] = [];
  for (const payload of PAYLOADS) {
    for (const c of CONCURRENCY) {
      for (const target of targetsOf(pair)) {
        const cell = cellOf(results[target.id]!, payload, c);
        const cpu = `${fmt(cell.cpu.proxy ?? Number.NaN, 0)} / ${fmt(cell.cpu.upstream, 0)} / ${fmt(cell.cpu.client, 0)}`;
        rows.push([target.label, payload, String(c), fmt(cell.p50Ms, 3), fmt(cell.p99Ms, 3), fmt(cell.callsPerSec, 0), cpu]);
      }
    }
  }
  return markdownTable(['target', 'result', 'conc.', 'p50 ms', 'p99 ms', 'calls/s', 'CPU µs/call proxy / upstream / client'], rows, ['l', 'l', 'r', 'r', 'r', 'r', 'r']);
}

function pairGoals(pair: Pair, results: PairResults): { goals: Goal[]; ratios: string[][]; bounds: string[][] } {
  const base = results[pair.baseline.id]!;
  const gw = results[pair.gateway.id]!;
  const goals: Goal[] = [];
  const ratios: string[][] = [];
  const bounds: string[][] = [];
  for (const payload of PAYLOADS) {
    const b1 = cellOf(base, payload, 1);
    const g1 = cellOf(gw, payload, 1);
    const b8 = cellOf(base, payload, 8);
    const g8 = cellOf(gw, payload, 8);
    const tput8 = g8.callsPerSec / b8.callsPerSec;
    const p50r1 = g1.p50Ms / b1.p50Ms;
    const ratioRow = (label: string, x1: Cell, x8: Cell) =>
      [label, fmt(x1.callsPerSec / b1.callsPerSec), fmt(x8.callsPerSec / b8.callsPerSec), fmt(x1.p50Ms / b1.p50Ms), fmt(x8.p50Ms / b8.p50Ms), fmt(x1.p50Ms - b1.p50Ms, 3), fmt(x8.p50Ms - b8.p50Ms, 3)];
    ratios.push(ratioRow(`(${pair.id}) ${payload}`, g1, g8));
    if (b1.cpu.proxy !== undefined && b8.cpu.proxy !== undefined) {
      // What the proxy costs against the baseline proxy, and the ratios a proxy costing no CPU at
      // all would reach: the three processes share the cores (calls/s ≈ cores ÷ their summed CPU
      // per call), and at c=1 the upstream's and client's CPU per call lies on the call's path.
      const cpuSum = (x: Cell) => (x.cpu.proxy ?? 0) + x.cpu.upstream + x.cpu.client;
      const others = (x: Cell) => x.cpu.upstream + x.cpu.client;
      bounds.push([`(${pair.id}) ${payload}`, fmt((g1.cpu.proxy ?? Number.NaN) / b1.cpu.proxy), fmt((g8.cpu.proxy ?? Number.NaN) / b8.cpu.proxy), fmt(cpuSum(b8) / others(g8)), fmt(others(g1) / 1000 / b1.p50Ms)]);
    }
    const ref = pair.reference && results[pair.reference.id];
    if (ref) ratios.push(ratioRow(`(${pair.id}) ${payload}, ${pair.reference!.label}`, cellOf(ref, payload, 1), cellOf(ref, payload, 8)));
    if (pair.id === 'a') {
      goals.push(goal('proxy', `(a) ${payload}: throughput gateway/direct at c=8`, tput8, '>=', 0.7));
      goals.push(goal('proxy', `(a) ${payload}: added p50 at c=1`, g1.p50Ms - b1.p50Ms, '<=', 0.3, ' ms', 3));
    } else {
      goals.push(goal('proxy', `(b) ${payload}: throughput gateway/mcp-proxy at c=8`, tput8, '>=', 2));
      goals.push(goal('proxy', `(b) ${payload}: p50 gateway/mcp-proxy at c=1`, p50r1, '<=', 0.5));
    }
  }
  return { goals, ratios, bounds };
}

interface MemoryRun {
  idleMiB: number;
  sessionsMiB: number;
}

/** RSS of the server process after start (one session opened and closed), then with 100 open sessions. */
async function measureMemory(startServer: (o: BenchOptions) => Promise<HttpServerProc>, o: BenchOptions): Promise<MemoryRun> {
  const server = await startServer(o);
  const clients: Client[] = [];
  try {
    // Make sure the upstream is connected and the code paths are loaded, then leave no session.
    const probe = await httpClient(server.url);
    await probe.listTools();
    await (probe.transport as StreamableHTTPClientTransport | undefined)?.terminateSession();
    await closeQuietly(probe);
    await sleep(500);
    const idleMiB = rssMiB(server.proc.pid);
    for (let i = 0; i < SESSIONS; i += 10) {
      clients.push(...(await Promise.all(Array.from({ length: Math.min(10, SESSIONS - i) }, () => httpClient(server.url)))));
    }
    await sleep(500);
    const sessionsMiB = rssMiB(server.proc.pid);
    return { idleMiB, sessionsMiB };
  } finally {
    await Promise.all(clients.map(closeQuietly));
    await server.proc.stop();
    server.cleanup();
  }
}

async function run(o: BenchOptions): Promise<SectionResult> {
  compiledFixture = transpileFixture(o.root, FIXTURE);
  compiledRelay = transpileFixture(o.root, RELAY);
  const pairs: Record<string, PairResults> = {};
  const parts: string[] = [];
  const goals: Goal[] = [];
  const ratioRows: string[][] = [];
  const boundRows: string[][] = [];
  for (const pair of PAIRS) {
    const results = await runPair(pair, o);
    pairs[pair.id] = results;
    parts.push(`#### ${pair.title}\n\n${pairTable(pair, results)}`);
    const g = pairGoals(pair, results);
    goals.push(...g.goals);
    ratioRows.push(...g.ratios);
    boundRows.push(...g.bounds);
  }
  parts.push(`#### Ratios (gateway ÷ baseline, from the medians above)\n\n${markdownTable(['pair, result', 'calls/s c=1', 'calls/s c=8', 'p50 c=1', 'p50 c=8', 'added p50 c=1 (ms)', 'added p50 c=8 (ms)'], ratioRows)}`);
  if (boundRows.length > 0) {
    parts.push(
      '#### The proxy\'s share (pairs whose baseline is a proxy too)\n\n' +
        'Proxy CPU per call, gateway ÷ baseline proxy; and the best ratios a gateway costing no CPU at all could reach in this run, estimated from the other processes\' CPU per call ' +
        '(calls/s at c=8 ≈ cores ÷ the summed CPU per call, which holds while the three processes keep every core busy, as at c=8 on a machine with fewer cores than processes; at c=1 a call waits for about the upstream\'s and the client\'s CPU per call, against the baseline\'s measured p50). Estimates, not bounds: a goal well past them is out of a proxy\'s reach on the machine measured.\n\n' +
        markdownTable(['pair, result', 'proxy CPU/call c=1', 'proxy CPU/call c=8', 'best calls/s ratio c=8', 'best p50 ratio c=1'], boundRows),
    );
  }

  const memory: Record<string, MemoryRun[]> = { gateway: [], 'mcp-proxy': [] };
  const memoryRuns = Number(o.settings.get('proxy.memoryRuns') ?? 1);
  for (let r = 0; r < memoryRuns; r++) {
    for (const [id, start] of [['gateway', startHttpGateway], ['mcp-proxy', startMcpProxy]] as const) {
      const m = await measureMemory(start, o);
      o.progress(`proxy: ${id} RSS idle ${fmt(m.idleMiB, 1)} MiB, with ${SESSIONS} sessions ${fmt(m.sessionsMiB, 1)} MiB`);
      memory[id]!.push(m);
    }
  }
  const memRows = Object.entries(memory).map(([id, runs]) => {
    const idle = median(runs.map((m) => m.idleMiB));
    const open = median(runs.map((m) => m.sessionsMiB));
    return [id === 'gateway' ? 'gateway (HTTP, upstream connected)' : 'mcp-proxy (reference)', fmt(idle, 1), fmt(open, 1), fmt(((open - idle) * 1024) / SESSIONS, 0)];
  });
  parts.push(`#### Memory (VmRSS of the server process; upstream not included)\n\n${markdownTable(['process', 'idle MiB', `${SESSIONS} open sessions MiB`, 'KiB per session'], memRows)}`);

  const notes = [
    `Each cell of each target runs on freshly started processes (${o.runs} runs, the targets of a pair back to back, in alternating order); ` +
      `calls are discarded for at least ${o.warmupMs} ms and ${o.warmupCalls} calls (at most ${o.maxWarmupMs} ms: V8 optimises a process's hot path after some thousands of calls, and the measurement is of the steady state), then ${o.durationMs} ms are measured. tiny = \`echo {text: "ping"}\`, 64KiB = \`blob {bytes: 65536}\`; ` +
      'conc. = calls in flight on one client connection (one session for HTTP). Gateway: policy (2 allow rules), audit (arguments: full) and info logging on.',
    'CPU µs/call = on-CPU time (all threads, /proc schedstat) of the proxy (gateway or mcp-proxy), of the upstream, and of the benchmark process (the client), divided by calls; ' +
      'the three share the machine\'s cores, so at conc. 8 throughput is roughly cores ÷ their sum.',
    'The benchmark\'s HTTP client sends its POSTs without the SDK transport\'s long-lived abort signal: undici would leave a listener on it per request until garbage collection, and the client would slow down the more calls it made.',
    `mcp-proxy: \`${mcpProxyCommand(o.root)}\` (defaults otherwise: stateful sessions, event store on), client URL http://127.0.0.1:PORT/mcp; ` +
      `the upstream is ${FIXTURE} transpiled to plain JS, started the same way by all targets.`,
    `The bare relay (${RELAY}) is a reference, not a goal: a proxy that only parses each line, swaps request ids and writes it on, with no policy, audit or validation. ` +
      'What it loses against direct is what the machine charges for a third process in the path (two more pipe hops and wake-ups per call); the gateway cannot do better than it.',
  ];
  parts.unshift(notes.join('\n'));
  return { markdown: parts.join('\n\n'), goals, data: { pairs, memory, blobBytes: BLOB_BYTES, sessions: SESSIONS, mcpProxyCommand: mcpProxyCommand(o.root) } };
}

export const proxySection: Section = { name: 'proxy', title: 'Forwarding overhead: gateway vs. direct and vs. mcp-proxy', run };
