import { describe, expect, it } from 'vitest';
import { diffCommand } from '../../src/cli/diff.js';
import type { PolicyDiff } from '../../src/policy/index.js';
import { policy, run } from './helpers.js';

describe('portcullis diff', () => {
  it('exits 0 and says so when the two policies grant the same', async () => {
    const r = await run(diffCommand, [policy('docs-and-web.yaml'), policy('docs-and-web.yaml')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('No capability changes.');
  });

  it('exits 3 on a widening change and lists, per agent, what became possible, moved and widened', async () => {
    const r = await run(diffCommand, [policy('docs-and-web.yaml'), policy('docs-and-web-widened.yaml')]);
    expect(r.code).toBe(3);
    const md = r.stdout;
    expect(md).toContain('## Policy capability diff');
    expect(md).toContain('### Agent `default`');
    expect(md).toMatch(/\*\*Became possible\*\*\n\n- tool `docs__create_page`: deny → allow/);
    expect(md).toMatch(/- tool `docs__update_page`: ask → allow/);
    expect(md).toMatch(/- tool `docs__read_page` .*\*\*widened\*\*: path under \/marketing → path under \//);
    expect(md).toMatch(/\*\*widened\*\*: limit on docs__update_\*: 20 per 1h → 50 per 1h/);
    expect(md).toContain('### Agent `intern` (new agent)');
  });

  it('exits 3 on a narrowing change and marks it narrowed', async () => {
    const r = await run(diffCommand, [policy('clean.yaml'), policy('narrowed.yaml')]);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/\*\*Removed\*\*\n\n- tool `notes__write`: ask → deny/);
    expect(r.stdout).toMatch(/- tool `notes__search`: allow → ask/);
    expect(r.stdout).toMatch(/\*\*narrowed\*\*: path under \/team → path under \/team\/public/);
  });

  it('prints the diff as JSON with --json, keeping exit 3', async () => {
    const r = await run(diffCommand, [policy('clean.yaml'), policy('narrowed.yaml'), '--json']);
    expect(r.code).toBe(3);
    const diff = JSON.parse(r.stdout) as PolicyDiff & { old: string; new: string };
    expect(diff.hasChanges).toBe(true);
    expect(diff.new).toBe(policy('narrowed.yaml'));
    const agent = diff.agents.find((a) => a.agent === 'default')!;
    expect(agent.removed.map((c) => c.name)).toEqual(['notes__write']);
    expect(agent.moved).toEqual([expect.objectContaining({ name: 'notes__search', from: 'allow', to: 'ask' })]);
    expect(agent.conditions).toEqual([expect.objectContaining({ name: 'notes__read', direction: 'narrowed' })]);
  });

  it('exits 1 naming the broken file and YAML path when one side is invalid', async () => {
    const invalid = await run(diffCommand, [policy('clean.yaml'), policy('invalid.yaml')]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/invalid\.yaml:13:9 agents\.default\.rules\[0\]\.readonly: unknown key/);
    const uncompilable = await run(diffCommand, [policy('bad-pattern.yaml'), policy('clean.yaml')]);
    expect(uncompilable.code).toBe(1);
    expect(uncompilable.stderr).toMatch(/bad-pattern\.yaml has an invalid policy:\n.*bad-pattern\.yaml:9:\d+ agents\.default\.rules\[0\]\.where\.path\.regex/);
  });

  it('exits 1 unless given exactly two files, and 2 when one cannot be read', async () => {
    const one = await run(diffCommand, [policy('clean.yaml')]);
    expect(one.code).toBe(1);
    expect(one.stderr).toContain('expected two files');
    const missing = await run(diffCommand, [policy('clean.yaml'), policy('gone.yaml')]);
    expect(missing.code).toBe(2);
  });
});
