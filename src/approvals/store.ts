/**
 * The embedded, file-backed approval store: requests, session-scope grants and used link ids,
 * kept in memory and persisted under the state folder.
 *
 * `approvals.json` is a snapshot written atomically (temp file, fsync, rename, fsync of the
 * folder). Between snapshots every change is appended as one line to `approvals.journal` with a
 * single write, so a change costs one small write instead of rewriting the whole file, and a
 * crash of the gateway loses at most the line being written. `sync()` takes the journal to the
 * disk (fdatasync off the event loop, shared by everyone waiting at the time): callers await it
 * where a lost line could let something run twice. Each line carries a sequence number and the
 * snapshot records the last one it contains, so a crash between the rename and the journal's
 * truncation never replays older states over newer ones.
 *
 * Bounded: decided requests beyond `maxHistory` are dropped oldest first; session grants beyond
 * `maxGrants`, too; used link ids are forgotten once their link has expired.
 */
import { closeSync, existsSync, fdatasync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as z from 'zod';
import type { Logger } from '../log.js';
import type { ApprovalRequest, ApprovalSubject } from './types.js';

export interface SessionGrant {
  agent: string;
  session: string;
  tool: string;
  /** The request whose session-scope approval created the grant. */
  requestId: string;
  by: string;
  at: number;
}

export interface StoreLimits {
  /** Decided requests kept (history); pending ones are always kept. */
  maxHistory: number;
  maxGrants: number;
}

export const DEFAULT_STORE_LIMITS: StoreLimits = { maxHistory: 10_000, maxGrants: 10_000 };

const SubjectSchema = z.object({
  agent: z.string(),
  owner: z.string().optional(),
  session: z.string(),
  tool: z.string(),
  args: z.record(z.string(), z.unknown()),
  argsDigest: z.string(),
  policyVersion: z.string(),
  reasons: z.array(z.string()).readonly(),
  rule: z.string().optional(),
  taint: z.unknown().optional(),
  provenance: z.unknown().optional(),
  kind: z.enum(['call', 'pin']).optional(),
});

const RequestSchema = z.object({
  id: z.string().min(1),
  status: z.enum(['pending', 'approved', 'denied', 'expired', 'withdrawn', 'used']),
  subject: SubjectSchema,
  createdAt: z.number(),
  expiresAt: z.number(),
  decidedAt: z.number().optional(),
  usedAt: z.number().optional(),
  decision: z
    .object({
      by: z.string(),
      via: z.enum(['api', 'page', 'cli', 'link', 'elicitation']),
      scope: z.enum(['once', 'session']).optional(),
      note: z.string().optional(),
      reason: z.string().optional(),
    })
    .optional(),
});

const GrantSchema = z.object({ agent: z.string(), session: z.string(), tool: z.string(), requestId: z.string(), by: z.string(), at: z.number() });
const UsedLinkSchema = z.object({ jti: z.string(), exp: z.number() });

const SnapshotSchema = z.object({
  version: z.literal(1),
  seq: z.number().int().min(0),
  requests: z.array(RequestSchema),
  grants: z.array(GrantSchema),
  usedLinks: z.array(UsedLinkSchema),
});

const JournalEntrySchema = z.discriminatedUnion('op', [
  z.object({ seq: z.number().int(), op: z.literal('put'), request: RequestSchema }),
  z.object({ seq: z.number().int(), op: z.literal('grant'), grant: GrantSchema }),
  z.object({ seq: z.number().int(), op: z.literal('link'), jti: z.string(), exp: z.number() }),
]);

type JournalEntry = z.infer<typeof JournalEntrySchema>;
type JournalOp = JournalEntry extends infer E ? (E extends { seq: number } ? Omit<E, 'seq'> : never) : never;

/** The identical call: same agent, session, tool and arguments digest. */
export function callKey(subject: Pick<ApprovalSubject, 'agent' | 'session' | 'tool' | 'argsDigest'>): string {
  return JSON.stringify([subject.agent, subject.session, subject.tool, subject.argsDigest]);
}

function grantKey(agent: string, session: string, tool: string): string {
  return JSON.stringify([agent, session, tool]);
}

/** Decided requests that no longer matter to any call, only to history. */
function isHistoryOnly(request: ApprovalRequest, grantBacked: boolean): boolean {
  switch (request.status) {
    case 'pending':
      return false;
    case 'approved':
      // An unused approve-once still waits for its call; a session approval lives in its grant.
      return request.decision?.scope === 'session' && !grantBacked;
    default:
      return true;
  }
}

export class ApprovalStore {
  readonly file: string;
  private readonly journalFile: string;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly limits: StoreLimits;
  private readonly requests = new Map<string, ApprovalRequest>();
  /** Every stored request by its call key. */
  private readonly byKey = new Map<string, Set<string>>();
  /** Decided requests in the order they became history-only; the front is dropped first. */
  private readonly history = new Map<string, true>();
  private readonly grants = new Map<string, SessionGrant>();
  private readonly grantedRequests = new Set<string>();
  private readonly usedLinks = new Map<string, number>();
  private journal: number | undefined;
  private journalLines = 0;
  private seq = 0;
  /** The last sequence number known to be on the disk. */
  private synced = 0;
  private runningSync: Promise<void> | undefined;
  private queuedSync: Promise<void> | undefined;

  private constructor(dir: string, opts: { log: Logger; now: () => number; limits: StoreLimits }) {
    this.file = join(dir, 'approvals.json');
    this.journalFile = join(dir, 'approvals.journal');
    this.log = opts.log;
    this.now = opts.now;
    this.limits = opts.limits;
  }

  /** Loads the snapshot and replays the journal; a corrupt snapshot is moved aside, never trusted. */
  static open(dir: string, opts: { log: Logger; now: () => number; limits?: Partial<StoreLimits> }): ApprovalStore {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const store = new ApprovalStore(dir, { log: opts.log, now: opts.now, limits: { ...DEFAULT_STORE_LIMITS, ...opts.limits } });
    store.load();
    store.journal = openSync(store.journalFile, 'a', 0o600);
    store.compact();
    return store;
  }

  get(id: string): ApprovalRequest | undefined {
    return this.requests.get(id);
  }

  values(): IterableIterator<ApprovalRequest> {
    return this.requests.values();
  }

  get size(): number {
    return this.requests.size;
  }

  /** Requests for the identical call, oldest first. */
  forKey(key: string): ApprovalRequest[] {
    const ids = this.byKey.get(key);
    if (!ids) return [];
    const out: ApprovalRequest[] = [];
    for (const id of ids) {
      const request = this.requests.get(id);
      if (request) out.push(request);
    }
    return out;
  }

  /** Stores a new state of a request (replacing the old object). */
  put(request: ApprovalRequest): void {
    this.apply({ op: 'put', request });
    this.append({ op: 'put', request });
  }

  addGrant(grant: SessionGrant): void {
    this.apply({ op: 'grant', grant });
    this.append({ op: 'grant', grant });
  }

  findGrant(agent: string, session: string, tool: string): SessionGrant | undefined {
    return this.grants.get(grantKey(agent, session, tool));
  }

  /** Marks a link id used; false when it already was. */
  useLink(jti: string, exp: number): boolean {
    if (this.usedLinks.has(jti)) return false;
    this.apply({ op: 'link', jti, exp });
    this.append({ op: 'link', jti, exp });
    return true;
  }

  isLinkUsed(jti: string): boolean {
    return this.usedLinks.has(jti);
  }

  /**
   * Resolves once everything appended so far is on the disk. Group commit: one fdatasync runs
   * at a time, and the calls that arrive meanwhile share the next one.
   */
  sync(): Promise<void> {
    if (this.journal === undefined || this.synced >= this.seq) return Promise.resolve();
    const run = () => this.runSync();
    this.queuedSync ??= (this.runningSync ?? Promise.resolve()).then(run, run);
    return this.queuedSync;
  }

  private runSync(): Promise<void> {
    this.queuedSync = undefined;
    const fd = this.journal;
    const upTo = this.seq;
    if (fd === undefined) return Promise.resolve();
    this.runningSync = new Promise<void>((resolve, reject) => fdatasync(fd, (error) => (error ? reject(error) : resolve())))
      .then(() => {
        this.synced = Math.max(this.synced, upTo);
      })
      .finally(() => {
        this.runningSync = undefined;
      });
    return this.runningSync;
  }

  /** Waits for syncs in flight, writes a snapshot and closes the journal. Idempotent. */
  async close(): Promise<void> {
    await Promise.allSettled([this.queuedSync, this.runningSync]);
    if (this.journal === undefined) return;
    try {
      this.compact();
    } finally {
      const fd = this.journal;
      this.journal = undefined;
      closeSync(fd);
    }
  }

  // ---- in memory -----------------------------------------------------------------------------

  private apply(entry: JournalOp): void {
    switch (entry.op) {
      case 'put':
        this.applyPut(entry.request as ApprovalRequest);
        return;
      case 'grant':
        this.applyGrant(entry.grant);
        return;
      case 'link':
        this.usedLinks.set(entry.jti, entry.exp);
        return;
    }
  }

  private applyPut(request: ApprovalRequest): void {
    Object.freeze(request);
    this.requests.set(request.id, request);
    const key = callKey(request.subject);
    let ids = this.byKey.get(key);
    if (!ids) this.byKey.set(key, (ids = new Set()));
    ids.add(request.id);
    this.history.delete(request.id);
    if (isHistoryOnly(request, this.grantedRequests.has(request.id))) this.history.set(request.id, true);
    this.prune();
  }

  private applyGrant(grant: SessionGrant): void {
    const key = grantKey(grant.agent, grant.session, grant.tool);
    const previous = this.grants.get(key);
    this.grants.delete(key);
    this.grants.set(key, grant);
    if (previous && previous.requestId !== grant.requestId) this.releaseGrantRequest(previous.requestId);
    this.grantedRequests.add(grant.requestId);
    this.history.delete(grant.requestId);
    while (this.grants.size > this.limits.maxGrants) {
      const [oldestKey, oldest] = this.grants.entries().next().value as [string, SessionGrant];
      this.grants.delete(oldestKey);
      this.releaseGrantRequest(oldest.requestId);
    }
  }

  private releaseGrantRequest(requestId: string): void {
    for (const g of this.grants.values()) if (g.requestId === requestId) return;
    this.grantedRequests.delete(requestId);
    const request = this.requests.get(requestId);
    if (request && isHistoryOnly(request, false)) this.history.set(requestId, true);
    this.prune();
  }

  private prune(): void {
    while (this.history.size > this.limits.maxHistory) {
      const id = this.history.keys().next().value as string;
      this.history.delete(id);
      const request = this.requests.get(id);
      this.requests.delete(id);
      if (!request) continue;
      const key = callKey(request.subject);
      const ids = this.byKey.get(key);
      ids?.delete(id);
      if (ids?.size === 0) this.byKey.delete(key);
    }
  }

  // ---- on disk -------------------------------------------------------------------------------

  private append(entry: JournalOp): void {
    if (this.journal === undefined) return;
    const line = JSON.stringify({ seq: ++this.seq, ...entry });
    writeSync(this.journal, `${line}\n`);
    this.journalLines += 1;
    if (this.journalLines > 1_000 + 2 * this.requests.size) this.compact();
  }

  /** Writes the whole state as a new snapshot, atomically, then empties the journal. */
  private compact(): void {
    const now = this.now();
    for (const [jti, exp] of this.usedLinks) if (exp < now) this.usedLinks.delete(jti);
    const snapshot = {
      version: 1,
      seq: this.seq,
      savedAt: new Date(now).toISOString(),
      requests: [...this.requests.values()],
      grants: [...this.grants.values()],
      usedLinks: [...this.usedLinks].map(([jti, exp]) => ({ jti, exp })),
    };
    writeAtomically(this.file, JSON.stringify(snapshot));
    if (this.journal !== undefined) {
      ftruncateSync(this.journal, 0);
      fsyncSync(this.journal);
    }
    this.journalLines = 0;
    this.synced = this.seq;
  }

  private load(): void {
    let snapshotSeq = 0;
    if (existsSync(this.file)) {
      const parsed = SnapshotSchema.safeParse(parseJson(readFileSync(this.file, 'utf8')));
      if (parsed.success) {
        snapshotSeq = parsed.data.seq;
        for (const grant of parsed.data.grants) this.applyGrant(grant);
        for (const request of parsed.data.requests) this.applyPut(request as ApprovalRequest);
        for (const link of parsed.data.usedLinks) this.usedLinks.set(link.jti, link.exp);
      } else {
        const aside = `${this.file}.corrupt-${this.now()}`;
        renameSync(this.file, aside);
        this.log.error({ file: this.file, movedTo: aside }, 'approval state file is unreadable; moved aside, starting with no pending approvals');
      }
    }
    this.seq = snapshotSeq;
    if (!existsSync(this.journalFile)) return;
    const lines = readFileSync(this.journalFile, 'utf8').split('\n');
    let skipped = 0;
    for (const [index, line] of lines.entries()) {
      if (line.trim() === '') continue;
      const entry = JournalEntrySchema.safeParse(parseJson(line));
      if (!entry.success) {
        // The last line may be torn by a crash; anything else unreadable is reported.
        if (index < lines.length - 2) skipped += 1;
        continue;
      }
      if (entry.data.seq <= snapshotSeq) continue;
      this.seq = Math.max(this.seq, entry.data.seq);
      const { seq: _seq, ...op } = entry.data;
      this.apply(op);
    }
    if (skipped > 0) this.log.warn({ file: this.journalFile, skipped }, 'approval journal had unreadable lines; they were skipped');
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Temp file in the same folder, fsync, rename over the target, fsync the folder. */
export function writeAtomically(file: string, contents: string): void {
  const temp = `${file}.tmp-${process.pid}`;
  const fd = openSync(temp, 'w', 0o600);
  try {
    writeSync(fd, contents);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, file);
  try {
    const dir = openSync(dirname(file), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  } catch {
    // Some filesystems cannot fsync a directory; the rename itself is still atomic.
  }
}
