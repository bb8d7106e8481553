/**
 * The reviewer page in a real browser against the real gateway: a held MCP call appears live,
 * a click approves it and the client's call completes; the History tab's Undo button runs the
 * compensating call. Screenshots go to test-results/.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { ROOT, demoServer, httpClient, startHttpGateway, tempConfig, textOf, type RunningGateway, type TempConfig } from '../helpers/gateway.js';

const CHROMIUM = '/usr/bin/chromium';
// In CI (where .ci/run installs Chromium) a missing browser is a failure, not a skip.
const RUN = existsSync(CHROMIUM) || process.env.CI === 'true';
const RESULTS = join(ROOT, 'test-results');

describe.skipIf(!RUN)('the approvals page against the running gateway', () => {
  let browser: Browser;
  let cfg: TempConfig;
  let gw: RunningGateway;

  beforeAll(async () => {
    mkdirSync(RESULTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
    });
    cfg = tempConfig({
      servers: { notes: demoServer('notes-server', { annotations: 'trusted' }) },
      agents: {
        default: {
          owner: 'local',
          rules: [
            { allow: 'notes__read_note' },
            {
              ask: 'notes__write_note',
              where: { path: { under: '/marketing/drafts' } },
              undo: { tool: 'notes__restore_note', args: { path: '{{args.path}}', revision: '{{result.structured.previousRevision}}' } },
            },
          ],
        },
      },
      approvals: { wait: '30s', timeout: '5m' },
    });
    gw = await startHttpGateway(cfg.file);
  });

  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
    cfg?.cleanup();
  });

  it('shows a held call live, approves it with a click, and undoes it from the history', async () => {
    const base = gw.url.replace(/\/mcp$/, '');
    const page = await browser.newPage();
    await page.goto(`${base}/approvals`);
    await page.getByText('live').waitFor();

    const client = await httpClient(gw.url);
    const original = textOf(await client.callTool({ name: 'notes__read_note', arguments: { path: '/marketing/drafts/tagline' } }));
    const held = client.callTool({ name: 'notes__write_note', arguments: { path: '/marketing/drafts/tagline', text: 'Notes that think with you' } });

    const card = page.locator('#pending > li', { hasText: 'notes__write_note' });
    await card.waitFor();
    expect(await card.textContent()).toContain('Notes that think with you');
    await page.screenshot({ path: join(RESULTS, 'gateway-approvals-pending.png'), fullPage: true });
    await card.getByRole('button', { name: /approve once/i }).click();

    expect((await held).isError).toBeFalsy();
    expect(textOf(await client.callTool({ name: 'notes__read_note', arguments: { path: '/marketing/drafts/tagline' } }))).toMatch(/Notes that think with you/);

    await page.getByRole('button', { name: 'History' }).click();
    const row = page.locator('tr', { hasText: 'notes__restore_note' });
    await row.waitFor();
    await page.screenshot({ path: join(RESULTS, 'gateway-approvals-history.png'), fullPage: true });
    await row.getByRole('button', { name: 'Undo' }).click();
    await page.locator('tr', { hasText: 'undone by' }).waitFor();

    await vi.waitFor(async () => expect(textOf(await client.callTool({ name: 'notes__read_note', arguments: { path: '/marketing/drafts/tagline' } }))).toBe(original));
    await client.close();
  });
});
