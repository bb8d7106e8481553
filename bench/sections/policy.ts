/**
 * Policy micro-benchmark (SPEC §11, issue 3): a generated config with 1,000 agents × 1,000 tool
 * rules (literal names, globs, `where` conditions with under/host/equals; role templates shared
 * between agents plus per-agent rules), then:
 *   - the work a hot reload does: parse + validate of YAML text (`parseConfigText`, on the first
 *     `parseAgents` agents: the whole file takes minutes), schema validation and compile
 *     (`compilePolicy`) of the whole config;
 *   - µs per `evaluate` for the first call of each (agent, tool) pair (nothing memoised yet) and
 *     in steady state (random agents calling their own 30 tools with random arguments).
 *     Goal: median ≤ 5 µs.
 * Knobs (--set policy.KEY=N): agents, rules (per agent), samples, parseAgents, compileRuns.
 */
import { performance } from 'node:perf_hooks';
import { stringify } from 'yaml';
import { ConfigSchema, parseConfigText } from '../../src/config/index.js';
import { compilePolicy, createUsageCounter, evaluate, NO_LOCKDOWN, type CompiledPolicy, type PolicyInput } from '../../src/policy/index.js';
import { rulesMatching } from '../../src/policy/compile.js';
import { goal, type BenchOptions, type Section, type SectionResult } from '../lib/types.js';
import { fmt, markdownTable, median, quantile } from '../lib/stats.js';

const SERVER_KINDS = ['files', 'web', 'mail', 'db', 'crm', 'git', 'chat', 'calendar', 'docs', 'tickets'];
/** 40 servers × 25 tools: 1,000 exposed tool names, so 1,000 rules spread over many tools. */
const SERVERS = Array.from({ length: 40 }, (_, i) => `${SERVER_KINDS[i % SERVER_KINDS.length]}${Math.floor(i / SERVER_KINDS.length) || ''}`);
const VERBS_ = ['read', 'write', 'list', 'search', 'fetch', 'send', 'delete', 'query', 'update', 'create'];
const NOUNS = ['file', 'dir', 'page', 'message', 'item', 'record', 'issue', 'event', 'row', 'doc'];
const TOOLS = Array.from({ length: 25 }, (_, i) => `${VERBS_[i % VERBS_.length]}_${NOUNS[(i * 3 + Math.floor(i / VERBS_.length)) % NOUNS.length]}`);
/** Tools each agent actually calls in the steady-state sample. */
const WORKING_SET = 30;
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

/** The tools one agent calls: WORKING_SET names out of the 1,000, fixed per agent. */
function workingSet(agentIndex: number): string[] {
  const rand = prng(90_000 + agentIndex);
  return Array.from({ length: WORKING_SET }, () => `${pick(rand, SERVERS)}__${pick(rand, TOOLS)}`);
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

const since = (t0: number) => performance.now() - t0;
const int = (n: number) => n.toLocaleString('en');

async function run(options: BenchOptions): Promise<SectionResult> {
  const setting = (key: string, fallback: number) => Number(options.settings.get(`policy.${key}`) ?? fallback);
  const agents = setting('agents', 1_000);
  const rulesPerAgent = setting('rules', 1_000);
  const samples = setting('samples', 500_000);
  const parseAgents = Math.min(agents, setting('parseAgents', 20));
  const say = options.progress;

  say(`policy: generating ${agents} agents × ${rulesPerAgent} rules`);
  const full = generatePolicyConfig(agents, rulesPerAgent);

  // parse + validate: the YAML text of the first `parseAgents` agents (the yaml parser is too
  // slow for the whole file within the benchmark's time; --set policy.parseAgents=1000 for all).
  const slice = { ...full, agents: Object.fromEntries(Object.entries(full.agents as Record<string, unknown>).slice(0, parseAgents)) };
  // No anchors/aliases for the shared template rules: a hand-written file spells every rule out.
  const text = stringify(slice, { aliasDuplicateObjects: false });
  say(`policy: parse + validate of ${parseAgents} agents (YAML ${(text.length / 1_048_576).toFixed(1)} MiB)`);
  const noFiles = (path: string) => Promise.reject(new Error(`no file reads in the benchmark (${path})`));
  let t0 = performance.now();
  await parseConfigText(text, 'bench-policy.yaml', {}, noFiles);
  const parseMs = since(t0);

  // Validate the whole config as data (schema only) to get the Config that compile takes.
  t0 = performance.now();
  const config = ConfigSchema.parse(full);
  const schemaMs = since(t0);
  say(`policy: parse + validate ${parseMs.toFixed(0)} ms (${parseAgents} agents); schema of all ${schemaMs.toFixed(0)} ms; compiling`);

  const compileRuns: number[] = [];
  let policy: CompiledPolicy | undefined;
  const reps = setting('compileRuns', 1);
  for (let r = 0; r < reps; r++) {
    policy = undefined;
    t0 = performance.now();
    policy = compilePolicy(config, { version: 'bench' });
    compileRuns.push(since(t0));
  }
  const compileMs = median(compileRuns);
  const rss = process.memoryUsage().rss / 1_048_576;
  say(`policy: compile ${compileMs.toFixed(0)} ms; evaluating`);

  // First call of each (agent, tool) pair of every agent's working set, in random order.
  const rand = prng(7);
  const sets = Array.from({ length: agents }, (_, a) => workingSet(a));
  const cold: PolicyInput[] = [];
  for (let a = 0; a < agents; a++) {
    const agent = agentName(a);
    for (const name of new Set(sets[a])) cold.push({ agent, kind: 'tool', name, args: randomArgs(rand, agent), tool: { annotationsTrusted: false } });
  }
  for (let i = cold.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [cold[i], cold[j]] = [cold[j]!, cold[i]!];
  }
  const coldStats = timeEvaluations(policy!, cold, 64, cold.length);

  // Steady state: a random agent calls one of its tools (5 % unknown names) with random arguments.
  const warm: PolicyInput[] = [];
  for (let i = 0; i < 32_768; i++) {
    const a = Math.floor(rand() * agents);
    const agent = agentName(a);
    const name = rand() < 0.05 ? `unknown${Math.floor(rand() * 20)}__tool` : pick(rand, sets[a]!);
    warm.push({ agent, kind: 'tool', name, args: randomArgs(rand, agent), tool: { annotationsTrusted: false } });
  }
  timeEvaluations(policy!, warm, 256, Math.min(samples, 200_000)); // warm-up (JIT)
  const warmStats = timeEvaluations(policy!, warm, 256, samples);
  const matching = warm.slice(0, 4_096).map((input) => rulesMatching(policy!.agents.get(input.agent)!.tools, input.name).length);

  const totalRules = agents * rulesPerAgent;
  const slicedRules = parseAgents * rulesPerAgent;
  const markdown = [
    `Config: ${int(agents)} agents × ${int(rulesPerAgent)} tool rules = ${int(totalRules)} rules over ${int(SERVERS.length * TOOLS.length)} tool names (${ROLES} role templates + ${Math.round(OWN_SHARE * 100)} % per-agent rules; ~70 % literal names, ~30 % globs; ~70 % with \`where\` under/host/equals); ${fmt(median(matching), 0)} rules match a called name (median).`,
    '',
    markdownTable(
      ['measure', 'value'],
      [
        [`parse + validate YAML (\`parseConfigText\`), first ${int(parseAgents)} agents = ${int(slicedRules)} rules, ${(text.length / 1_048_576).toFixed(1)} MiB`, `${fmt(parseMs, 0)} ms (${fmt((parseMs / slicedRules) * 1000, 1)} ms per 1,000 rules)`],
        [`schema validation only (\`ConfigSchema.parse\`), all ${int(totalRules)} rules`, `${fmt(schemaMs, 0)} ms`],
        [`compile (\`compilePolicy\`), all ${int(totalRules)} rules${reps > 1 ? `, median of ${reps}` : ''}`, `${fmt(compileMs, 0)} ms`],
        ['bench process RSS after compile', `${fmt(rss, 0)} MiB`],
        [`evaluate, first call per (agent, tool), ${int(coldStats.evaluations)} calls: median / p99 of 64-call batch means`, `${fmt(coldStats.medianUs)} / ${fmt(coldStats.p99Us)} µs`],
        [`evaluate, steady state, ${int(warmStats.evaluations)} calls: median / p99 of 256-call batch means`, `${fmt(warmStats.medianUs)} / ${fmt(warmStats.p99Us)} µs`],
        ['steady-state outcomes allow / ask / deny', `${int(warmStats.effects.allow!)} / ${int(warmStats.effects.ask!)} / ${int(warmStats.effects.deny!)}`],
      ],
    ),
  ].join('\n');
  return {
    markdown,
    goals: [goal('policy', `evaluate median at ${int(agents)} agents × ${int(rulesPerAgent)} rules (steady state)`, warmStats.medianUs, '<=', 5, ' µs')],
    data: { agents, rulesPerAgent, parseAgents, yamlBytes: text.length, parseMs, schemaMs, compileMs, compileRuns, rssMiB: rss, matchingMedian: median(matching), cold: coldStats, warm: warmStats },
  };
}

export const policySection: Section = { name: 'policy', title: 'Policy decision and reload', run };
