/**
 * `--live`: the commands connect to the config's real upstreams (here the flaky fixture server,
 * over stdio) and judge the rules against the tools those upstreams expose.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callCommand, type DryRunResult } from '../../src/cli/call.js';
import { checkCommand, type CheckReport } from '../../src/cli/check.js';
import { diffCommand } from '../../src/cli/diff.js';
import { explainCommand, type ExplainedAgent } from '../../src/cli/explain.js';
import { descendantsOf } from '../../src/proxy/upstream/process-tree.js';
import { fixtureServer, tempConfig, type TempConfig } from '../helpers/gateway.js';
import { run } from './helpers.js';

const FLAKY = fixtureServer('flaky-server.ts', { protocol: 'legacy', annotations: 'trusted' });

/** Child processes of this test worker still running the fixture server. */
function fixtureChildren(): number[] {
  return descendantsOf(process.pid).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('flaky-server');
    } catch {
      return false;
    }
  });
}

let cfg: TempConfig;
beforeAll(() => {
  cfg = tempConfig({
    servers: { flaky: FLAKY },
    agents: {
      default: {
        rules: [
          { allow: 'flaky__echo', where: { message: { maxLength: 100 } } },
          { allow: 'flaky__no_such_*' },
          { allow: 'flaky__*', readOnly: true },
          { ask: 'flaky__bump' },
        ],
      },
    },
  });
});
afterAll(() => cfg?.cleanup());

describe('--live against a real upstream', () => {
  it('check reports a where key the tool schema lacks (error) and a pattern matching nothing (warning), and reaps the upstream', async () => {
    const r = await run(checkCommand, ['-c', cfg.file, '--live', '--json']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as CheckReport;
    expect(report.live).toBe(true);
    expect(report.errors).toContainEqual(expect.objectContaining({
      path: 'agents.default.rules[0].where.message',
      message: expect.stringContaining('flaky__echo has no argument "message"'),
      hint: expect.stringContaining('text'),
      line: expect.any(Number),
    }));
    expect(report.warnings).toContainEqual(expect.objectContaining({
      path: 'agents.default.rules[1].allow',
      message: expect.stringContaining('"flaky__no_such_*" matches no tool the upstreams expose'),
    }));
    expect(fixtureChildren()).toEqual([]);
  });

  it('check without --live does not see either problem', async () => {
    const r = await run(checkCommand, ['-c', cfg.file, '--json']);
    const report = JSON.parse(r.stdout) as CheckReport;
    expect(report.errors).toEqual([]);
    expect(report.warnings.map((w) => w.message).join('\n')).not.toContain('matches no tool');
  });

  it('explain --live lists the tools the upstream exposes, judging readOnly rules by its trusted annotations', async () => {
    const r = await run(explainCommand, ['-c', cfg.file, '--live', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { source: string; agents: ExplainedAgent[] };
    expect(out.source).toBe('live');
    const rows = new Map(out.agents[0]!.rows.map((row) => [row.name, row]));
    expect(rows.get('flaky__echo')).toMatchObject({ kind: 'tool', effect: 'allow' });
    expect(rows.get('flaky__crash')).toMatchObject({ effect: 'deny' });
    expect(rows.get('flaky__bump')).toMatchObject({ effect: 'ask', rule: { path: 'agents.default.rules[3]' } });
    expect(rows.has('flaky://counter')).toBe(true);
    expect(fixtureChildren()).toEqual([]);
  });

  it('call --dry-run --live uses the tool annotations: a trusted read-only tool matches a readOnly rule', async () => {
    const echo = await run(callCommand, ['flaky__echo', '--dry-run', '--live', '-c', cfg.file, '--args', '{"text": "hi"}', '--json']);
    expect(echo.code).toBe(0);
    expect(JSON.parse(echo.stdout)).toMatchObject({ effect: 'allow', toolFacts: 'live', rule: { path: 'agents.default.rules[2]' } });
    const offline = await run(callCommand, ['flaky__echo', '--dry-run', '-c', cfg.file, '--args', '{"text": "hi"}', '--json']);
    expect(offline.code).toBe(1);
    expect((JSON.parse(offline.stdout) as DryRunResult).notes.join('\n')).toContain('readOnly rules cannot match');
    const unknown = await run(callCommand, ['flaky__nope', '--dry-run', '--live', '-c', cfg.file]);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toContain('no upstream exposes flaky__nope');
  });

  it('diff --live compares decisions for the real tools of the new config', async () => {
    const next = tempConfig({ servers: { flaky: FLAKY }, agents: { default: { rules: [{ allow: 'flaky__*', readOnly: true }, { allow: 'flaky__bump' }] } } });
    try {
      const r = await run(diffCommand, [cfg.file, next.file, '--live']);
      expect(r.code).toBe(3);
      expect(r.stdout).toContain('decisions for the tools the upstreams of');
      expect(r.stdout).toMatch(/- tool `flaky__bump`: ask → allow/);
      expect(r.stdout).not.toContain('flaky__no_such_');
    } finally {
      next.cleanup();
    }
  });

  it('exits 2 naming the upstream and its last stderr line when one cannot be reached', async () => {
    const broken = tempConfig({
      servers: {
        flaky: FLAKY,
        broken: { command: process.execPath, args: ['-e', "console.error('broken: missing API key'); process.exit(3)"] },
      },
      agents: { default: { rules: [{ allow: 'flaky__echo' }] } },
    });
    try {
      const r = await run(checkCommand, ['-c', broken.file, '--live']);
      expect(r.code).toBe(2);
      expect(r.stdout).toMatch(/portcullis\.yaml:\d+:\d+ servers\.broken: upstream broken is unreachable: .*\(last stderr: broken: missing API key\) \(start the upstream or fix its command\/url/);
      expect(r.stdout).toMatch(/cannot check/);
      const explain = await run(explainCommand, ['-c', broken.file, '--live']);
      expect(explain.code).toBe(2);
      expect(explain.stderr).toContain('upstream broken (servers.broken) is unreachable');
      expect(fixtureChildren()).toEqual([]);
    } finally {
      broken.cleanup();
    }
  });
});
