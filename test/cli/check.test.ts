import { describe, expect, it } from 'vitest';
import { checkCommand, type CheckReport } from '../../src/cli/check.js';
import { policy, run } from './helpers.js';

const json = (stdout: string) => JSON.parse(stdout) as CheckReport;

describe('portcullis check', () => {
  it('exits 0 with an ok summary for a policy with nothing to report, even with --strict', async () => {
    const r = await run(checkCommand, ['-c', policy('clean.yaml'), '--strict']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/clean\.yaml: ok\n$/);
  });

  it('exits 0 on warnings, and 1 on the same warnings with --strict', async () => {
    const lenient = await run(checkCommand, ['-c', policy('warnings.yaml')]);
    expect(lenient.code).toBe(0);
    expect(lenient.stdout).toMatch(/ok with 2 warnings/);
    const strict = await run(checkCommand, ['-c', policy('warnings.yaml'), '--strict']);
    expect(strict.code).toBe(1);
    expect(strict.stdout).toMatch(/failing because of --strict/);
  });

  it('prints each warning as FILE:LINE:COL path: message (hint)', async () => {
    const r = await run(checkCommand, ['-c', policy('warnings.yaml')]);
    expect(r.stdout).toContain('warnings:\n');
    expect(r.stdout).toMatch(/warnings\.yaml:13:16 agents\.default\.rules\[0\]\.allow: allow "notes__\*" lets agent default call every matching tool without asking.* \(add readOnly: true/);
    expect(r.stdout).toMatch(/warnings\.yaml:13:9 agents\.default\.rules\[0\]: .*never takes effect.*rules\[1\]/);
  });

  it('exits 1 on an invalid config and names the file, line, YAML path and the fix of every error', async () => {
    const r = await run(checkCommand, ['-c', policy('invalid.yaml')]);
    expect(r.code).toBe(1);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('errors:');
    expect(r.stdout).toMatch(/invalid\.yaml:13:9 agents\.default\.rules\[0\]\.readonly: unknown key 'readonly' \(did you mean 'readOnly'\?\)/);
    expect(r.stdout).toMatch(/invalid\.yaml:17:14 agents\.default\.limits\[0\]\.per: bad duration "often"/);
    expect(r.stdout).toMatch(/invalid\.yaml:19:1 extras: unknown key 'extras'/);
    expect(r.stdout).toMatch(/invalid: 3 errors, 0 warnings\n$/);
  });

  it('reports a condition the policy compiler rejects at its YAML path', async () => {
    const r = await run(checkCommand, ['-c', policy('bad-pattern.yaml')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/bad-pattern\.yaml:9:\d+ agents\.default\.rules\[0\]\.where\.path\.regex: .*regular expression/);
  });

  it('prints { ok, errors, warnings } with --json, each issue with level, file, line, path, message and hint', async () => {
    const bad = await run(checkCommand, ['-c', policy('invalid.yaml'), '--json']);
    expect(bad.code).toBe(1);
    const report = json(bad.stdout);
    expect(report.ok).toBe(false);
    expect(report.errors.map((e) => e.path)).toEqual(['agents.default.rules[0].readonly', 'agents.default.limits[0].per', 'extras']);
    expect(report.errors[0]).toMatchObject({ level: 'error', file: policy('invalid.yaml'), line: 13, column: 9, hint: "did you mean 'readOnly'?" });

    const warned = json((await run(checkCommand, ['-c', policy('warnings.yaml'), '--json'])).stdout);
    expect(warned).toMatchObject({ ok: true, errors: [] });
    expect(warned.warnings.length).toBe(2);
    expect(warned.warnings.every((w) => w.level === 'warning' && w.path.startsWith('agents.default.rules[0]') && w.hint)).toBe(true);

    const strict = await run(checkCommand, ['-c', policy('warnings.yaml'), '--json', '--strict']);
    expect(strict.code).toBe(1);
    expect(json(strict.stdout).ok).toBe(false);
  });

  it('exits 2 when the config file cannot be read', async () => {
    const r = await run(checkCommand, ['-c', policy('does-not-exist.yaml')]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/does-not-exist\.yaml: cannot read the config file \(ENOENT\) \(pass the config with -c FILE/);
    const j = await run(checkCommand, ['-c', policy('does-not-exist.yaml'), '--json']);
    expect(j.code).toBe(2);
    expect(json(j.stdout).ok).toBe(false);
  });

  it('exits 1 with the help text on an unknown option, and 0 for --help', async () => {
    const bad = await run(checkCommand, ['--frobnicate']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^portcullis check: .*--frobnicate/);
    expect(bad.stderr).toContain('usage: portcullis check');
    const help = await run(checkCommand, ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--strict');
  });
});
