/**
 * Secrets (SPEC §3): a credential given to an upstream through ${env:…} never reaches the client,
 * the logs, the audit log or the API, even when the upstream echoes it in results, structured
 * content, error results, protocol errors, progress and log messages.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureServer, httpClient, startHttpGateway, tempConfig, type RunningGateway, type TempConfig } from '../helpers/gateway.js';

const SECRET = 'sk-live-7f3a9c1e5b2d4f6a8c0e2b4d6f8a0c2e';

describe('an upstream that echoes its own credential', () => {
  let cfg: TempConfig;
  let gw: RunningGateway;
  const seen: string[] = [];

  beforeAll(async () => {
    cfg = tempConfig({
      servers: { flaky: fixtureServer('flaky-server.ts', { env: { FLAKY_TOKEN: '${env:FLAKY_TOKEN}' }, protocol: 'legacy' }) },
      agents: { default: { rules: [{ allow: 'flaky__*' }], prompts: [{ allow: 'flaky__*' }] } },
      gateway: { logLevel: 'debug' },
    });
    gw = await startHttpGateway(cfg.file, [], { FLAKY_TOKEN: SECRET });
    const client = await httpClient(gw.url);
    client.setNotificationHandler('notifications/message', (n) => void seen.push(JSON.stringify(n.params)));
    await client.setLoggingLevel('debug');
    seen.push(JSON.stringify(await client.callTool({ name: 'flaky__whoami', arguments: {} })));
    seen.push(JSON.stringify(await client.callTool({ name: 'flaky__leak', arguments: {} }, { onprogress: (p) => void seen.push(JSON.stringify(p)) })));
    seen.push(JSON.stringify(await client.callTool({ name: 'flaky__leak_error', arguments: {} })));
    await client.getPrompt({ name: 'flaky__leak_prompt' }).then(
      () => seen.push('the prompt unexpectedly succeeded'),
      (error: Error) => seen.push(error.message),
    );
    await client.close();
    const base = gw.url.replace(/\/mcp$/, '');
    for (const path of ['/api/calls?limit=100', '/api/explain?agent=default', '/api/approvals', '/metrics', '/readyz']) seen.push(await (await fetch(`${base}${path}`)).text());
  });

  afterAll(async () => {
    await gw?.stop();
    cfg?.cleanup();
  });

  it('shows the client [REDACTED] in results, structured content, errors and progress', () => {
    const client = seen.join('\n');
    expect(client).toMatch(/my token is \[REDACTED\]/);
    expect(client).toMatch(/"token":"\[REDACTED\]"/);
    expect(client).toMatch(/failed with token \[REDACTED\]/);
    expect(client).toMatch(/upstream rejected key \[REDACTED\]/);
    expect(client).toMatch(/prompt store rejected key \[REDACTED\]/);
    expect(client).toMatch(/using \[REDACTED\]/);
    expect(client).not.toContain(SECRET);
  });

  it('keeps it out of the audit log and the gateway log', async () => {
    await gw.stop();
    expect(readFileSync(join(cfg.dir, 'audit.jsonl'), 'utf8')).not.toContain(SECRET);
    expect(gw.stderr()).not.toContain(SECRET);
  });
});
