/** `portcullis serve` refuses a config that lint finds errors in, before starting anything. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fixtureServer, tempConfig, type TempConfig } from '../helpers/gateway.js';

const BIN = join(import.meta.dirname, '../../bin/portcullis.js');
let cfg: TempConfig | undefined;

afterEach(() => cfg?.cleanup());

describe('portcullis serve', () => {
  it('refuses to start on a lint error, naming the file, line and YAML path', () => {
    cfg = tempConfig({
      servers: { flaky: fixtureServer('flaky-server.ts') },
      agents: { default: { rules: [{ allow: 'flaky__echo', undo: { tool: 'flaky__echo', args: { text: '{{request.text}}' } } }] } },
    });
    const run = spawnSync(process.execPath, [BIN, 'serve', '--stdio', '-c', cfg.file], { encoding: 'utf8', timeout: 30_000, input: '' });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(new RegExp(`${cfg.file.replaceAll(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+ agents\\.default\\.rules\\[0\\]\\.undo\\.args: undo template \\{\\{request\\.text\\}\\} refers to neither args`));
    expect(run.stderr).not.toMatch(/upstream flaky/);
  });
});
