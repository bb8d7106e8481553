import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AUDIT_EVENT_NAMES, argsDigest, createAuditLog, formatAuditLine, type AuditEvent } from '../../src/audit/log.js';

const ROOT = resolve(import.meta.dirname, '../..');
const TS = Date.UTC(2026, 2, 1, 9, 30, 0);
const SPEC_FIELDS = ['ts', 'event', 'callId', 'agent', 'session', 'tool', 'decision', 'rule', 'reasons', 'taint', 'approval', 'durationMs', 'outcome', 'argsDigest'];

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-audit-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function readLines(file: string): Array<Record<string, unknown>> {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A fully populated event of each kind, as the gateway writes them. */
function sampleEvent(event: AuditEvent['event']): AuditEvent {
  return {
    event,
    callId: 'c-1',
    agent: 'default',
    session: 's-1',
    tool: 'docs__update_page',
    decision: 'ask',
    rule: 'agents.default.rules[3]',
    reasons: ['rule agents.default.rules[3] asks', 'session is tainted by web__fetch'],
    taint: { session: 'tainted', sources: ['web__fetch'] },
    approval: { id: 'a-1', by: 'alice@example.com', scope: 'once' },
    durationMs: 12,
    outcome: 'ok',
    args: { path: '/marketing/drafts/q3.md', body: 'hello' },
  };
}

describe('audit log', () => {
  it('writes every SPEC §8 event type with every field, in the documented order', () => {
    const file = join(dir, 'audit.jsonl');
    const audit = createAuditLog({ file, arguments: 'full', secrets: [], now: () => TS });
    for (const name of AUDIT_EVENT_NAMES) audit.record(sampleEvent(name));
    audit.close();
    const lines = readLines(file);
    expect(lines.map((l) => l.event)).toEqual([...AUDIT_EVENT_NAMES]);
    expect(AUDIT_EVENT_NAMES).toEqual([
      'call.decided', 'call.completed', 'approval.requested', 'approval.decided', 'approval.expired',
      'pin.changed', 'policy.reloaded', 'lockdown.changed', 'undo.completed', 'auth.failed',
    ]);
    for (const line of lines) {
      expect(Object.keys(line)).toEqual([...SPEC_FIELDS, 'args']);
      expect(line.ts).toBe('2026-03-01T09:30:00.000Z');
      expect(line.approval).toEqual({ id: 'a-1', by: 'alice@example.com', scope: 'once' });
      expect(line.argsDigest).toBe(argsDigest({ path: '/marketing/drafts/q3.md', body: 'hello' }));
    }
  });

  it('keeps extra fields (a reload diff, an auth failure reason) after the SPEC fields', () => {
    const line = JSON.parse(formatAuditLine({ event: 'policy.reloaded', outcome: 'ok', version: 'abc', diff: { default: { added: ['docs__x'] } } }, { arguments: 'full', secrets: [], ts: TS })) as Record<string, unknown>;
    expect(Object.keys(line)).toEqual(['ts', 'event', 'outcome', 'version', 'diff']);
    expect(line.diff).toEqual({ default: { added: ['docs__x'] } });
  });

  const modes = [
    { mode: 'full', args: true, digest: true },
    { mode: 'digest', args: false, digest: true },
    { mode: 'none', args: false, digest: false },
  ] as const;
  for (const m of modes) {
    it(`with audit.arguments ${m.mode} writes ${m.args ? 'the arguments and ' : ''}${m.digest ? 'their digest' : 'neither arguments nor digest'}`, () => {
      const file = join(dir, `${m.mode}.jsonl`);
      const audit = createAuditLog({ file, arguments: m.mode, secrets: [] });
      audit.record({ event: 'call.decided', callId: 'c-1', tool: 't__x', decision: 'allow', args: { b: 2, a: 1 } });
      audit.record({ event: 'approval.requested', callId: 'c-2', argsDigest: 'f'.repeat(64) });
      audit.close();
      const [call, approval] = readLines(file);
      expect('args' in call!).toBe(m.args);
      expect(call!.argsDigest).toBe(m.digest ? argsDigest({ a: 1, b: 2 }) : undefined);
      expect(approval!.argsDigest).toBe(m.digest ? 'f'.repeat(64) : undefined);
    });
  }

  it('digests arguments canonically: key order does not change the digest', () => {
    expect(argsDigest({ a: 1, b: { c: [1, 2], d: 'x' } })).toBe(argsDigest({ b: { d: 'x', c: [1, 2] }, a: 1 }));
    expect(argsDigest({ a: 1 })).not.toBe(argsDigest({ a: 2 }));
  });

  it('keeps the digest stable across versions: stored approvals are bound to it', () => {
    // sha256 of the sorted-key JSON {"a":1,"b":{"c":[1,2],"d":"x"}}
    expect(argsDigest({ b: { d: 'x', c: [1, 2] }, a: 1 })).toBe('402a3ca52530f07e1029f96879adff54b1f2fdecabcf197cee9b8664e8fc8550');
  });

  it('masks secrets anywhere in a line, including ones JSON would escape, and the line stays valid JSON', () => {
    const file = join(dir, 'secrets.jsonl');
    const quoted = 'tok"en\\with-quotes';
    const audit = createAuditLog({ file, arguments: 'full', secrets: ['sk-live-abcdef123456', quoted], now: () => TS });
    audit.record({ event: 'call.completed', callId: 'c-1', outcome: 'upstream said sk-live-abcdef123456', args: { header: `Bearer sk-live-abcdef123456`, nested: [{ v: quoted }], [`key-${quoted}`]: 1 } });
    audit.close();
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('sk-live-abcdef123456');
    expect(text).not.toContain('tok\\"en');
    const [line] = readLines(file);
    expect(line!.args).toEqual({ header: 'Bearer [REDACTED]', nested: [{ v: '[REDACTED]' }], 'key-[REDACTED]': 1 });
    expect(line!.outcome).toBe('upstream said [REDACTED]');
  });

  it('masks a secret nested deeper than it walks, and keeps deep values that hold none', () => {
    const file = join(dir, 'deep-secrets.jsonl');
    const audit = createAuditLog({ file, arguments: 'full', secrets: ['sk-live-abcdef123456'], now: () => TS });
    const nest = (leaf: unknown) => {
      let value = leaf;
      for (let i = 0; i < 100; i++) value = { n: value };
      return value;
    };
    audit.record({ event: 'call.decided', callId: 'c-deep', args: { secret: nest('Bearer sk-live-abcdef123456'), plain: nest('nothing to hide') } });
    audit.close();
    expect(readFileSync(file, 'utf8')).not.toContain('sk-live-abcdef123456');
    const [line] = readLines(file);
    expect(JSON.stringify((line!.args as { secret: unknown }).secret)).toContain('[REDACTED]');
    expect((line!.args as { plain: unknown }).plain).toEqual(nest('nothing to hide'));
  });

  it('still writes an event whose extra field cannot be serialised', () => {
    const file = join(dir, 'bigint.jsonl');
    const audit = createAuditLog({ file, arguments: 'full', secrets: [] });
    audit.record({ event: 'call.completed', callId: 'c-9', outcome: 'ok', weird: 10n });
    audit.close();
    expect(readLines(file)[0]).toMatchObject({ event: 'call.completed', callId: 'c-9', outcome: 'ok', auditError: expect.stringContaining('unserialisable') });
  });

  it('creates the file with mode 0600 and appends to an existing log', () => {
    const file = join(dir, 'nested', 'audit.jsonl');
    createAuditLog({ file, arguments: 'none', secrets: [] }).close();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const a = createAuditLog({ file, arguments: 'none', secrets: [] });
    a.record({ event: 'auth.failed', reason: 'expired' });
    a.close();
    const b = createAuditLog({ file, arguments: 'none', secrets: [] });
    b.record({ event: 'auth.failed', reason: 'bad_signature' });
    b.close();
    b.close(); // idempotent
    expect(readLines(file).map((l) => l.reason)).toEqual(['expired', 'bad_signature']);
  });

  it('puts a line cut short by a crash on its own line, so the next event is never glued to it', () => {
    const file = join(dir, 'cut.jsonl');
    writeFileSync(file, '{"ts":"2026-01-01T00:00:00.000Z","event":"call.decided"}\n{"ts":"2026-01-01T00:00:01.000Z","event":"call.comp');
    const audit = createAuditLog({ file, arguments: 'none', secrets: [] });
    audit.record({ event: 'call.completed', callId: 'after-crash' });
    audit.close();
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[3]).toBe('');
    expect(() => JSON.parse(lines[1]!)).toThrow();
    expect(JSON.parse(lines[2]!)).toMatchObject({ callId: 'after-crash' });
  });
});

describe('audit log crash safety', () => {
  /** Runs the writer child until it has written plenty, then kills it with SIGKILL. */
  async function killWriterMidFlight(file: string, minBytes: number): Promise<void> {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/audit/fixtures/audit-writer.ts'), file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      child.once('exit', () => reject(new Error(`writer exited early: ${stderr}`)));
    });
    while (!existsSync(file) || statSync(file).size < minBytes) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
  }

  it('leaves a file whose every complete line parses, in order, after kill -9 during heavy writing', async () => {
    const file = join(dir, 'crash.jsonl');
    let expectedSeq = 0;
    for (let round = 0; round < 3; round++) {
      await killWriterMidFlight(file, (round + 1) * 4_000_000);
      const text = readFileSync(file, 'utf8');
      const parts = text.split('\n');
      const tail = parts.pop()!;
      // A cut line can only be the very last thing in the file, and only a prefix of a line.
      if (tail !== '') expect(tail.startsWith('{"ts":"')).toBe(true);
      let roundSeq = 0;
      let broken = 0;
      for (const part of parts) {
        let line: { event: string; callId: string; args: { seq: number; token: string } };
        try {
          line = JSON.parse(part) as typeof line;
        } catch {
          // Only the fragment a previous round's kill left, closed off by the next writer's open.
          broken++;
          continue;
        }
        expect(line.event).toBe('call.completed');
        expect(line.args.token).toBe('[REDACTED]');
        if (line.args.seq === 0) roundSeq = 0;
        expect(line.args.seq).toBe(roundSeq);
        roundSeq++;
      }
      expect(broken).toBeLessThanOrEqual(round);
      expectedSeq += roundSeq;
    }
    expect(expectedSeq).toBeGreaterThan(600);

    // The next writer closes off any fragment; its own line parses.
    const audit = createAuditLog({ file, arguments: 'full', secrets: [] });
    audit.record({ event: 'call.decided', callId: 'after-crash' });
    audit.close();
    const last = readFileSync(file, 'utf8').split('\n').filter(Boolean).at(-1)!;
    expect(JSON.parse(last)).toMatchObject({ callId: 'after-crash' });
  }, 60_000);
});
