import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { evaluate, compilePolicy, NO_LOCKDOWN, type LockdownState } from '../../src/policy/index.js';
import { parseConfigText } from '../../src/config/index.js';
import { createLockdownRoute, createLockdownStore, LockdownStateError, type LockdownPrincipal, type LockdownRouteOptions } from '../../src/state/index.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-lockdown-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('createLockdownStore', () => {
  it('starts with no lockdown, and creates nothing, when the state folder has no lockdown file', async () => {
    const stateDir = join(dir, 'state');
    const store = await createLockdownStore(stateDir);
    expect(store.get()).toEqual(NO_LOCKDOWN);
    expect(existsSync(stateDir)).toBe(false);
  });

  it('persists a change so that a store opened later (a restarted gateway) starts locked down', async () => {
    const stateDir = join(dir, 'state');
    const store = await createLockdownStore(stateDir);
    await store.set('release-bot', 'read-only');
    await store.set(undefined, 'deny-all');
    const reopened = await createLockdownStore(stateDir);
    expect(reopened.get()).toEqual({ global: 'deny-all', agents: { 'release-bot': 'read-only' } });
    await reopened.set(undefined, 'off');
    expect((await createLockdownStore(stateDir)).get()).toEqual({ agents: { 'release-bot': 'read-only' } });
  });

  it('writes the file atomically: owner-only, valid JSON, no temp files left behind', async () => {
    const stateDir = join(dir, 'state');
    const store = await createLockdownStore(stateDir, { now: () => new Date('2026-01-02T03:04:05Z') });
    await store.set('default', 'deny-all');
    expect(readdirSync(stateDir)).toEqual(['lockdown.json']);
    expect(statSync(store.file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(store.file, 'utf8'))).toEqual({ version: 1, agents: { default: 'deny-all' }, updatedAt: '2026-01-02T03:04:05.000Z' });
  });

  it('applies concurrent changes in the order they were made', async () => {
    const store = await createLockdownStore(dir);
    await Promise.all([store.set('a', 'deny-all'), store.set('b', 'read-only'), store.set('a', 'off'), store.set('c', 'deny-all')]);
    expect(store.get()).toEqual({ agents: { b: 'read-only', c: 'deny-all' } });
    expect((await createLockdownStore(dir)).get()).toEqual(store.get());
  });

  it('tells listeners about each change, until they unsubscribe', async () => {
    const store = await createLockdownStore(dir);
    const seen: LockdownState[] = [];
    const off = store.onChange((s) => seen.push(s));
    await store.set('a', 'read-only');
    off();
    await store.set('a', 'off');
    expect(seen).toEqual([{ agents: { a: 'read-only' } }]);
  });

  it('refuses to open a malformed lockdown file rather than start unlocked', async () => {
    writeFileSync(join(dir, 'lockdown.json'), '{"version": 1, "agents": {"a": "some"}}');
    await expect(createLockdownStore(dir)).rejects.toThrow(LockdownStateError);
    await expect(createLockdownStore(dir)).rejects.toThrow(/lockdown\.json: the lockdown state is malformed \(agents\.a: /);
    writeFileSync(join(dir, 'lockdown.json'), '{not json');
    await expect(createLockdownStore(dir)).rejects.toThrow(/not valid JSON/);
  });

  it('keeps the old state when the file cannot be written', async () => {
    const stateDir = join(dir, 'state');
    const store = await createLockdownStore(stateDir);
    writeFileSync(stateDir, 'a file where the state folder should be');
    await expect(store.set('a', 'deny-all')).rejects.toThrow();
    expect(store.get()).toEqual(NO_LOCKDOWN);
    rmSync(stateDir);
    mkdirSync(stateDir);
    await store.set('a', 'deny-all');
    expect(store.get()).toEqual({ agents: { a: 'deny-all' } });
  });

  it('holds state that the policy core enforces: a read-only lockdown denies a write tool the policy allows', async () => {
    const loaded = await parseConfigText('version: 1\nagents:\n  default:\n    rules:\n      - allow: "notes__*"\n', 'inline.yaml', {}, async () => '');
    const policy = compilePolicy(loaded.config, { version: 'v' });
    const store = await createLockdownStore(dir);
    const input = { agent: 'default', kind: 'tool' as const, name: 'notes__write', tool: { annotationsTrusted: true, readOnlyHint: false } };
    expect(evaluate(policy, input, { now: 0, lockdown: store.get() }).effect).toBe('allow');
    await store.set('default', 'read-only');
    const decision = evaluate(policy, input, { now: 0, lockdown: (await createLockdownStore(dir)).get() });
    expect(decision).toMatchObject({ effect: 'deny', lockdown: { mode: 'read-only', scope: 'agent' } });
  });
});

describe('createLockdownRoute', () => {
  async function app(onChange?: LockdownRouteOptions['onChange']) {
    const store = await createLockdownStore(dir);
    const hono = new Hono<{ Variables: { principal: LockdownPrincipal } }>();
    hono.use('*', async (c, next) => {
      const role = c.req.header('x-test-role');
      if (role) c.set('principal', { sub: `${role}@example.com`, roles: [role] });
      await next();
    });
    hono.post('/api/lockdown', createLockdownRoute(store, onChange ? { onChange } : {}));
    const post = (body: unknown, role?: string) =>
      hono.request('/api/lockdown', { method: 'POST', headers: { 'content-type': 'application/json', ...(role ? { 'x-test-role': role } : {}) }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    return { store, post };
  }

  it('answers 401 without a principal and 403 for a non-admin, changing nothing', async () => {
    const { store, post } = await app();
    const anonymous = await post({ mode: 'deny-all' });
    expect(anonymous.status).toBe(401);
    const reviewer = await post({ mode: 'deny-all' }, 'reviewer');
    expect(reviewer.status).toBe(403);
    expect(await reviewer.json()).toMatchObject({ error: expect.stringContaining('admin') });
    expect(store.get()).toEqual(NO_LOCKDOWN);
    expect(existsSync(store.file)).toBe(false);
  });

  it('lets an admin lock down and release, persisting each change and reporting it to onChange', async () => {
    const changes: unknown[] = [];
    const { store, post } = await app((state, change) => void changes.push({ state, change }));
    const on = await post({ agent: 'release-bot', mode: 'read-only' }, 'admin');
    expect(on.status).toBe(200);
    expect(await on.json()).toEqual({ global: null, agents: { 'release-bot': 'read-only' } });
    expect((await createLockdownStore(dir)).get()).toEqual({ agents: { 'release-bot': 'read-only' } });
    const off = await post({ agent: 'release-bot', mode: 'off' }, 'admin');
    expect(await off.json()).toEqual({ global: null, agents: {} });
    expect(store.get()).toEqual({ agents: {} });
    expect(changes).toEqual([
      { state: { agents: { 'release-bot': 'read-only' } }, change: { agent: 'release-bot', mode: 'read-only', by: 'admin@example.com' } },
      { state: { agents: {} }, change: { agent: 'release-bot', mode: 'off', by: 'admin@example.com' } },
    ]);
  });

  it('answers 400 for a body that is not JSON or not a lockdown request', async () => {
    const { post } = await app();
    expect((await post('{', 'admin')).status).toBe(400);
    const badMode = await post({ mode: 'lock-everything' }, 'admin');
    expect(badMode.status).toBe(400);
    expect(await badMode.json()).toMatchObject({ error: expect.stringContaining('mode') });
    expect((await post({ mode: 'off', extra: 1 }, 'admin')).status).toBe(400);
  });
});
