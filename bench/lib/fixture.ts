/**
 * Transpiles a TypeScript fixture to plain ESM once per benchmark, so that each of the many
 * fresh upstream processes starts without the tsx loader (which costs most of a second per
 * start and nothing per call). The output goes under bench/results/ (git-ignored), where module
 * resolution still finds the repository's node_modules.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import ts from 'typescript';

export function transpileFixture(root: string, file: string): string {
  const source = join(root, file);
  const outDir = join(root, 'bench/results/.bin');
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, basename(file).replace(/\.ts$/, '.mjs'));
  const { outputText } = ts.transpileModule(readFileSync(source, 'utf8'), {
    fileName: source,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false },
  });
  writeFileSync(out, outputText);
  return out;
}
