/**
 * The session table: a session a connection holds lasts until that connection closes it (its
 * taint must not be forgotten by eviction); session-less ones are bounded, least recently used first.
 */
import { describe, expect, it } from 'vitest';
import { SessionTable, type Era, type Session } from '../../src/proxy/session.js';
import { CLEAN_SESSION } from '../../src/taint/index.js';

function init(era: Era, transport: 'http' | 'stdio' = 'http'): () => Omit<Session, 'id'> {
  return () => ({
    agent: 'a',
    claims: undefined,
    transport,
    era,
    createdAt: 0,
    clientCapabilities: undefined,
    logLevel: undefined,
    subscriptions: new Set(),
    taint: CLEAN_SESSION,
    boundary: 'b',
    provenance: undefined,
    push: undefined,
  });
}

describe('the session table', () => {
  it('keeps a 2025-era session, taint and all, however many session-less ones come after it', () => {
    const closed: string[] = [];
    const table = new SessionTable({ max: 2, onClose: (s) => closed.push(s.id) });
    const held = table.open('l:1', init('legacy'));
    held.taint = { ...CLEAN_SESSION, tainted: true };
    const stdio = table.open('stdio', init('modern', 'stdio'));
    for (const id of ['m:1', 'm:2', 'm:3', 'm:4']) table.open(id, init('modern'));
    expect(table.open('l:1', init('legacy'))).toBe(held);
    expect(table.open('l:1', init('legacy')).taint.tainted).toBe(true);
    expect(table.get('stdio')).toBe(stdio);
    // Only the session-less ones were evicted, oldest first.
    expect(closed).toEqual(['m:1', 'm:2']);
    expect([...table.all()].map((s) => s.id).sort()).toEqual(['l:1', 'm:3', 'm:4', 'stdio']);
    expect(table.size).toBe(4);
  });

  it('gives an evicted session-less session its taint back when its caller returns', () => {
    const closed: string[] = [];
    const table = new SessionTable({ max: 1, onClose: (s) => closed.push(s.id) });
    const sources = Array.from({ length: 6 }, (_, i) => ({ tool: `web__fetch${i}`, level: 'untrusted' }));
    table.open('m:1', init('modern')).taint = { ...CLEAN_SESSION, tainted: true, sources } as unknown as Session['taint'];
    table.open('m:2', init('modern'));
    expect(closed).toEqual(['m:1']);
    // Remembered small: the flags, and the newest sources only.
    expect(table.open('m:1', init('modern')).taint).toEqual({ tainted: true, suspicious: false, sources: sources.slice(-4) });
    // m:2 was clean when it was evicted: it comes back clean.
    expect(table.open('m:2', init('modern')).taint).toBe(CLEAN_SESSION);
  });

  it('releases a session when it is closed or the table is cleared', () => {
    const closed: string[] = [];
    const table = new SessionTable({ max: 10, onClose: (s) => closed.push(s.id) });
    table.open('l:1', init('legacy'));
    table.open('m:1', init('modern'));
    table.open('l:2', init('legacy'));
    table.close('l:1');
    table.close('m:1');
    table.close('unknown');
    expect(closed).toEqual(['l:1', 'm:1']);
    expect(table.get('l:1')).toBeUndefined();
    table.clear();
    expect(closed).toEqual(['l:1', 'm:1', 'l:2']);
    expect(table.size).toBe(0);
  });
});
