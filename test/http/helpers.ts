/** Shared bits of the HTTP tests: a temp audit log read back line by line, and a Prometheus text parser. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAuditLog, type AuditLog, type AuditRecord } from '../../src/audit/log.js';

export interface TempAudit {
  dir: string;
  file: string;
  audit: AuditLog;
  lines(): AuditRecord[];
  cleanup(): void;
}

export function tempAudit(options: { arguments?: 'full' | 'digest' | 'none'; secrets?: string[]; now?: () => number } = {}): TempAudit {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-http-'));
  const file = join(dir, 'audit.jsonl');
  const audit = createAuditLog({ file, arguments: options.arguments ?? 'full', secrets: options.secrets ?? [], ...(options.now ? { now: options.now } : {}) });
  return {
    dir,
    file,
    audit,
    lines() {
      let text = '';
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        return [];
      }
      return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditRecord);
    },
    cleanup() {
      audit.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition format (0.0.4) into samples; comments are checked for shape. */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      if (!/^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$/.test(line)) throw new Error(`bad comment line: ${line}`);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    if (!m) throw new Error(`bad sample line: ${line}`);
    const labels: Record<string, string> = {};
    if (m[2]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;
      let l: RegExpExecArray | null;
      while ((l = re.exec(m[2]))) labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
      if (re.lastIndex !== m[2].length && re.lastIndex !== 0) throw new Error(`bad labels: ${m[2]}`);
    }
    const raw = m[3]!;
    // Go's ParseFloat, which Prometheus uses, reads NaN and Inf case-insensitively.
    const lower = raw.toLowerCase();
    const value = lower === '+inf' || lower === 'inf' ? Infinity : lower === '-inf' ? -Infinity : lower === 'nan' ? Number.NaN : Number(raw);
    if (Number.isNaN(value) && lower !== 'nan') throw new Error(`bad value: ${line}`);
    samples.push({ name: m[1]!, labels, value });
  }
  return samples;
}

/** The value of the one sample with this name and (at least) these labels. */
export function sampleValue(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${found.length} samples match ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value;
}
