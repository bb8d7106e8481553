/**
 * The shape every benchmark section shares. `bench/run.ts` keeps an ordered list of sections;
 * adding one (approvals drain, taint throughput, …) means writing a module that exports a
 * `Section` and appending it to that list.
 */

export interface BenchOptions {
  /** Measured runs per scenario; medians are taken across them. */
  readonly runs: number;
  /** Measured time per scenario run, in ms (warm-up comes on top). */
  readonly durationMs: number;
  /** Calls made and discarded before measuring, per scenario run: at least this long, in ms… */
  readonly warmupMs: number;
  /** …and at least this many calls (where a section counts calls), up to `maxWarmupMs`. */
  readonly warmupCalls: number;
  readonly maxWarmupMs: number;
  /** Repository root. */
  readonly root: string;
  /** Progress lines go here (stderr), never into the table. */
  readonly progress: (line: string) => void;
  /** Free-form `--set key=value` pairs for section-specific knobs. */
  readonly settings: ReadonlyMap<string, string>;
}

/** A target the measurement is judged against; `met` is computed in the same run. */
export interface Goal {
  readonly section: string;
  readonly name: string;
  /** e.g. `>= 0.70`. */
  readonly target: string;
  readonly value: number;
  /** How to print `value`, e.g. `0.83` or `0.21 ms`. */
  readonly shown: string;
  readonly met: boolean;
}

export interface SectionResult {
  /** Markdown printed under the section's heading. */
  readonly markdown: string;
  readonly goals: readonly Goal[];
  /** Everything measured, raw runs included, for bench/results/latest.json. */
  readonly data: unknown;
}

export interface Section {
  /** What `--only` selects, e.g. `proxy`. */
  readonly name: string;
  readonly title: string;
  run(options: BenchOptions): Promise<SectionResult>;
}

export function goal(section: string, name: string, value: number, op: '>=' | '<=', bound: number, unit = '', digits = 2): Goal {
  const shown = `${value.toFixed(digits)}${unit}`;
  return { section, name, target: `${op} ${bound}${unit}`, value, shown, met: op === '>=' ? value >= bound : value <= bound };
}
