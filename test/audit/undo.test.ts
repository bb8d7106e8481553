import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Hono } from 'hono';
import { serve, type ServerType } from '@hono/node-server';
import { GatewayError } from '../../src/errors.js';
import { createAuditLog, type AuditLog } from '../../src/audit/log.js';
import { UNDO_FILE, createUndoService, createUndoStore, renderUndoArgs, undoContextOf, type ToolResultLike, type UndoService } from '../../src/audit/undo.js';
import { createAuthenticator, requireCsrf, requireReviewer, type ReviewerEnv } from '../../src/http/auth.js';
import { undoHandler } from '../../src/http/calls.js';
import { undoCommand } from '../../src/cli/undo.js';
import type { CliIo } from '../../src/cli/command-io.js';

const CTX = {
  args: { path: '/marketing/drafts/q3.md', count: 3, tags: ['a', 'b'], nested: { id: 7 } },
  result: { structured: { previousRevision: 41, meta: { etag: 'W/"x"', empty: null } }, text: 'saved revision 42' },
};

function renderError(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (error) {
    if (error instanceof GatewayError) return error;
    throw error;
  }
  throw new Error('expected a GatewayError');
}

describe('renderUndoArgs', () => {
  it.each([
    ['a whole-string reference keeps a number a number', { revision: '{{result.structured.previousRevision}}' }, { revision: 41 }],
    ['a whole-string reference keeps a string', { path: '{{args.path}}' }, { path: '/marketing/drafts/q3.md' }],
    ['spaces inside the braces are allowed', { path: '{{ args.path }}' }, { path: '/marketing/drafts/q3.md' }],
    ['a whole-string reference keeps an array or object', { tags: '{{args.tags}}', n: '{{args.nested}}' }, { tags: ['a', 'b'], n: { id: 7 } }],
    ['a whole-string reference keeps null', { e: '{{result.structured.meta.empty}}' }, { e: null }],
    ['references inside text are interpolated as text', { note: 'undo {{args.path}} to r{{result.structured.previousRevision}}' }, { note: 'undo /marketing/drafts/q3.md to r41' }],
    ['result.text is the first text block', { why: '{{result.text}}' }, { why: 'saved revision 42' }],
    ['array elements are reachable by index', { first: '{{args.tags.0}}' }, { first: 'a' }],
    ['nested templates and literals are rendered recursively', { opts: { p: '{{args.path}}', force: true, list: ['{{args.count}}', 'x'] } }, { opts: { p: '/marketing/drafts/q3.md', force: true, list: [3, 'x'] } }],
    ['objects interpolated into text become JSON', { s: 'meta={{result.structured.meta}}' }, { s: 'meta={"etag":"W/\\"x\\"","empty":null}' }],
  ])('%s', (_name, template, expected) => {
    expect(renderUndoArgs(template, CTX)).toEqual(expected);
  });

  it('names every missing reference in one error', () => {
    const error = renderError(() => renderUndoArgs({ a: '{{args.nope}}', b: 'x {{result.structured.gone.deeper}} y', c: '{{args.path}}' }, CTX));
    expect(error.code).toBe('INVALID_PARAMS');
    expect(error.message).toContain('{{args.nope}}');
    expect(error.message).toContain('{{result.structured.gone.deeper}}');
    expect(error.data).toEqual({ missing: ['args.nope', 'result.structured.gone.deeper'] });
  });

  it('treats result.text as missing when the result has no text block', () => {
    expect(renderError(() => renderUndoArgs({ t: '{{result.text}}' }, { args: {}, result: {} })).data).toEqual({ missing: ['result.text'] });
  });

  it('never evaluates code or walks into prototypes', () => {
    expect(renderError(() => renderUndoArgs({ x: '{{args.constructor}}' }, CTX)).data).toEqual({ missing: ['args.constructor'] });
    expect(renderError(() => renderUndoArgs({ x: '{{args.__proto__}}' }, CTX)).data).toEqual({ missing: ['args.__proto__'] });
    expect(renderError(() => renderUndoArgs({ x: '{{args.path.length}}' }, CTX)).data).toEqual({ missing: ['args.path.length'] });
    const evil = renderError(() => renderUndoArgs({ x: "{{process.exit(1)}}" }, CTX));
    expect(evil.code).toBe('CONFIG_INVALID');
    expect(evil.message).toContain('neither args.* nor result.text');
  });

  it('builds its context from a tool result: structuredContent and the first text block', () => {
    const result: ToolResultLike = { content: [{ type: 'image' }, { type: 'text', text: 'first' }, { type: 'text', text: 'second' }], structuredContent: { id: 5 } };
    expect(undoContextOf({ a: 1 }, result)).toEqual({ args: { a: 1 }, result: { structured: { id: 5 }, text: 'first' } });
  });
});

describe('undo store', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-undo-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const entry = (callId: string) => ({ callId, agent: 'default', owner: 'alice', tool: 'notes__post', undo: { tool: 'notes__delete', args: { id: callId } }, createdAt: 1 });

  it('persists entries across restarts in a 0600 file, leaving no temp files behind', () => {
    const store = createUndoStore({ stateDir: dir });
    store.put(entry('c1'));
    store.markDone('c1', { at: 5, by: 'alice' });
    const file = join(dir, UNDO_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual([UNDO_FILE]);
    expect(createUndoStore({ stateDir: dir }).get('c1')).toEqual({ ...entry('c1'), done: { at: 5, by: 'alice' } });
  });

  it('drops the oldest entries beyond its bound', () => {
    const store = createUndoStore({ stateDir: dir, maxEntries: 3 });
    for (const id of ['c1', 'c2', 'c3', 'c4', 'c5']) store.put(entry(id));
    expect(store.list().map((e) => e.callId)).toEqual(['c3', 'c4', 'c5']);
    expect(createUndoStore({ stateDir: dir, maxEntries: 3 }).get('c1')).toBeUndefined();
  });

  it('moves a corrupt file aside and starts empty, with a warning', () => {
    writeFileSync(join(dir, UNDO_FILE), '{"entries": [');
    const warnings: string[] = [];
    const store = createUndoStore({ stateDir: dir, onWarning: (m) => warnings.push(m) });
    expect(store.list()).toEqual([]);
    expect(warnings[0]).toContain('unreadable');
    expect(readdirSync(dir).some((f) => f.startsWith(`${UNDO_FILE}.corrupt-`))).toBe(true);
  });
});

describe('undo service', () => {
  let dir: string;
  let auditFile: string;
  let audit: AuditLog;
  let calls: Array<{ agent: string; tool: string; args: Record<string, unknown> }>;
  let nextResult: () => Promise<ToolResultLike>;
  let service: UndoService;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-undo-svc-'));
    auditFile = join(dir, 'audit.jsonl');
    audit = createAuditLog({ file: auditFile, arguments: 'full', secrets: [] });
    calls = [];
    nextResult = async () => ({ content: [{ type: 'text', text: 'deleted' }] });
    service = createUndoService({
      store: createUndoStore({ stateDir: join(dir, 'state') }),
      audit,
      runCall: async (agent, tool, args) => {
        calls.push({ agent, tool, args });
        return nextResult();
      },
    });
  });
  afterEach(() => {
    audit.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const auditLines = () => readFileSync(auditFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const recordPost = (callId = 'c-post', owner: string | undefined = 'alice@example.com') =>
    service.record({
      callId,
      agent: 'default',
      owner,
      session: 's-1',
      tool: 'notes__post_note',
      args: { title: 'hi' },
      result: { content: [{ type: 'text', text: 'posted' }], structuredContent: { id: 17 } },
      undo: { tool: 'notes__delete_note', args: { id: '{{result.structured.id}}' } },
    });

  it('records the rendered undo of a successful call, with the types of its values', () => {
    const recorded = recordPost();
    expect(recorded).toMatchObject({ recorded: true, entry: { callId: 'c-post', owner: 'alice@example.com', undo: { tool: 'notes__delete_note', args: { id: 17 } } } });
  });

  it('does not record an undo for an error result, or when the template cannot be rendered, and says why', () => {
    const failed = service.record({ callId: 'c-err', agent: 'default', tool: 't', args: {}, result: { isError: true }, undo: { tool: 'u', args: {} } });
    expect(failed).toEqual({ recorded: false, reason: 'the call returned an error result' });
    const missing = service.record({ callId: 'c-miss', agent: 'default', tool: 't', args: {}, result: {}, undo: { tool: 'u', args: { id: '{{result.structured.id}}' } } });
    expect(missing).toMatchObject({ recorded: false, reason: expect.stringContaining('{{result.structured.id}}') });
    expect(service.store.get('c-miss')).toBeUndefined();
  });

  it('runs the compensating call as the agent for the owner, once, and audits undo.completed', async () => {
    recordPost();
    const outcome = await service.undo('c-post', { name: 'alice@example.com', roles: ['reviewer'] });
    expect(outcome).toMatchObject({ callId: 'c-post', tool: 'notes__delete_note' });
    expect(calls).toEqual([{ agent: 'default', tool: 'notes__delete_note', args: { id: 17 } }]);
    expect(auditLines().at(-1)).toMatchObject({ event: 'undo.completed', callId: 'c-post', agent: 'default', tool: 'notes__delete_note', undoes: 'notes__post_note', by: 'alice@example.com', outcome: 'ok', args: { id: 17 } });
    const again = await service.undo('c-post', { name: 'alice@example.com', roles: ['reviewer'] }).catch((e: unknown) => e);
    expect(again).toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('already undone by alice@example.com') });
    expect(calls).toHaveLength(1);
  });

  it('lets an admin undo a call of another owner', async () => {
    recordPost();
    await service.undo('c-post', { name: 'root', roles: ['admin'] });
    expect(calls).toHaveLength(1);
  });

  it('refuses a reviewer who is not the owner with FORBIDDEN, runs nothing and audits the refusal', async () => {
    recordPost();
    const error = await service.undo('c-post', { name: 'mallory', roles: ['reviewer'] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('alice@example.com') });
    expect(calls).toEqual([]);
    expect(auditLines().at(-1)).toMatchObject({ event: 'undo.completed', outcome: 'FORBIDDEN', by: 'mallory' });
  });

  it('refuses an agent identity even when its token carries the admin role', async () => {
    recordPost();
    await expect(service.undo('c-post', { name: 'alice@example.com', roles: ['admin'], isAgent: 'default' })).rejects.toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('agent identity') });
    expect(calls).toEqual([]);
  });

  it('refuses everyone but admins when the agent has no owner', async () => {
    recordPost('c-orphan', undefined);
    await expect(service.undo('c-orphan', { name: 'undefined', roles: ['reviewer'] })).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('answers NOT_FOUND with a clear message for a call without an undo', async () => {
    await expect(service.undo('c-none', { name: 'root', roles: ['admin'] })).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('has no undo') });
  });

  it('treats a second undo while the first is running as a conflict, not a second run', async () => {
    recordPost();
    let release!: () => void;
    nextResult = () => new Promise((resolve) => (release = () => resolve({ content: [{ type: 'text', text: 'ok' }] })));
    const first = service.undo('c-post', { name: 'root', roles: ['admin'] });
    await expect(service.undo('c-post', { name: 'root', roles: ['admin'] })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('already running') });
    release();
    await first;
    expect(calls).toHaveLength(1);
  });

  it('leaves the call undoable when the compensating call fails, and audits the failure', async () => {
    recordPost();
    nextResult = async () => ({ isError: true, content: [{ type: 'text', text: 'note is locked' }] });
    await expect(service.undo('c-post', { name: 'root', roles: ['admin'] })).rejects.toMatchObject({ code: 'UPSTREAM_ERROR', message: expect.stringContaining('note is locked') });
    expect(auditLines().at(-1)).toMatchObject({ event: 'undo.completed', outcome: 'tool-error' });
    nextResult = async () => {
      throw new GatewayError('UPSTREAM_UNAVAILABLE', 'upstream notes is down');
    };
    await expect(service.undo('c-post', { name: 'root', roles: ['admin'] })).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    nextResult = async () => ({ content: [{ type: 'text', text: 'deleted' }] });
    await service.undo('c-post', { name: 'root', roles: ['admin'] });
    expect(calls).toHaveLength(3);
    expect(service.store.get('c-post')?.done?.by).toBe('root');
  });
});

describe('POST /api/calls/:id/undo and portcullis undo', () => {
  const SECRET = 'undo-route-secret-0123456789-abcdefgh';
  let dir: string;
  let audit: AuditLog;
  let server: ServerType;
  let base: string;
  let service: UndoService;
  let auth: ReturnType<typeof createAuthenticator>;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-undo-http-'));
    audit = createAuditLog({ file: join(dir, 'audit.jsonl'), arguments: 'full', secrets: [] });
    service = createUndoService({ store: createUndoStore({ stateDir: dir }), audit, runCall: async () => ({ content: [{ type: 'text', text: 'note 17 deleted' }] }) });
    service.record({ callId: 'c-post', agent: 'default', owner: 'alice', tool: 'notes__post_note', args: {}, result: { structuredContent: { id: 17 } }, undo: { tool: 'notes__delete_note', args: { id: '{{result.structured.id}}' } } });
    auth = createAuthenticator({
      auth: { mode: 'jwt', jwt: { secret: SECRET, agentClaim: 'sub', roleClaim: 'roles', clockTolerance: 0, maxTokenBytes: 8_192 } },
      agents: ['default'],
      publicUrl: 'http://127.0.0.1:8787',
      audit,
      stateDir: dir,
    });
    const app = new Hono<ReviewerEnv>();
    app.post('/api/calls/:id/undo', requireCsrf(), requireReviewer(auth, { anyRole: true }), undoHandler(service));
    server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    audit.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function token(sub: string, roles: string[]): Promise<string> {
    const { SignJWT } = await import('jose');
    return new SignJWT({ roles, exp: Math.floor(Date.now() / 1000) + 600 }).setSubject(sub).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET));
  }

  function io(env: Record<string, string> = {}): CliIo & { stdout: string; stderr: string } {
    const o = { stdout: '', stderr: '', out: (t: string) => void (o.stdout += t), err: (t: string) => void (o.stderr += t), env, now: () => Date.now() };
    return o;
  }

  it('undoes through the HTTP API for the owner and answers 409 the second time', async () => {
    const headers = { authorization: `Bearer ${await token('alice', ['reviewer'])}`, 'x-portcullis-csrf': '1' };
    const first = await fetch(`${base}/api/calls/c-post/undo`, { method: 'POST', headers });
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ callId: 'c-post', tool: 'notes__delete_note', outcome: 'ok' });
    const second = await fetch(`${base}/api/calls/c-post/undo`, { method: 'POST', headers });
    expect(second.status).toBe(409);
    expect(await second.json()).toMatchObject({ error: { code: 'CONFLICT' } });
  });

  it('lets the owner undo with a token that carries no role', async () => {
    const res = await fetch(`${base}/api/calls/c-post/undo`, { method: 'POST', headers: { authorization: `Bearer ${await token('alice', [])}`, 'x-portcullis-csrf': '1' } });
    expect(res.status).toBe(200);
  });

  it('refuses the agent itself, recognised by its token naming an agent profile', async () => {
    const res = await fetch(`${base}/api/calls/c-post/undo`, { method: 'POST', headers: { authorization: `Bearer ${await token('default', ['admin'])}`, 'x-portcullis-csrf': '1' } });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: { code: 'FORBIDDEN', message: expect.stringContaining('agent identity') } });
  });

  it('answers 403 to another reviewer, 404 to an unknown call, and 403 without the CSRF marker', async () => {
    const bob = { authorization: `Bearer ${await token('bob', ['reviewer'])}`, 'x-portcullis-csrf': '1' };
    expect((await fetch(`${base}/api/calls/c-post/undo`, { method: 'POST', headers: bob })).status).toBe(403);
    expect((await fetch(`${base}/api/calls/c-nope/undo`, { method: 'POST', headers: bob })).status).toBe(404);
    const noMarker = await fetch(`${base}/api/calls/c-post/undo`, { method: 'POST', headers: { authorization: bob.authorization } });
    expect(noMarker.status).toBe(403);
    expect(await noMarker.json()).toMatchObject({ reason: 'csrf' });
  });

  it('runs from the CLI with --url and a token from PORTCULLIS_TOKEN', async () => {
    const out = io({ PORTCULLIS_TOKEN: await token('alice', ['reviewer']) });
    expect(await undoCommand(['c-post', '--url', `${base}/mcp`], out)).toBe(0);
    expect(out.stdout).toBe('undone: call c-post with notes__delete_note\nnote 17 deleted\n');
    const again = io({ PORTCULLIS_TOKEN: await token('alice', ['reviewer']) });
    expect(await undoCommand(['c-post', '--url', base], again)).toBe(1);
    expect(again.stderr).toContain('already undone by alice');
  });

  it('tells the CLI user to pass a token when the gateway answers 401', async () => {
    const out = io();
    expect(await undoCommand(['c-post', '--url', base], out)).toBe(1);
    expect(out.stderr).toContain('HTTP 401');
    expect(out.stderr).toContain('--token');
  });

  it('exits 2 when no gateway answers', async () => {
    const out = io();
    expect(await undoCommand(['c-post', '--url', 'http://127.0.0.1:1'], out)).toBe(2);
    expect(out.stderr).toContain('no gateway answered');
  });

  it('asks for a call id', async () => {
    const out = io();
    expect(await undoCommand([], out)).toBe(1);
    expect(out.stderr).toContain('CALL_ID');
  });
});
