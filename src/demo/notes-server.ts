/**
 * Demo upstream: a stdio MCP "notes" server. Notes live in memory (seeded with three), or in a
 * JSON file with `--data FILE`. Run: `node dist/demo/notes-server.js [--data notes.json]`.
 */
import { parseArgs } from 'node:util';
import { McpServer, ProtocolError, ProtocolErrorCode, ResourceNotFoundError, ResourceTemplate, completable } from '@modelcontextprotocol/server';
import type { CallToolResult } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import * as z from 'zod';
import { FolderSchema, MAX_NOTE_CHARS, NoteError, NotePathSchema, createNoteStore, isNotePath } from './notes-store.js';
import type { Note, NoteStore } from './notes-store.js';

const URI_SCHEME = 'notes://';

/** `/marketing/launch-plan` ↔ `notes://marketing/launch-plan`, so resource rules read like folders. */
function toUri(path: string): string {
  return URI_SCHEME + path.slice(1);
}

function titleOf(note: Note): string {
  return note.text.split('\n', 1)[0]?.trim() || note.path;
}

function errorResult(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

/** Runs a store operation, turning its expected failures into tool errors the model can read. */
function attempt(run: () => CallToolResult): CallToolResult {
  try {
    return run();
  } catch (error) {
    if (error instanceof NoteError) return errorResult(error.message);
    throw error;
  }
}

const RevisionChangeSchema = z.object({
  path: z.string(),
  previousRevision: z.number().int().describe('The revision that was live before; 0 when the note did not exist'),
  revision: z.number().int().describe('The revision that is live now; 0 when the note is absent'),
});

const READ_ONLY = { readOnlyHint: true, openWorldHint: false } as const;

function pathsStartingWith(store: NoteStore, prefix: string): string[] {
  return store.list().map((n) => n.path).filter((p) => p.startsWith(prefix));
}

/** Builds one MCP server instance over the shared store (serveStdio asks for one per connection). */
function createNotesServer(store: NoteStore): McpServer {
  const server = new McpServer(
    { name: 'portcullis-demo-notes', title: 'Demo notes', version: '0.1.0' },
    { instructions: 'Team notes organised in folders (/marketing, /finance). Paths are absolute, e.g. /marketing/launch-plan.' },
  );

  server.registerTool(
    'list_notes',
    {
      title: 'List notes',
      description: 'List the notes in a folder and its subfolders (every note when no folder is given).',
      inputSchema: z.object({ folder: FolderSchema.optional() }),
      outputSchema: z.object({
        folder: z.string(),
        notes: z.array(z.object({ path: z.string(), revision: z.number().int(), title: z.string() })),
      }),
      annotations: READ_ONLY,
    },
    async ({ folder = '/' }) =>
      attempt(() => {
        const notes = store.list(folder).map((n) => ({ path: n.path, revision: n.revision, title: titleOf(n) }));
        const text = notes.length ? notes.map((n) => `${n.path} (revision ${n.revision}): ${n.title}`).join('\n') : `No notes under ${folder}.`;
        return { content: [{ type: 'text', text }], structuredContent: { folder, notes } };
      }),
  );

  server.registerTool(
    'read_note',
    {
      title: 'Read a note',
      description: 'Read the current text of one note.',
      inputSchema: z.object({ path: NotePathSchema }),
      outputSchema: z.object({ path: z.string(), revision: z.number().int(), text: z.string() }),
      annotations: READ_ONLY,
    },
    async ({ path }) => {
      const note = store.read(path);
      if (!note) return errorResult(`No note at ${path}. Call list_notes to see which notes exist.`);
      return { content: [{ type: 'text', text: note.text }], structuredContent: { ...note } };
    },
  );

  server.registerTool(
    'search_notes',
    {
      title: 'Search notes',
      description: 'Find notes whose path or text contains the query (case-insensitive); results quote the matching line.',
      inputSchema: z.object({
        query: z.string().min(1).max(200).describe('Text to look for'),
        folder: FolderSchema.optional().describe('Only search this folder and its subfolders, e.g. /marketing'),
      }),
      annotations: READ_ONLY,
    },
    async ({ query, folder }) =>
      attempt(() => {
        const hits = store.search(query, folder);
        if (!hits.length) return { content: [{ type: 'text', text: `No notes contain "${query}".` }] };
        const needle = query.toLowerCase();
        const lines = hits.map((n) => {
          const line = n.text.split('\n').find((l) => l.toLowerCase().includes(needle)) ?? titleOf(n);
          return `${n.path}: ${line.trim()}`;
        });
        return { content: [{ type: 'text', text: lines.join('\n') }] };
      }),
  );

  server.registerTool(
    'write_note',
    {
      title: 'Write a note',
      description:
        'Create a note, or replace its text. Earlier revisions are kept: restore_note with the returned previousRevision undoes the write.',
      inputSchema: z.object({ path: NotePathSchema, text: z.string().max(MAX_NOTE_CHARS).describe('The full new text of the note') }),
      outputSchema: RevisionChangeSchema,
      // Not destructive: the replaced text stays in the history. Idempotent: the same text twice is one revision.
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async ({ path, text }) =>
      attempt(() => {
        const change = store.write(path, text);
        if (change.previousRevision === 0) server.sendResourceListChanged();
        const what = change.previousRevision === 0 ? 'Created' : change.revision === change.previousRevision ? 'Unchanged' : 'Updated';
        return {
          content: [{ type: 'text', text: `${what} ${path}: revision ${change.revision} (was ${change.previousRevision}).` }],
          structuredContent: change,
        };
      }),
  );

  server.registerTool(
    'restore_note',
    {
      title: 'Restore a note revision',
      description: 'Make an earlier revision of a note current again. Revision 0 means "before the note existed" and hides it; the history is kept.',
      inputSchema: z.object({
        path: NotePathSchema,
        revision: z.number().int().min(0).describe('The revision to restore, e.g. previousRevision from write_note'),
      }),
      outputSchema: RevisionChangeSchema,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async ({ path, revision }) =>
      attempt(() => {
        const change = store.restore(path, revision);
        if ((change.previousRevision === 0) !== (change.revision === 0)) server.sendResourceListChanged();
        return {
          content: [{ type: 'text', text: `Restored ${path} to revision ${change.revision} (was ${change.previousRevision}).` }],
          structuredContent: change,
        };
      }),
  );

  server.registerTool(
    'delete_note',
    {
      title: 'Delete a note',
      description: 'Delete a note and its whole history. This cannot be undone.',
      inputSchema: z.object({ path: NotePathSchema }),
      outputSchema: z.object({ path: z.string(), deletedText: z.string() }),
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    async ({ path }) => {
      const deleted = store.delete(path);
      if (!deleted) return errorResult(`No note at ${path}; nothing was deleted.`);
      server.sendResourceListChanged();
      return { content: [{ type: 'text', text: `Deleted ${path}.` }], structuredContent: deleted };
    },
  );

  server.registerResource(
    'note',
    new ResourceTemplate(`${URI_SCHEME}{+path}`, {
      list: async () => ({
        resources: store.list().map((n) => ({ uri: toUri(n.path), name: n.path, title: titleOf(n), mimeType: 'text/plain' })),
      }),
      complete: { path: (value) => pathsStartingWith(store, `/${value}`).map((p) => p.slice(1)) },
    }),
    { title: 'Note', description: 'One note, addressed as notes://<folder>/<name>', mimeType: 'text/plain' },
    async (uri, { path }) => {
      const note = typeof path === 'string' ? readByUriPath(store, path) : undefined;
      if (!note) throw new ResourceNotFoundError(uri.href);
      return { contents: [{ uri: uri.href, mimeType: 'text/plain', text: note.text }] };
    },
  );

  server.registerPrompt(
    'summarize_note',
    {
      title: 'Summarize a note',
      description: 'Ask the model for a three-bullet summary of one note.',
      argsSchema: z.object({ path: completable(NotePathSchema, (value) => pathsStartingWith(store, value)) }),
    },
    ({ path }) => {
      const note = store.read(path);
      if (!note) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `No note at ${path}`);
      return {
        description: `Summary of ${path}`,
        messages: [
          { role: 'user', content: { type: 'resource', resource: { uri: toUri(path), mimeType: 'text/plain', text: note.text } } },
          { role: 'user', content: { type: 'text', text: `Summarize the note ${path} above in three short bullet points.` } },
        ],
      };
    },
  );

  return server;
}

/** The `{+path}` variable arrives percent-encoded; decode once, then it must be a plain note path. */
function readByUriPath(store: NoteStore, raw: string): Note | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  const path = `/${decoded}`;
  return isNotePath(path) ? store.read(path) : undefined;
}

function main(argv: string[]): void {
  const { values } = parseArgs({ args: argv, options: { data: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stderr.write('usage: notes-server [--data FILE]   (stdio MCP server; without --data, notes live in memory)\n');
    return;
  }
  const store = createNoteStore({ file: values.data });
  const handle = serveStdio(() => createNotesServer(store));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void handle.close().finally(() => process.exit()));
}

try {
  main(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`notes-server: ${(error as Error).message}\n`);
  process.exitCode = 2;
}
