/** `portcullis check [-c FILE] [--live] [--strict] [--json]`: validate and lint a config. */
import { ConfigError, formatIssues, lintLoadedConfig, loadConfig, locatorForFile, type Issue, type LoadedConfig } from '../config/index.js';
import type { PolicyCatalog } from '../policy/index.js';
import { openLiveCatalog, UNREACHABLE_HINT, UpstreamsUnreachableError } from './catalog.js';
import { EXIT, parseCommand, processIo, type CliIo } from './command-io.js';

const HELP = `usage: portcullis check [-c FILE] [--live] [--strict] [--json]

Validates the config and lints its policy. Exit 0 when clean, 1 on errors (or on warnings with
--strict), 2 when the file cannot be read or, with --live, an upstream cannot be reached.

  -c, --config FILE  config file (default: portcullis.yaml)
  --live             connect to the upstreams and check the rules against their real tools:
                     patterns that match nothing, where: keys a tool's input schema lacks
  --strict           fail on warnings too
  --json             print { ok, errors: [...], warnings: [...] }
`;

/** One finding, as printed and as in `--json`. */
export interface CheckIssue {
  readonly level: 'error' | 'warning';
  readonly file: string;
  readonly line?: number;
  readonly column?: number;
  /** YAML path, e.g. `agents.default.rules[2].where.path`; empty for the whole file. */
  readonly path: string;
  readonly message: string;
  readonly hint?: string;
}

export interface CheckReport {
  readonly ok: boolean;
  readonly file: string;
  readonly live: boolean;
  readonly errors: CheckIssue[];
  readonly warnings: CheckIssue[];
}

function fromConfigIssue(file: string, level: CheckIssue['level'], issue: Issue): CheckIssue {
  return {
    level,
    file,
    ...(issue.line !== undefined ? { line: issue.line, column: issue.column ?? 1 } : {}),
    path: issue.path,
    message: issue.message,
    ...(issue.hint !== undefined ? { hint: issue.hint } : {}),
  };
}

/** Lint and compile issues of a valid config, placed in the file. */
async function lintIssues(loaded: LoadedConfig, catalog: PolicyCatalog | undefined): Promise<CheckIssue[]> {
  return (await lintLoadedConfig(loaded, catalog)).map((finding) => fromConfigIssue(loaded.file, finding.level, finding));
}

/** Builds the report; `exit` is 2 when the check could not run at all. */
async function runCheck(file: string, io: CliIo, live: boolean): Promise<{ report: CheckReport; exit?: number }> {
  const errors: CheckIssue[] = [];
  const warnings: CheckIssue[] = [];
  const report = (): CheckReport => ({ ok: errors.length === 0, file, live, errors, warnings });
  let loaded: LoadedConfig;
  try {
    loaded = await loadConfig(file, { env: io.env });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const unreadable = error.kind === 'unreadable';
    const advice = unreadable ? { hint: 'pass the config with -c FILE (default: portcullis.yaml)' } : {};
    errors.push(...error.issues.map((i) => fromConfigIssue(file, 'error', { ...advice, ...i })));
    warnings.push(...error.warnings.map((i) => fromConfigIssue(file, 'warning', i)));
    return unreadable ? { report: report(), exit: EXIT.CANNOT_RUN } : { report: report() };
  }
  warnings.push(...loaded.warnings.map((i) => fromConfigIssue(file, 'warning', i)));

  let catalog: PolicyCatalog | undefined;
  let closeLive: (() => Promise<void>) | undefined;
  if (live) {
    try {
      const opened = await openLiveCatalog(loaded.config, { secrets: loaded.secrets });
      catalog = opened.catalog;
      closeLive = opened.close;
    } catch (error) {
      if (!(error instanceof UpstreamsUnreachableError)) throw error;
      const locate = await locatorForFile(file);
      for (const u of error.upstreams) {
        const path = `servers.${u.name}`;
        errors.push({ level: 'error', file, ...locate(path), path, message: `upstream ${u.name} is unreachable: ${u.reason}`, hint: UNREACHABLE_HINT });
      }
      return { report: report(), exit: EXIT.CANNOT_RUN };
    }
  }
  try {
    for (const issue of await lintIssues(loaded, catalog)) (issue.level === 'error' ? errors : warnings).push(issue);
  } finally {
    await closeLive?.();
  }
  return { report: report() };
}

function line(issue: CheckIssue): string {
  return formatIssues(issue.file, [issue]);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The report goes to stdout whatever the outcome, as compilers and linters do. */
function printHuman(io: CliIo, report: CheckReport, strict: boolean, exit: number): void {
  const out: string[] = [];
  if (report.errors.length > 0) out.push('errors:', ...report.errors.map(line), '');
  if (report.warnings.length > 0) out.push('warnings:', ...report.warnings.map(line), '');
  const counts = `${plural(report.errors.length, 'error')}, ${plural(report.warnings.length, 'warning')}`;
  const live = report.live ? ' (checked against the live upstreams)' : '';
  let summary: string;
  if (exit === EXIT.CANNOT_RUN) summary = `${report.file}: cannot check: ${counts}`;
  else if (report.errors.length > 0) summary = `${report.file}: invalid: ${counts}${live}`;
  else if (report.warnings.length > 0 && strict) summary = `${report.file}: ${counts}${live}; failing because of --strict`;
  else summary = `${report.file}: ok${report.warnings.length > 0 ? ` with ${plural(report.warnings.length, 'warning')}` : ''}${live}`;
  out.push(summary);
  io.out(`${out.join('\n')}\n`);
}

export async function checkCommand(argv: string[], io: CliIo = processIo()): Promise<number> {
  const parsed = parseCommand(io, 'check', argv, {
    config: { type: 'string', short: 'c', default: 'portcullis.yaml' },
    live: { type: 'boolean', default: false },
    strict: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  }, HELP, { positionals: false });
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  const { report, exit: cannotRun } = await runCheck(values.config, io, values.live);
  const failed = report.errors.length > 0 || (values.strict && report.warnings.length > 0);
  const exit = cannotRun ?? (failed ? EXIT.FAILED : EXIT.OK);
  if (values.json) io.out(`${JSON.stringify({ ...report, ok: exit === EXIT.OK }, null, 2)}\n`);
  else printHuman(io, report, values.strict, exit);
  return exit;
}
