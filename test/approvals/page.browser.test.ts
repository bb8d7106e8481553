/**
 * The reviewer page in a real browser (Debian Chromium through playwright-core): a held call
 * appears live, the reviewer approves it, the held call completes. Screenshot:
 * test-results/approvals-page.png.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { harness, listen, routesFor, subject, type Harness, type Served } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const RESULTS = resolve(import.meta.dirname, '../../test-results');
if (!HAVE_CHROMIUM) console.warn(`SKIPPED test/approvals/page.browser.test.ts: ${CHROMIUM} not found (apt-get install -y chromium)`);

describe.skipIf(!HAVE_CHROMIUM)('reviewer page in Chromium', () => {
  let browser: Browser;
  let h: Harness;
  let server: Served;

  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
    });
    h = await harness({ config: { wait: '60s', timeout: '15m' } });
    server = await listen(routesFor(h.approvals));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await h?.cleanup();
  });

  it('shows a held call live, approves it on click, and the held call completes approved', async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    const failedRequests: string[] = [];
    page.on('requestfailed', (r) => failedRequests.push(r.url()));
    await page.goto(`${server.url}/approvals`);
    await expect.poll(() => page.locator('#conn').textContent()).toBe('live');
    expect(await page.locator('#empty').isVisible()).toBe(true);

    const held = h.approvals.hold(
      subject({
        args: { path: '/marketing/drafts/launch.md', text: '<img src=x onerror=alert(1)>' },
        reasons: ['rule agents.default.rules[3] asks for approval', 'session tainted by web__fetch <b>bold</b>'],
        taint: { sources: [{ source: 'web__fetch', callId: 'c-1', level: 'external' }] },
      }),
      { signal: new AbortController().signal },
    );
    const card = page.locator('li.request[data-tool="docs__update_page"]');
    await card.waitFor({ state: 'visible' });
    await expect.poll(() => card.locator('pre.args').textContent()).toContain('"text": "<img src=x onerror=alert(1)>"');
    expect(await card.textContent()).toContain('session tainted by web__fetch <b>bold</b>');
    expect(await card.locator('pre.taint').textContent()).toContain('web__fetch');
    expect(await card.locator('.left').textContent()).toMatch(/1[45]m \d+s left/);
    await card.getByLabel('Note').fill('checked the draft');
    mkdirSync(RESULTS, { recursive: true });
    await page.screenshot({ path: join(RESULTS, 'approvals-page.png'), fullPage: true });

    await card.getByRole('button', { name: 'Approve once' }).click();
    const outcome = await held;
    expect(outcome.status).toBe('approved');
    expect(outcome.request.decision).toMatchObject({ by: 'rita', via: 'page', scope: 'once', note: 'checked the draft' });
    await card.waitFor({ state: 'detached' });
    expect(await page.locator('#count').textContent()).toBe('0');

    await page.getByRole('button', { name: 'History' }).click();
    const row = page.locator(`#history tr[data-id="${outcome.request.id}"]`);
    await row.waitFor({ state: 'visible' });
    expect(await row.textContent()).toContain('rita via page');
    expect(dialogs).toEqual([]);
    expect(failedRequests.filter((u) => !u.includes('/api/approvals/stream'))).toEqual([]);
    await page.close();
  });

  it('denies with a reason from the page', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/approvals`);
    await expect.poll(() => page.locator('#conn').textContent()).toBe('live');
    const held = h.approvals.hold(subject({ tool: 'docs__publish_page' }), { signal: new AbortController().signal });
    const card = page.locator('li.request[data-tool="docs__publish_page"]');
    await card.waitFor({ state: 'visible' });
    await card.getByLabel('Reason').fill('not before the launch');
    await card.getByRole('button', { name: 'Deny' }).click();
    expect(await held).toMatchObject({ status: 'denied', request: { decision: { reason: 'not before the launch', via: 'page' } } });
    await page.close();
  });
});
