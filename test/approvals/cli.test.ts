/**
 * `portcullis approvals …` against a real HTTP server running the approval routes.
 */
import { PassThrough, Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Context } from 'hono';
import { approvalsCommand, type ApprovalsIo } from '../../src/cli/approvals.js';
import type { Principal } from '../../src/approvals/index.js';
import { harness, listen, nextRequested, routesFor, subject, type Harness, type Served } from './helpers.js';

const TOKEN = 'reviewer-token-for-tests';

let h: Harness;
let server: Served;

/** Bearer auth: the test token is the reviewer, anything else is refused. */
async function authorize(c: Context): Promise<Principal | Response> {
  if (c.req.header('authorization') === `Bearer ${TOKEN}`) return { name: 'rita', roles: ['reviewer'] };
  return c.json({ error: { code: 'UNAUTHENTICATED', message: 'bearer token required' } }, 401);
}

beforeEach(async () => {
  h = await harness({ config: { wait: '10s', timeout: '15m' } });
  server = await listen(routesFor(h.approvals, authorize));
});
afterEach(async () => {
  await server.close();
  await h.cleanup();
});

function capture() {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, text: () => text };
}

/** The command's io: output captured, the test server and token in the environment. */
function ioFor(out: Writable, err: Writable, env: Record<string, string | undefined> = {}, extra: Partial<ApprovalsIo> = {}): ApprovalsIo {
  return {
    out: (text) => void out.write(text),
    err: (text) => void err.write(text),
    env: { PORTCULLIS_URL: server.url, PORTCULLIS_TOKEN: TOKEN, ...env },
    now: () => Date.now(),
    stdout: out,
    stdin: new PassThrough(),
    ...extra,
  };
}

async function run(argv: string[], env: Record<string, string | undefined> = {}) {
  const out = capture();
  const err = capture();
  const code = await approvalsCommand(argv, ioFor(out.stream, err.stream, env));
  return { code, out: out.text(), err: err.text() };
}

describe('portcullis approvals', () => {
  it('approve ID approves the held call and exits 0', async () => {
    const requested = nextRequested(h.approvals);
    const held = h.approvals.hold(subject(), { signal: new AbortController().signal });
    const id = await requested;
    const result = await run(['approve', id, '--scope', 'session', '--note', 'ok from the terminal']);
    expect(result).toMatchObject({ code: 0, err: '' });
    expect(result.out).toContain(`approved ${id} (default → docs__update_page, scope session)`);
    expect(await held).toMatchObject({ status: 'approved', request: { decision: { by: 'rita', via: 'cli', scope: 'session', note: 'ok from the terminal' } } });
  });

  it('deny ID --reason denies the held call with the reason', async () => {
    const requested = nextRequested(h.approvals);
    const held = h.approvals.hold(subject(), { signal: new AbortController().signal });
    const id = await requested;
    const result = await run(['deny', id, '--reason', 'not this folder', '--url', server.url], { PORTCULLIS_URL: 'http://127.0.0.1:1' });
    expect(result.code).toBe(0);
    expect(await held).toMatchObject({ status: 'denied', request: { decision: { via: 'cli', reason: 'not this folder' } } });
  });

  it('list prints pending requests and show prints the arguments', async () => {
    const requested = nextRequested(h.approvals);
    void h.approvals.hold(subject({ args: { path: '/marketing/x', text: 'evil\u001b[2Jcls' } }), { signal: new AbortController().signal });
    const id = await requested;
    const list = await run(['list']);
    expect(list.code).toBe(0);
    expect(list.out).toMatch(new RegExp(`${id}\\s+pending\\s+default\\s+docs__update_page\\s+\\d+m\\d+s left`));
    const show = await run(['show', id]);
    expect(show.code).toBe(0);
    expect(show.out).toContain('"path": "/marketing/x"');
    expect(show.out).toContain('rule agents.default.rules[3] asks for approval');
    expect(show.out).not.toContain('\u001b');
    const json = await run(['list', '--json']);
    expect(JSON.parse(json.out)).toHaveLength(1);
  });

  it('exits 1 on an unknown id, a refused token and usage errors', async () => {
    const unknown = await run(['show', 'apr_nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('no approval request apr_nope');
    const refused = await run(['list'], { PORTCULLIS_TOKEN: 'wrong' });
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('not authenticated');
    for (const argv of [[], ['approve'], ['approve', 'x', '--scope', 'forever'], ['deny', 'x', '--note', 'n'], ['frobnicate'], ['list', '--bogus']]) {
      const usage = await run(argv);
      expect(usage.code, argv.join(' ')).toBe(1);
      expect(usage.err).toContain('usage: portcullis approvals');
    }
  });

  it('exits 2 when the gateway cannot be reached', async () => {
    const closed = await listen(routesFor(h.approvals));
    await closed.close();
    const result = await run(['list'], { PORTCULLIS_URL: closed.url });
    expect(result.code).toBe(2);
    expect(result.err).toContain(`cannot reach the gateway at ${closed.url}`);
  });

  it('watch prompts for each new request on a terminal and approves on y', async () => {
    const stdin = new PassThrough();
    const out = capture();
    const stop = new AbortController();
    const watching = approvalsCommand(['watch'], ioFor(out.stream, capture().stream, {}, { stdin, interactive: true, signal: stop.signal }));
    await vi.waitFor(() => expect(out.text()).toContain('watching'));
    const held = h.approvals.hold(subject(), { signal: new AbortController().signal });
    await vi.waitFor(() => expect(out.text()).toContain('Approve docs__update_page for default?'));
    expect(out.text()).toContain('"path": "/marketing/drafts/launch.md"');
    stdin.write('y\n');
    expect((await held).status).toBe('approved');
    await vi.waitFor(() => expect(out.text()).toMatch(/decided\s+apr_\S+\s+approved/));
    stop.abort();
    expect(await watching).toBe(0);
  });

  it('watch prints requests without prompting when not on a terminal', async () => {
    const out = capture();
    const stop = new AbortController();
    const watching = approvalsCommand(['watch'], ioFor(out.stream, capture().stream, {}, { interactive: false, signal: stop.signal }));
    await vi.waitFor(() => expect(out.text()).toContain('not a terminal'));
    void h.approvals.hold(subject(), { signal: new AbortController().signal });
    await vi.waitFor(() => expect(out.text()).toMatch(/requested\s+apr_\S+\s+pending\s+default\s+docs__update_page/));
    expect(out.text()).not.toContain('Approve docs__update_page');
    stop.abort();
    expect(await watching).toBe(0);
  });
});
