/**
 * `portcullis audit [--since DUR] [--agent A] [--tool T] [--decision D] [--event E] [--call ID]
 * [--limit N] [--json] [-c FILE] [--file PATH]`: reads the audit log (gateway.audit.file).
 */
import { compileGlob } from '../policy/index.js';
import { AUDIT_EVENT_NAMES, type AuditRecord } from '../audit/log.js';
import { DEFAULT_QUERY_LIMIT, MAX_QUERY_LIMIT, parseSince, queryAudit, type AuditQuery } from '../audit/query.js';
import { errorText, EXIT, loadConfigOrExit, parseCommand, processIo, usageError, type CliIo } from './command-io.js';

const HELP = `usage: portcullis audit [--since DUR] [--agent A] [--tool T] [--decision D] [--json] [-c FILE]

Shows audit events, oldest first and newest last.

  --since DUR        only events newer than this: a duration (15m, 2d) or an ISO time
  --agent A          only this agent
  --tool T           only tools matching this glob (docs__*)
  --decision D       allow | ask | deny
  --event E          only this event (${AUDIT_EVENT_NAMES.join(', ')})
  --call ID          only events of this call id
  --limit N          at most the newest N events (default ${DEFAULT_QUERY_LIMIT})
  --json             one JSON object per line, as in the log
  -c, --config FILE  config file naming gateway.audit.file (default: portcullis.yaml)
  --file PATH        read this audit file instead of the config's
`;

function cell(value: unknown): string {
  if (value === undefined || value === null) return '-';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** A fixed-width table: one row per event, the columns a reader scans first. */
export function formatAuditTable(records: readonly AuditRecord[]): string {
  const header = ['TIME', 'EVENT', 'AGENT', 'TOOL', 'DECISION', 'OUTCOME', 'RULE', 'CALL'];
  const rows = records.map((r) => [cell(r.ts), cell(r.event), cell(r.agent), cell(r.tool), cell(r.decision), cell(r.outcome ?? r.reason), cell(r.rule), cell(r.callId)]);
  const widths = header.map((h, i) => Math.min(60, Math.max(h.length, ...rows.map((row) => row[i]!.length))));
  const line = (cols: string[]) => cols.map((c, i) => (i === cols.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

export async function auditCommand(argv: string[], io: CliIo = processIo()): Promise<number> {
  const parsed = parseCommand(io, 'audit', argv, {
    since: { type: 'string' },
    agent: { type: 'string' },
    tool: { type: 'string' },
    decision: { type: 'string' },
    event: { type: 'string' },
    call: { type: 'string' },
    limit: { type: 'string' },
    json: { type: 'boolean', default: false },
    config: { type: 'string', short: 'c', default: 'portcullis.yaml' },
    file: { type: 'string' },
  }, HELP);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (positionals.length > 0) return usageError(io, 'audit', `unexpected argument '${positionals[0]}'`, HELP);

  const query: AuditQuery = {};
  if (values.since !== undefined) {
    const since = parseSince(values.since, io.now());
    if (since === undefined) return usageError(io, 'audit', `bad --since '${values.since}': write a duration (15m, 2d) or an ISO time`, HELP);
    query.since = since;
  }
  if (values.decision !== undefined) {
    if (!['allow', 'ask', 'deny'].includes(values.decision)) return usageError(io, 'audit', `unknown --decision '${values.decision}': use allow, ask or deny`, HELP);
    query.decision = values.decision;
  }
  if (values.event !== undefined) {
    if (!(AUDIT_EVENT_NAMES as readonly string[]).includes(values.event)) return usageError(io, 'audit', `unknown --event '${values.event}': use one of ${AUDIT_EVENT_NAMES.join(', ')}`, HELP);
    query.event = values.event;
  }
  if (values.tool !== undefined) {
    try {
      compileGlob(values.tool);
    } catch (error) {
      return usageError(io, 'audit', `bad --tool pattern: ${errorText(error)}`, HELP);
    }
    query.tool = values.tool;
  }
  if (values.agent !== undefined) query.agent = values.agent;
  if (values.call !== undefined) query.callId = values.call;
  if (values.limit !== undefined) {
    const n = Number(values.limit);
    if (!Number.isInteger(n) || n < 1 || n > MAX_QUERY_LIMIT) return usageError(io, 'audit', `bad --limit '${values.limit}': an integer from 1 to ${MAX_QUERY_LIMIT}`, HELP);
    query.limit = n;
  }

  let file = values.file;
  if (file === undefined) {
    const loaded = await loadConfigOrExit(io, 'audit', values.config);
    if (typeof loaded === 'number') return loaded;
    file = loaded.config.gateway.audit.file;
  }
  let records: AuditRecord[];
  try {
    records = await queryAudit(file, query);
  } catch (error) {
    io.err(`portcullis audit: cannot read ${file}: ${errorText(error)}\n`);
    return EXIT.CANNOT_RUN;
  }
  if (values.json) {
    io.out(records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  } else if (records.length === 0) {
    io.err(`portcullis audit: no matching events in ${file}\n`);
  } else {
    io.out(formatAuditTable(records));
  }
  return EXIT.OK;
}
