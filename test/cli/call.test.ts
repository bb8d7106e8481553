import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callCommand, type DryRunResult } from '../../src/cli/call.js';
import { createLockdownStore } from '../../src/state/index.js';
import { fixtureServer, startHttpGateway, tempConfig, type RunningGateway, type TempConfig } from '../helpers/gateway.js';
import { closedUrl, policy, run } from './helpers.js';

const SPEC = policy('docs-and-web.yaml');
const dry = (tool: string, ...rest: string[]) => run(callCommand, [tool, '--dry-run', '-c', SPEC, ...rest]);

describe('portcullis call --dry-run', () => {
  it('exits 0 for an allowed call and prints the deciding rule and reasons', async () => {
    const r = await dry('docs__read_page', '--args', '{"path": "/marketing/plan.md"}');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^docs__read_page for agent default: allow: the call would run\n  rule: +agents\.default\.rules\[1\]\n/);
    expect(r.stdout).toContain('- allowed by agents.default.rules[1] (docs__read_page, path under /marketing)');
  });

  it('exits 1 for a denied call, naming the deny rule and the text the client would see', async () => {
    const r = await dry('docs__delete_page', '--args', '{"path": "/marketing/plan.md"}');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/deny: the call would be refused\n  rule: +agents\.default\.rules\[5\] \(no-deletes\)/);
    expect(r.stdout).toContain('the client would see: Denied by policy (rule agents.default.rules[5]): Deleting is never done by agents.');
  });

  it('denies a path that escapes the folder and says which rule named the tool but did not hold', async () => {
    const r = await dry('docs__read_page', '--args', '{"path": "/marketing/../finance/q3.md"}');
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('(default deny: no rule allows it)');
    expect(r.stdout).toContain('agents.default.rules[1] (allow docs__read_page) names this tool, but its conditions do not hold for these arguments: path under /marketing');
  });

  it('exits 1 for an ask decision and says the call requires approval', async () => {
    const r = await dry('docs__update_page', '--args', '{"path": "/marketing/drafts/a.md"}');
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('ask: requires approval');
    expect(r.stdout).toMatch(/rule: +agents\.default\.rules\[3\]/);
  });

  it('prints the decision as JSON with --json', async () => {
    const r = await dry('docs__update_page', '--args', '{"path": "/marketing/drafts/a.md"}', '--json');
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as DryRunResult;
    expect(out).toMatchObject({ tool: 'docs__update_page', agent: 'default', effect: 'ask', allowed: false, requiresApproval: true, rule: { path: 'agents.default.rules[3]' }, toolFacts: 'unknown' });
    expect(out.reasons[0]).toContain('approval required by agents.default.rules[3]');
  });

  it('says that readOnly rules cannot match without --live', async () => {
    const r = await dry('docs__list_pages', '--json');
    const out = JSON.parse(r.stdout) as DryRunResult;
    expect(out.effect).toBe('deny');
    expect(out.notes.join('\n')).toContain("agents.default.rules[2] (allow docs__*, readOnly: true) was not considered: the tool's annotations are unknown without --live");
  });

  it('judges ${claims.X} conditions with --claims and ${agent.X} with the agent profile', async () => {
    const args = '{"channel_id": "C1", "thread_ts": "17.1"}';
    const without = await dry('slack__reply_to_thread', '--agent', 'release-bot', '--args', args, '--json');
    expect((JSON.parse(without.stdout) as DryRunResult).effect).toBe('deny');
    const matching = await dry('slack__reply_to_thread', '--agent', 'release-bot', '--args', args, '--claims', '{"channel": "C1", "thread_ts": "17.1"}', '--json');
    expect((JSON.parse(matching.stdout) as DryRunResult).effect).toBe('ask');
    const owner = await dry('slack__post_message', '--agent', 'release-bot', '--args', '{"author": "bob@example.com"}');
    expect(owner.code).toBe(0);
  });

  it('applies a lockdown recorded in gateway.state', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-call-'));
    try {
      const file = join(dir, 'portcullis.yaml');
      writeFileSync(file, `version: 1\ngateway:\n  state: ${JSON.stringify(join(dir, 'state'))}\nagents:\n  default:\n    rules:\n      - allow: notes__search\n`);
      expect((await run(callCommand, ['notes__search', '--dry-run', '-c', file])).code).toBe(0);
      await (await createLockdownStore(join(dir, 'state'))).set(undefined, 'deny-all');
      const r = await run(callCommand, ['notes__search', '--dry-run', '-c', file, '--json']);
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout)).toMatchObject({ effect: 'deny', lockdown: { mode: 'deny-all', scope: 'global' } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exits 1 on bad --args, an unknown agent, or dry-run-only flags without --dry-run', async () => {
    const badJson = await dry('docs__search', '--args', '{path:');
    expect(badJson.code).toBe(1);
    expect(badJson.stderr).toContain('--args is not valid JSON');
    const notObject = await dry('docs__search', '--args', '[1]');
    expect(notObject.stderr).toContain('--args must be a JSON object');
    const agent = await dry('docs__search', '--agent', 'ghost');
    expect(agent.code).toBe(1);
    expect(agent.stderr).toContain("no agent named 'ghost' under agents");
    const live = await run(callCommand, ['docs__search', '--agent', 'default']);
    expect(live.code).toBe(1);
    expect(live.stderr).toContain('--agent applies to --dry-run only');
    const none = await run(callCommand, ['--dry-run']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('name the tool to call');
  });
});

describe('portcullis call through a running gateway', () => {
  let cfg: TempConfig;
  let gw: RunningGateway;

  beforeAll(async () => {
    cfg = tempConfig({
      servers: { flaky: fixtureServer('flaky-server.ts', { protocol: 'legacy' }) },
      agents: { default: { rules: [{ allow: 'flaky__echo' }, { deny: 'flaky__crash', reason: 'Crashing is not allowed.' }] } },
    });
    gw = await startHttpGateway(cfg.file);
  });
  afterAll(async () => {
    await gw?.stop();
    cfg?.cleanup();
  });

  it('prints the tool result and exits 0', async () => {
    const r = await run(callCommand, ['flaky__echo', '--args', '{"text": "hello through the gateway"}', '--url', gw.url]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('hello through the gateway\n');
  });

  it('exits 1 with the denial when the policy denies the call', async () => {
    const r = await run(callCommand, ['flaky__crash', '--url', gw.url.replace(/\/mcp$/, '')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Denied by policy \(rule agents\.default\.rules\[1\]\): Crashing is not allowed\./);
  });

  it('prints the whole result with --json', async () => {
    const r = await run(callCommand, ['flaky__echo', '--args', '{"text": "x"}', '--json'], { PORTCULLIS_URL: gw.url });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ content: [{ type: 'text', text: 'x' }] });
  });

  it('exits 2 when no gateway answers', async () => {
    const url = await closedUrl();
    const r = await run(callCommand, ['flaky__echo', '--url', url]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`cannot reach the gateway at ${url}/mcp`);
  });
});
