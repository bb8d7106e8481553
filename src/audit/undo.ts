/**
 * Undo (SPEC §8): a rule's `undo: {tool, args}` template is rendered when its call succeeds and
 * kept in a small file-backed store; later the owner or an admin runs the compensating call,
 * once. Templates only substitute `{{args.*}}`, `{{result.structured.*}}` and `{{result.text}}`;
 * nothing is evaluated.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { GatewayError, asGatewayError } from '../errors.js';
import type { AuditLog } from './log.js';

export interface UndoTemplate {
  readonly tool: string;
  readonly args: Readonly<Record<string, unknown>>;
}

export interface UndoContext {
  args: Readonly<Record<string, unknown>>;
  result: { structured?: unknown; text?: string };
}

/** The parts of a tool result undo reads (structurally an MCP CallToolResult). */
export interface ToolResultLike {
  content?: ReadonlyArray<{ type: string; text?: string }>;
  structuredContent?: unknown;
  isError?: boolean;
}

const REF = /\{\{\s*([^{}]*?)\s*\}\}/g;
const WHOLE_REF = /^\{\{\s*([^{}]*?)\s*\}\}$/;
const MISSING = Symbol('missing');

/** Looks up `args.a.b`, `result.text` or `result.structured.x.0` in own properties only. */
function lookup(ref: string, ctx: UndoContext): unknown {
  const parts = ref.split('.');
  let value: unknown;
  let rest: string[];
  if (parts[0] === 'args') {
    value = ctx.args;
    rest = parts.slice(1);
  } else if (parts[0] === 'result' && parts[1] === 'text' && parts.length === 2) {
    return ctx.result.text ?? MISSING;
  } else if (parts[0] === 'result' && parts[1] === 'structured') {
    value = ctx.result.structured;
    rest = parts.slice(2);
  } else {
    throw new GatewayError('CONFIG_INVALID', `undo template {{${ref}}} refers to neither args.* nor result.text / result.structured.*`);
  }
  for (const key of rest) {
    if (key === '' || value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) return MISSING;
    value = (value as Record<string, unknown>)[key];
  }
  return value === undefined ? MISSING : value;
}

function asText(value: unknown): string {
  return typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
}

function renderValue(value: unknown, ctx: UndoContext, missing: Set<string>): unknown {
  if (typeof value === 'string') {
    const whole = WHOLE_REF.exec(value);
    if (whole) {
      // Exactly one reference: the value keeps its type (a number stays a number).
      const found = lookup(whole[1]!, ctx);
      if (found === MISSING) missing.add(whole[1]!);
      return found === MISSING ? undefined : found;
    }
    return value.replace(REF, (_all, ref: string) => {
      const found = lookup(ref, ctx);
      if (found === MISSING) {
        missing.add(ref);
        return '';
      }
      return asText(found);
    });
  }
  if (Array.isArray(value)) return value.map((v) => renderValue(v, ctx, missing));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = renderValue(v, ctx, missing);
    return out;
  }
  return value;
}

/**
 * Renders an undo template's arguments against a finished call. Throws GatewayError
 * INVALID_PARAMS naming every reference the call did not have.
 */
export function renderUndoArgs(template: Readonly<Record<string, unknown>>, ctx: UndoContext): Record<string, unknown> {
  const missing = new Set<string>();
  const rendered = renderValue(template, ctx, missing) as Record<string, unknown>;
  if (missing.size > 0) {
    const names = [...missing];
    throw new GatewayError('INVALID_PARAMS', `undo template refers to values the call did not have: ${names.map((n) => `{{${n}}}`).join(', ')}`, { data: { missing: names } });
  }
  return rendered;
}

/** The template context of a finished call: its arguments, structured content and first text block. */
export function undoContextOf(args: Readonly<Record<string, unknown>> | undefined, result: ToolResultLike): UndoContext {
  const text = result.content?.find((c) => c.type === 'text' && typeof c.text === 'string')?.text;
  return {
    args: args ?? {},
    result: { ...(result.structuredContent === undefined ? {} : { structured: result.structuredContent }), ...(text === undefined ? {} : { text }) },
  };
}

// ---- store -------------------------------------------------------------------------------------

export interface UndoEntry {
  callId: string;
  agent: string;
  /** The agent's owner: with admins, the only principal allowed to undo. */
  owner?: string;
  session?: string;
  /** The call being undone. */
  tool: string;
  /** The compensating call, rendered when the call completed. */
  undo: { tool: string; args: Record<string, unknown> };
  createdAt: number;
  done?: { at: number; by: string };
}

export interface UndoStore {
  get(callId: string): UndoEntry | undefined;
  put(entry: UndoEntry): void;
  markDone(callId: string, done: { at: number; by: string }): void;
  /** Newest last. */
  list(): UndoEntry[];
}

export const UNDO_FILE = 'undo.json';

/**
 * The undo store in `<stateDir>/undo.json`, rewritten atomically (temp file + rename) on every
 * change and bounded to `maxEntries` (oldest dropped first). A corrupt file is moved aside.
 */
export function createUndoStore(options: { stateDir: string; maxEntries?: number; onWarning?: (message: string) => void }): UndoStore {
  const file = join(options.stateDir, UNDO_FILE);
  const max = options.maxEntries ?? 1_000;
  const entries = new Map<string, UndoEntry>();
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (text !== undefined) {
    try {
      const parsed = JSON.parse(text) as { entries?: UndoEntry[] };
      for (const e of parsed.entries ?? []) if (e && typeof e.callId === 'string') entries.set(e.callId, e);
    } catch {
      const aside = `${file}.corrupt-${Date.now()}`;
      renameSync(file, aside);
      options.onWarning?.(`the undo store ${file} was unreadable; moved it to ${aside} and started empty`);
    }
  }

  function save(): void {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    writeFileSync(tmp, JSON.stringify({ version: 1, entries: [...entries.values()] }), { mode: 0o600 });
    renameSync(tmp, file);
  }

  return {
    get: (callId) => entries.get(callId),
    put(entry) {
      entries.delete(entry.callId);
      entries.set(entry.callId, entry);
      while (entries.size > max) entries.delete(entries.keys().next().value!);
      save();
    },
    markDone(callId, done) {
      const entry = entries.get(callId);
      if (!entry) return;
      entries.set(callId, { ...entry, done });
      save();
    },
    list: () => [...entries.values()],
  };
}

// ---- service -----------------------------------------------------------------------------------

export interface UndoPrincipal {
  name: string;
  roles: readonly string[];
  /** Set when the principal is an agent identity: agents never undo. */
  isAgent?: string;
}

export interface UndoOutcome {
  callId: string;
  /** The compensating tool that ran. */
  tool: string;
  result: ToolResultLike;
}

export interface RecordUndoInput {
  callId: string;
  agent: string;
  owner?: string | undefined;
  session?: string | undefined;
  tool: string;
  args: Readonly<Record<string, unknown>> | undefined;
  result: ToolResultLike;
  /** The deciding rule's `undo` (`decision.undo`). */
  undo: UndoTemplate;
}

export interface UndoService {
  /**
   * Renders and keeps the undo of a call that succeeded. Never throws: a call that cannot be
   * undone (error result, missing template values) answers why.
   */
  record(input: RecordUndoInput): { recorded: true; entry: UndoEntry } | { recorded: false; reason: string };
  /** Runs the compensating call once, for the owner or an admin. Throws GatewayError NOT_FOUND / FORBIDDEN / CONFLICT / UPSTREAM_*. */
  undo(callId: string, principal: UndoPrincipal): Promise<UndoOutcome>;
  readonly store: UndoStore;
}

export function createUndoService(deps: {
  store: UndoStore;
  /** Runs a tool call as `agent` (the exposed tool name) and resolves with its result. */
  runCall: (agent: string, tool: string, args: Record<string, unknown>) => Promise<ToolResultLike>;
  audit: AuditLog;
  now?: () => number;
}): UndoService {
  const { store, audit } = deps;
  const now = deps.now ?? Date.now;
  /** Undos in flight: a second request while one runs is a conflict, not a second run. */
  const running = new Set<string>();

  return {
    store,
    record(input) {
      if (input.result.isError) return { recorded: false, reason: 'the call returned an error result' };
      try {
        const args = renderUndoArgs(input.undo.args, undoContextOf(input.args, input.result));
        const entry: UndoEntry = {
          callId: input.callId,
          agent: input.agent,
          ...(input.owner === undefined ? {} : { owner: input.owner }),
          ...(input.session === undefined ? {} : { session: input.session }),
          tool: input.tool,
          undo: { tool: input.undo.tool, args },
          createdAt: now(),
        };
        store.put(entry);
        return { recorded: true, entry };
      } catch (error) {
        return { recorded: false, reason: error instanceof Error ? error.message : String(error) };
      }
    },

    async undo(callId, principal) {
      const entry = store.get(callId);
      if (!entry) {
        throw new GatewayError('NOT_FOUND', `call ${callId} has no undo: it is unknown, did not succeed, or its rule declares no undo`);
      }
      const base = { callId, agent: entry.agent, session: entry.session, tool: entry.undo.tool, undoes: entry.tool, by: principal.name };
      const isOwner = entry.owner !== undefined && entry.owner === principal.name;
      if (principal.isAgent !== undefined || (!isOwner && !principal.roles.includes('admin'))) {
        audit.record({ event: 'undo.completed', ...base, outcome: 'FORBIDDEN' });
        const why = principal.isAgent !== undefined ? `${principal.name} is an agent identity; agents never undo calls` : `only the owner of agent ${entry.agent}${entry.owner ? ` (${entry.owner})` : ''} or an admin may undo call ${callId}`;
        throw new GatewayError('FORBIDDEN', why);
      }
      if (entry.done) {
        throw new GatewayError('CONFLICT', `call ${callId} was already undone by ${entry.done.by} at ${new Date(entry.done.at).toISOString()}`);
      }
      if (running.has(callId)) throw new GatewayError('CONFLICT', `an undo of call ${callId} is already running`);
      running.add(callId);
      const startedAt = now();
      try {
        let result: ToolResultLike;
        try {
          result = await deps.runCall(entry.agent, entry.undo.tool, entry.undo.args);
        } catch (error) {
          const e = asGatewayError(error);
          audit.record({ event: 'undo.completed', ...base, args: entry.undo.args, outcome: e.code, durationMs: now() - startedAt });
          throw e;
        }
        if (result.isError) {
          audit.record({ event: 'undo.completed', ...base, args: entry.undo.args, outcome: 'tool-error', durationMs: now() - startedAt });
          const text = result.content?.find((c) => c.type === 'text')?.text ?? 'no detail';
          throw new GatewayError('UPSTREAM_ERROR', `the undo call ${entry.undo.tool} failed: ${text.slice(0, 500)}`);
        }
        store.markDone(callId, { at: now(), by: principal.name });
        audit.record({ event: 'undo.completed', ...base, args: entry.undo.args, outcome: 'ok', durationMs: now() - startedAt });
        return { callId, tool: entry.undo.tool, result };
      } finally {
        running.delete(callId);
      }
    },
  };
}
