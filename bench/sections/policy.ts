/**
 * Policy micro-benchmark (SPEC §11, issue 3): a generated config with 1,000 agents × 1,000 tool
 * rules (literal names, globs, `where` conditions with under/host/equals; role templates shared
 * between agents plus per-agent rules), then:
 *   - parse + validate of its YAML text (`parseConfigText`) and compile (`compilePolicy`): the
 *     work a hot reload does;
 *   - µs per `evaluate` for the first call of each (agent, tool) pair (nothing memoised yet) and
 *     in steady state (a random mix of agents, tools and arguments). Goal: median ≤ 5 µs.
 * Knobs: --set policy.agents=N --set policy.rules=N --set policy.samples=N
 */
import { performance } from 'node:perf_hooks';
import { stringify } from 'yaml';
import { parseConfigText } from '../../src/config/index.js';
import { compilePolicy, createUsageCounter, evaluate, NO_LOCKDOWN, type CompiledPolicy, type PolicyInput } from '../../src/policy/index.js';
import { goal, type BenchOptions, type Section, type SectionResult } from '../lib/types.js';
import { fmt, markdownTable, median, quantile } from '../lib/stats.js';

const SERVERS = ['files', 'web', 'mail', 'db', 'crm', 'git', 'chat', 'calendar', 'docs', 'tickets', 'billing', 'search'];
const TOOLS = ['read_file', 'write_file', 'list_dir', 'search', 'fetch', 'send_message', 'delete_item', 'query', 'update_record', 'create_item'];
const DEPTS = ['eng', 'sales', 'ops', 'legal', 'hr', 'finance', 'marketing', 'support'];
const HOSTS = ['example.com', '*.example.org', 'api.example.net', '*.corp.example', 'docs.example.io', 'cdn.example.com'];
const ROLES = 10;
/** Share of each agent's rules that are its own (the rest come from its role's template). */
const OWN_SHARE = 0.3;

/** mulberry32: a small seeded PRNG, so every run benchmarks the same config. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const pick = <T>(rand: () => number, items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;

type Rule = Record<string, unknown>;

function randomWhere(rand: () => number, home: string | undefined): Record<string, unknown> {
  const r = rand();
  if (r < 0.45) {
    const base = home && rand() < 0.5 ? home : `/data/${pick(rand, DEPTS)}`;
    return { path: { under: `${base}/p${Math.floor(rand() * 50)}` } };
  }
  if (r < 0.8) {
    const hosts = [pick(rand, HOSTS), pick(rand, HOSTS)];
    return { url: { host: hosts[0] === hosts[1] ? hosts[0] : hosts } };
  }
  return { mode: { equals: rand() < 0.6 ? 'read' : 'write' } };
}

function randomRule(rand: () => number, home: string | undefined): Rule {
  const e = rand();
  const effect = e < 0.6 ? 'allow' : e < 0.85 ? 'ask' : 'deny';
  const server = pick(rand, SERVERS);
  const tool = pick(rand, TOOLS);
  const shape = rand();
  let pattern: string;
  if (shape < 0.7) pattern = `${server}__${tool}`;
  else if (shape < 0.8) pattern = `${server}__${tool.split('_')[0]}_*`;
  else if (shape < 0.86) pattern = `${server}__*`;
  else if (shape < 0.93) pattern = `*__${tool}`;
  else pattern = `${server}__*_${tool.split('_').pop()}`;
  // Unconditional deny globs would shadow most of the policy; keep deny rules mostly conditional.
  const conditional = effect === 'deny' ? rand() < 0.9 : rand() < 0.7;
  return { [effect]: pattern, ...(conditional ? { where: randomWhere(rand, home) } : {}) };
}

/** The config as plain data: ROLES role templates, each agent = its role's rules + its own. */
export function generatePolicyConfig(agents: number, rulesPerAgent: number): Record<string, unknown> {
  const own = Math.round(rulesPerAgent * OWN_SHARE);
  const templates: Rule[][] = [];
  for (let r = 0; r < ROLES; r++) {
    const rand = prng(1_000 + r);
    templates.push(Array.from({ length: rulesPerAgent - own }, () => randomRule(rand, undefined)));
  }
  const out: Record<string, unknown> = {};
  for (let a = 0; a < agents; a++) {
    const rand = prng(50_000 + a);
    const name = agentName(a);
    const home = `/home/${name}`;
    const mine = Array.from({ length: own }, () => randomRule(rand, home));
    // Interleave: a few own rules first (exceptions), the rest after the role's rules.
    const head = mine.splice(0, Math.min(mine.length, 20));
    out[name] = {
      owner: `${name}@example.com`,
      rules: [...head, ...templates[a % ROLES]!, ...mine],
      limits: [{ match: `${pick(rand, SERVERS)}__send_*`, max: 100, per: '1h' }],
    };
  }
  return { version: 1, agents: out };
}

function agentName(i: number): string {
  return `agent${String(i).padStart(4, '0')}`;
}

function randomArgs(rand: () => number, agent: string): Record<string, unknown> {
  const base = rand() < 0.3 ? `/home/${agent}` : `/data/${pick(rand, DEPTS)}`;
  const host = pick(rand, ['example.com', 'www.example.org', 'api.example.net', 'evil.example', 'docs.example.io', 'x.corp.example']);
  return {
    path: `${base}/p${Math.floor(rand() * 60)}/notes/${Math.floor(rand() * 1000)}.md`,
    url: `https://${host}/page/${Math.floor(rand() * 100)}?q=1`,
    mode: rand() < 0.5 ? 'read' : 'write',
    text: 'hello',
  };
}

function allNames(): string[] {
  return SERVERS.flatMap((s) => TOOLS.map((t) => `${s}__${t}`));
}

interface EvalStats {
  medianUs: number;
  p99Us: number;
  evaluations: number;
  effects: Record<string, number>;
}

/**
 * Times `evaluate` over `inputs`, in batches (a single call is too short for the clock); the
 * per-call figure of each batch is its mean. Returns the median and p99 of those.
 */
function timeEvaluations(policy: CompiledPolicy, inputs: readonly PolicyInput[], batch: number, total: number): EvalStats {
  const usage = createUsageCounter();
  const ctx = { now: Date.now(), lockdown: NO_LOCKDOWN, usage };
  const perCall: number[] = [];
  const effects: Record<string, number> = { allow: 0, ask: 0, deny: 0 };
  let i = 0;
  let done = 0;
  while (done < total) {
    const n = Math.min(batch, total - done);
    const t0 = performance.now();
    for (let k = 0; k < n; k++) {
      const d = evaluate(policy, inputs[i]!, ctx);
      effects[d.effect]!++;
      if (++i === inputs.length) i = 0;
    }
    perCall.push(((performance.now() - t0) * 1000) / n);
    done += n;
  }
  return { medianUs: median(perCall), p99Us: quantile(perCall, 0.99), evaluations: done, effects };
}

function ms(t0: number): number {
  return performance.now() - t0;
}

async function run(options: BenchOptions): Promise<SectionResult> {
  const agents = Number(options.settings.get('policy.agents') ?? 1_000);
  const rulesPerAgent = Number(options.settings.get('policy.rules') ?? 1_000);
  const samples = Number(options.settings.get('policy.samples') ?? 1_000_000);
  const say = options.progress;

  say(`policy: generating ${agents} agents × ${rulesPerAgent} rules`);
  const config = generatePolicyConfig(agents, rulesPerAgent);
  const text = stringify(config);
  say(`policy: YAML ${(text.length / 1_048_576).toFixed(1)} MiB; parsing + validating`);

  const noFiles = (path: string) => Promise.reject(new Error(`no file reads in the benchmark (${path})`));
  const heap0 = process.memoryUsage().heapUsed;
  let t0 = performance.now();
  const loaded = await parseConfigText(text, 'bench-policy.yaml', {}, noFiles);
  const parseMs = ms(t0);
  say(`policy: parse + validate ${parseMs.toFixed(0)} ms; compiling`);

  const compileRuns: number[] = [];
  let policy: CompiledPolicy | undefined;
  for (let r = 0; r < 3; r++) {
    policy = undefined;
    t0 = performance.now();
    policy = compilePolicy(loaded.config, { version: loaded.hash });
    compileRuns.push(ms(t0));
  }
  const compileMs = median(compileRuns);
  const heapMiB = (process.memoryUsage().heapUsed - heap0) / 1_048_576;
  say(`policy: compile ${compileMs.toFixed(0)} ms (median of ${compileRuns.length}); evaluating`);

  // First call of each (agent, tool) pair, in random order: nothing memoised yet.
  const rand = prng(7);
  const names = allNames();
  const cold: PolicyInput[] = [];
  for (let a = 0; a < agents; a++) {
    const agent = agentName(a);
    for (const name of names) cold.push({ agent, kind: 'tool', name, args: randomArgs(rand, agent), tool: { annotationsTrusted: false } });
  }
  for (let i = cold.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [cold[i], cold[j]] = [cold[j]!, cold[i]!];
  }
  const coldStats = timeEvaluations(policy!, cold, 64, cold.length);

  // Steady state: random agents, tools (5 % unknown to the policy) and arguments.
  const warm: PolicyInput[] = [];
  for (let i = 0; i < 16_384; i++) {
    const agent = agentName(Math.floor(rand() * agents));
    const name = rand() < 0.05 ? `unknown${Math.floor(rand() * 20)}__tool` : pick(rand, names);
    warm.push({ agent, kind: 'tool', name, args: randomArgs(rand, agent), tool: { annotationsTrusted: false } });
  }
  timeEvaluations(policy!, warm, 256, Math.min(samples, 100_000)); // warm-up
  const warmStats = timeEvaluations(policy!, warm, 256, samples);

  const totalRules = agents * rulesPerAgent;
  const markdown = [
    `Config: ${agents.toLocaleString('en')} agents × ${rulesPerAgent.toLocaleString('en')} tool rules = ${totalRules.toLocaleString('en')} rules (${ROLES} role templates + ${Math.round(OWN_SHARE * 100)} % per-agent rules; ~70 % literal names, ~30 % globs; ~70 % with \`where\` under/host/equals), YAML ${(text.length / 1_048_576).toFixed(1)} MiB.`,
    '',
    markdownTable(
      ['measure', 'value'],
      [
        ['parse + validate (`parseConfigText`)', `${fmt(parseMs, 0)} ms`],
        ['compile (`compilePolicy`), median of 3', `${fmt(compileMs, 0)} ms`],
        ['reload total (parse + validate + compile)', `${fmt(parseMs + compileMs, 0)} ms`],
        ['heap after parse + compile', `${fmt(heapMiB, 0)} MiB`],
        [`evaluate, first call per (agent, tool): median / p99 of batch means (${coldStats.evaluations.toLocaleString('en')} calls)`, `${fmt(coldStats.medianUs)} / ${fmt(coldStats.p99Us)} µs`],
        [`evaluate, steady state: median / p99 of batch means (${warmStats.evaluations.toLocaleString('en')} calls)`, `${fmt(warmStats.medianUs)} / ${fmt(warmStats.p99Us)} µs`],
        ['steady-state outcomes allow / ask / deny', `${warmStats.effects.allow} / ${warmStats.effects.ask} / ${warmStats.effects.deny}`],
      ],
    ),
  ].join('\n');
  return {
    markdown,
    goals: [
      goal('policy', 'evaluate median, 1,000 agents × 1,000 rules (steady state)', warmStats.medianUs, '<=', 5, ' µs'),
    ],
    data: { agents, rulesPerAgent, yamlBytes: text.length, parseMs, compileMs, compileRuns, heapMiB, cold: coldStats, warm: warmStats },
  };
}

export const policySection: Section = { name: 'policy', title: 'Policy decision and reload', run };
