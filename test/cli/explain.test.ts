import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { explainCommand, type ExplainedAgent } from '../../src/cli/explain.js';
import { createLockdownStore } from '../../src/state/index.js';
import { policy, run } from './helpers.js';

const SPEC = policy('docs-and-web.yaml');

describe('portcullis explain', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('prints one table per agent with the decision, deciding rule and conditions of each rule pattern', async () => {
    const r = await run(explainCommand, ['-c', SPEC]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('by rule pattern (use --live');
    expect(r.stdout).toContain('Agent default (owner alice@example.com)');
    expect(r.stdout).toContain('Agent release-bot (owner bob@example.com)');
    expect(r.stdout).toMatch(/KIND +NAME +EFFECT +RULE +CONDITIONS +LIMIT +TAINT/);
    expect(r.stdout).toMatch(/tool +docs__read_page +allow +agents\.default\.rules\[1\] +path under \/marketing/);
    expect(r.stdout).toMatch(/tool +\*__delete_\* +deny +agents\.default\.rules\[5\] \(no-deletes\)/);
    expect(r.stdout).toMatch(/tool +docs__update_page +ask +agents\.default\.rules\[3\] +path under \/marketing\/drafts +20 per 1h/);
    expect(r.stdout).toMatch(/resource +docs:\/\/marketing\/secret\/\*\* +deny/);
  });

  it('limits the output to the agent named with --agent', async () => {
    const r = await run(explainCommand, ['-c', SPEC, '--agent', 'release-bot']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Agent release-bot');
    expect(r.stdout).not.toContain('Agent default');
    expect(r.stdout).toMatch(/slack__reply_to_thread +ask/);
  });

  it('exits 1 for an unknown agent and lists the known ones', async () => {
    const r = await run(explainCommand, ['-c', SPEC, '--agent', 'relase-bot']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no agent named 'relase-bot' under agents; known agents: default, release-bot");
    expect(r.stderr).toContain(SPEC);
  });

  it('prints agents with their rows as JSON with --json', async () => {
    const r = await run(explainCommand, ['-c', SPEC, '--agent', 'default', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { source: string; agents: ExplainedAgent[] };
    expect(out.source).toBe('rules');
    expect(out.agents.map((a) => a.agent)).toEqual(['default']);
    expect(out.agents[0]!.owner).toBe('alice@example.com');
    const readPage = out.agents[0]!.rows.find((row) => row.name === 'docs__read_page');
    expect(readPage).toMatchObject({ kind: 'tool', effect: 'allow', rule: { path: 'agents.default.rules[1]', index: 1 }, conditions: ['path under /marketing'] });
    const deletes = out.agents[0]!.rows.find((row) => row.name === '*__delete_*');
    expect(deletes).toMatchObject({ effect: 'deny', rule: { id: 'no-deletes' } });
  });

  it('exits 1 naming the YAML path when the policy does not compile, and 2 when the file is missing', async () => {
    const bad = await run(explainCommand, ['-c', policy('bad-pattern.yaml')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/bad-pattern\.yaml:9:\d+ agents\.default\.rules\[0\]\.where\.path\.regex: /);
    const missing = await run(explainCommand, ['-c', policy('nope.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.yaml: cannot read the config file/);
  });

  it('says when a lockdown recorded in gateway.state overrides the table', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-explain-'));
    dirs.push(dir);
    const file = join(dir, 'portcullis.yaml');
    writeFileSync(file, `version: 1\ngateway:\n  state: ${JSON.stringify(join(dir, 'state'))}\nagents:\n  default:\n    rules:\n      - allow: notes__search\n`);
    await (await createLockdownStore(join(dir, 'state'))).set('default', 'read-only');
    const r = await run(explainCommand, ['-c', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("LOCKDOWN read-only (this agent) is on: it overrides the table below until 'portcullis lockdown off'.");
    const j = JSON.parse((await run(explainCommand, ['-c', file, '--json'])).stdout) as { agents: ExplainedAgent[] };
    expect(j.agents[0]!.lockdown).toBe('read-only (this agent)');
  });
});
