/**
 * The policy lint of a loaded config (SPEC §3), placed in its file: what `portcullis check`
 * reports, and what the gateway runs on every load and reload (its errors refuse the config,
 * its warnings are logged).
 */
import { compilePolicy, lintPolicy, PolicyCompileError, type CompiledPolicy, type PolicyCatalog } from '../policy/index.js';
import { ConfigError, type Issue } from './issues.js';
import type { LoadedConfig } from './load.js';
import { locatorForFile } from './locate.js';

export type LintFinding = Issue & { readonly level: 'error' | 'warning' };

/** Lint and compile findings of a valid config; `catalog` (the live upstreams' tools) adds the checks that need it. */
export async function lintLoadedConfig(loaded: LoadedConfig, catalog?: PolicyCatalog): Promise<LintFinding[]> {
  const locate = await locatorForFile(loaded.file);
  const findings: LintFinding[] = lintPolicy(loaded.config, catalog).map((i) => ({ level: i.level, path: i.path, message: i.message, hint: i.hint, ...locate(i.path) }));
  // lintPolicy reports compile problems too; this makes sure nothing compilePolicy rejects slips through.
  try {
    compilePolicy(loaded.config, { version: loaded.hash });
  } catch (error) {
    if (!(error instanceof PolicyCompileError)) throw error;
    for (const i of error.issues) {
      if (findings.some((x) => x.level === 'error' && x.path === i.path && x.message === i.message)) continue;
      findings.push({ level: 'error', path: i.path, message: i.message, hint: 'fix the pattern or condition (see SPEC §4)', ...locate(i.path) });
    }
  }
  return findings;
}

/**
 * What a load or reload runs on a config whose policy compiled: the lint checks that find errors
 * (linear in the rules; the warnings' pairwise analyses are left to `portcullis check`). Throws
 * a ConfigError listing them, placed in the file.
 */
export async function refuseLintErrors(loaded: LoadedConfig, compiled: CompiledPolicy): Promise<void> {
  const errors = lintPolicy(loaded.config, undefined, { compiled, errorsOnly: true }).filter((i) => i.level === 'error');
  if (errors.length === 0) return;
  const locate = await locatorForFile(loaded.file);
  throw new ConfigError(loaded.file, errors.map((i) => ({ path: i.path, message: i.message, hint: i.hint, ...locate(i.path) })));
}
