/** The real binary (`node bin/portcullis.js`, built by `npm run build`): exit codes and streams as a shell sees them. */
import { describe, expect, it } from 'vitest';
import { policy, runBin } from './helpers.js';

describe('portcullis binary', () => {
  it('lists the policy commands in its usage', () => {
    const r = runBin(['--help']);
    expect(r.code).toBe(0);
    for (const name of ['check', 'explain', 'diff', 'call', 'lockdown']) expect(r.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
  });

  it.each([
    ['check', ['check', '-c', policy('clean.yaml')], 0],
    ['check on an invalid file', ['check', '-c', policy('invalid.yaml')], 1],
    ['check --strict with warnings', ['check', '--strict', '-c', policy('warnings.yaml')], 1],
    ['check on a missing file', ['check', '-c', policy('missing.yaml')], 2],
    ['explain', ['explain', '-c', policy('docs-and-web.yaml')], 0],
    ['explain for an unknown agent', ['explain', '-c', policy('docs-and-web.yaml'), '--agent', 'x'], 1],
    ['diff without changes', ['diff', policy('clean.yaml'), policy('clean.yaml')], 0],
    ['diff with changes', ['diff', policy('clean.yaml'), policy('narrowed.yaml')], 3],
    ['an allowed dry run', ['call', 'notes__search', '--dry-run', '-c', policy('clean.yaml')], 0],
    ['a denied dry run', ['call', 'notes__delete', '--dry-run', '-c', policy('clean.yaml')], 1],
    ['a dry run needing approval', ['call', 'notes__write', '--dry-run', '-c', policy('clean.yaml'), '--args', '{"path": "/team/drafts/a"}'], 1],
  ])('exits with the documented code: %s', (_name, args, code) => {
    expect(runBin(args).code).toBe(code);
  });

  it('prints check --json on stdout as one JSON document', () => {
    const r = runBin(['check', '--json', '-c', policy('invalid.yaml')]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, errors: [{ path: 'agents.default.rules[0].readonly' }, {}, {}], warnings: [] });
  });

  it('prints --help for every policy command with exit 0', () => {
    for (const name of ['check', 'explain', 'diff', 'call', 'lockdown']) {
      const r = runBin([name, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`usage: portcullis ${name}`);
    }
  });
});
