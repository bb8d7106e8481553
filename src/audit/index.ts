/** The audit folder's public surface: the JSONL log, reading it back, and undo. */
export { AUDIT_EVENT_NAMES, argsDigest, createAuditLog, formatAuditLine } from './log.js';
export type { ArgumentsMode, AuditEvent, AuditEventName, AuditLog, AuditRecord } from './log.js';
export { DEFAULT_QUERY_LIMIT, MAX_QUERY_LIMIT, parseSince, queryAudit } from './query.js';
export type { AuditQuery } from './query.js';
export { UNDO_FILE, createUndoService, createUndoStore, renderUndoArgs, undoContextOf } from './undo.js';
export type { RecordUndoInput, ToolResultLike, UndoContext, UndoEntry, UndoOutcome, UndoPrincipal, UndoService, UndoStore, UndoTemplate } from './undo.js';
