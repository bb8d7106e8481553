/**
 * The demo notes server's data: notes keyed by absolute path, each with an immutable revision
 * history, kept in memory and optionally persisted to one JSON file.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as z from 'zod';

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const MAX_PATH_LENGTH = 256;
const MAX_DEPTH = 16;

/**
 * True for an absolute note path made of plain segments (`/marketing/drafts/tagline`). A segment
 * may not start with a dot, so `.` and `..` are out, as are empty segments, percent-encoding,
 * backslashes and control characters.
 */
export function isNotePath(value: string): boolean {
  if (value.length > MAX_PATH_LENGTH || !value.startsWith('/')) return false;
  const segments = value.slice(1).split('/');
  return segments.length <= MAX_DEPTH && segments.every((s) => SEGMENT.test(s));
}

/** A folder is `/` or a note path; one trailing slash is accepted and dropped. */
export function normalizeFolder(value: string): string | undefined {
  if (value === '/') return '/';
  const trimmed = value.endsWith('/') ? value.slice(0, -1) : value;
  return isNotePath(trimmed) ? trimmed : undefined;
}

function isUnder(path: string, folder: string): boolean {
  return folder === '/' || path === folder || path.startsWith(`${folder}/`);
}

export const NotePathSchema = z
  .string()
  .refine(isNotePath, 'expected an absolute note path like /marketing/launch-plan (plain segments, no "..")')
  .describe('Absolute note path, e.g. /marketing/launch-plan');

export const FolderSchema = z
  .string()
  .refine((v) => normalizeFolder(v) !== undefined, 'expected "/" or an absolute folder path like /marketing')
  .describe('Absolute folder path, e.g. /marketing; "/" for every note');

export const MAX_NOTE_CHARS = 100_000;

export type Note = { path: string; revision: number; text: string };

/** The outcome of a write or restore: which revision was live before and which is live now. */
export type RevisionChange = {
  path: string;
  /** 0 when the note did not exist before the change. */
  previousRevision: number;
  /** 0 when the change left the note absent (a restore to revision 0). */
  revision: number;
};

export class NoteError extends Error {
  override readonly name = 'NoteError';
}

/** Revisions are 1-based and never change; `current` 0 means the note is absent right now. */
const NoteRecordSchema = z.strictObject({
  revisions: z.array(z.string().max(MAX_NOTE_CHARS)),
  current: z.number().int().nonnegative(),
}).refine((r) => r.current <= r.revisions.length, 'current must name an existing revision or 0');

const DataFileSchema = z.strictObject({
  version: z.literal(1),
  notes: z.record(NotePathSchema, NoteRecordSchema),
});

type NoteRecord = z.infer<typeof NoteRecordSchema>;

const SEED: Record<string, string> = {
  '/marketing/launch-plan':
    'Launch plan\n\nShip Portcullis Notes 2.0 on 14 October. The blog post goes out at 09:00 UTC, ' +
    'when the press embargo lifts. Owner: Dana. Open question: final tagline (see /marketing/drafts/tagline).',
  '/marketing/drafts/tagline': 'Tagline drafts\n\n- Your notes, under lock and key.\n- Write freely. Share carefully.',
  '/finance/q3-budget':
    'Q3 budget (CONFIDENTIAL)\n\nMarketing: $120,000\nEngineering: $480,000\nContingency: $40,000\n\n' +
    'Do not share outside the finance team.',
};

export type NoteStore = {
  /** Live notes under `folder` (default every note), sorted by path. */
  list(folder?: string): Note[];
  read(path: string): Note | undefined;
  /** Live notes under `folder` whose path or text contains `query`, case-insensitively. */
  search(query: string, folder?: string): Note[];
  /** Creates or replaces a note; writing the text it already has changes nothing. */
  write(path: string, text: string): RevisionChange;
  /** Makes an earlier revision live again (0: the note did not exist). History is kept. */
  restore(path: string, revision: number): RevisionChange;
  /** Removes a note and its whole history; undefined when there is no such note. */
  delete(path: string): { path: string; deletedText: string } | undefined;
};

export type NoteStoreOptions = {
  /** JSON file to load from (when it exists) and save to after every change. */
  file?: string;
};

/** Opens the store: from `file` when it exists, otherwise seeded with three demo notes. */
export function createNoteStore(options: NoteStoreOptions = {}): NoteStore {
  const { file } = options;
  const notes = file && existsSync(file) ? loadFile(file) : seed();
  if (file && !existsSync(file)) saveFile(file, notes);

  const live = (path: string, record: NoteRecord): Note | undefined => {
    const text = record.revisions[record.current - 1];
    return record.current > 0 && text !== undefined ? { path, revision: record.current, text } : undefined;
  };
  const liveNotes = (): Note[] =>
    [...notes.entries()]
      .map(([path, record]) => live(path, record))
      .filter((n): n is Note => n !== undefined)
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const list = (folder = '/'): Note[] => {
    const base = normalizeFolder(folder);
    if (base === undefined) throw new NoteError(`not a folder path: ${JSON.stringify(folder)}`);
    return liveNotes().filter((n) => isUnder(n.path, base));
  };
  const changed = (): void => {
    if (file) saveFile(file, notes);
  };

  return {
    list,
    read(path) {
      const record = notes.get(path);
      return record ? live(path, record) : undefined;
    },
    search(query, folder) {
      const needle = query.toLowerCase();
      return list(folder).filter((n) => n.path.toLowerCase().includes(needle) || n.text.toLowerCase().includes(needle));
    },
    write(path, text) {
      if (!isNotePath(path)) throw new NoteError(`not a note path: ${JSON.stringify(path)}`);
      if (text.length > MAX_NOTE_CHARS) throw new NoteError(`a note holds at most ${MAX_NOTE_CHARS} characters`);
      const record = notes.get(path) ?? { revisions: [], current: 0 };
      const previousRevision = record.current;
      if (previousRevision > 0 && record.revisions[previousRevision - 1] === text) {
        return { path, previousRevision, revision: previousRevision };
      }
      record.revisions.push(text);
      record.current = record.revisions.length;
      notes.set(path, record);
      changed();
      return { path, previousRevision, revision: record.current };
    },
    restore(path, revision) {
      const record = notes.get(path);
      if (!record) throw new NoteError(`no note at ${path}`);
      if (!Number.isInteger(revision) || revision < 0 || revision > record.revisions.length) {
        throw new NoteError(`${path} has revisions 1..${record.revisions.length} (0 removes the note); there is no revision ${revision}`);
      }
      const previousRevision = record.current;
      if (revision !== previousRevision) {
        record.current = revision;
        changed();
      }
      return { path, previousRevision, revision };
    },
    delete(path) {
      const record = notes.get(path);
      const note = record ? live(path, record) : undefined;
      if (!note) return undefined;
      notes.delete(path);
      changed();
      return { path, deletedText: note.text };
    },
  };
}

function seed(): Map<string, NoteRecord> {
  return new Map(Object.entries(SEED).map(([path, text]) => [path, { revisions: [text], current: 1 }]));
}

function loadFile(file: string): Map<string, NoteRecord> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new NoteError(`${file}: cannot read notes (${(cause as Error).message})`, { cause });
  }
  const parsed = DataFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new NoteError(`${file}: not a notes file:\n  ${issues.join('\n  ')}`);
  }
  return new Map(Object.entries(parsed.data.notes));
}

/** Write-then-rename, so a crash mid-save never leaves a half-written file. */
function saveFile(file: string, notes: Map<string, NoteRecord>): void {
  const data: z.input<typeof DataFileSchema> = { version: 1, notes: Object.fromEntries(notes) };
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`, 'utf8');
  renameSync(tmp, file);
}
