/** `portcullis diff OLD.yaml NEW.yaml [--live] [--json]`: the capability diff, for pull-request review. */
import { diffPolicies, formatDiff, type PolicyCatalog, type PolicyDiff } from '../policy/index.js';
import { openLiveCatalog, UNREACHABLE_HINT, UpstreamsUnreachableError } from './catalog.js';
import { compilePolicyOrExit, EXIT, loadConfigOrExit, parseCommand, processIo, usageError, type CliIo } from './command-io.js';

const HELP = `usage: portcullis diff OLD.yaml NEW.yaml [--live] [--json]

What changes between two policies, per agent: what became possible, what was removed, what moved
between allow / ask / deny, conditions and limits widened or narrowed. Markdown, to paste into a
pull request. Exit 0 when nothing changed, 3 when something did, 1 when a file is invalid.

  --live   compare the decisions for the tools the upstreams of NEW.yaml expose now
           (without it, rule patterns are compared)
  --json   print the diff as JSON
`;

export async function diffCommand(argv: string[], io: CliIo = processIo()): Promise<number> {
  const parsed = parseCommand(io, 'diff', argv, {
    live: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  }, HELP);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (positionals.length !== 2) return usageError(io, 'diff', `expected two files, OLD.yaml and NEW.yaml; got ${positionals.length}`, HELP);
  const [oldFile, newFile] = positionals as [string, string];

  const before = await loadConfigOrExit(io, 'diff', oldFile);
  const after = await loadConfigOrExit(io, 'diff', newFile);
  if (typeof before === 'number' || typeof after === 'number') {
    return Math.max(typeof before === 'number' ? before : 0, typeof after === 'number' ? after : 0);
  }

  // Compile each side first, so that a broken policy is reported against its own file.
  for (const [file, loaded] of [[oldFile, before], [newFile, after]] as const) {
    const policy = await compilePolicyOrExit(io, 'diff', file, loaded);
    if (typeof policy === 'number') return policy;
  }

  let catalog: PolicyCatalog | undefined;
  if (values.live) {
    try {
      const live = await openLiveCatalog(after.config, { secrets: after.secrets });
      catalog = live.catalog;
      await live.close();
    } catch (error) {
      if (!(error instanceof UpstreamsUnreachableError)) throw error;
      io.err(`portcullis diff: ${newFile}:\n${error.message}\n  ${UNREACHABLE_HINT}\n`);
      return EXIT.CANNOT_RUN;
    }
  }
  const diff: PolicyDiff = diffPolicies(before.config, after.config, catalog);

  if (values.json) {
    io.out(`${JSON.stringify({ old: oldFile, new: newFile, source: catalog ? 'live' : 'rules', ...diff }, null, 2)}\n`);
  } else {
    const basis = catalog ? `decisions for the tools the upstreams of \`${newFile}\` expose` : 'rule patterns';
    io.out(`Comparing \`${oldFile}\` → \`${newFile}\` (${basis}).\n\n${formatDiff(diff)}`);
  }
  return diff.hasChanges ? EXIT.CHANGED : EXIT.OK;
}
