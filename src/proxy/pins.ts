/**
 * Tool-definition pins (rug-pull protection, SPEC §5.6): the canonical SHA-256 of each tool
 * definition plus its server's instructions, pinned on first sight in `gateway.state/pins.json`.
 * A later change blocks the tool until an admin approves the new definition.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { diffDefinitions, pinDigest, pinSubject, type DefinitionChange, type PinSubject, type ToolDefinitionLike } from '../taint/index.js';
import { sha256Hex } from '../digest.js';

export interface Pin {
  digest: string;
  subject: PinSubject;
  pinnedAt: string;
}

export interface PinCheck {
  status: 'pinned-now' | 'unchanged' | 'changed';
  /** For a changed definition: what differs from the pinned one. */
  changes?: DefinitionChange[];
  digest: string;
}


export class PinStore {
  private readonly file: string;
  private pins: Record<string, Pin>;

  constructor(stateDir: string) {
    this.file = join(stateDir, 'pins.json');
    this.pins = PinStore.read(this.file);
  }

  private static read(file: string): Record<string, Pin> {
    try {
      const data = JSON.parse(readFileSync(file, 'utf8')) as { pins?: Record<string, Pin> };
      return data.pins ?? {};
    } catch {
      return {};
    }
  }

  /** Re-reads the file (after `portcullis pins approve|reset` changed it). */
  reload(): void {
    this.pins = PinStore.read(this.file);
  }

  list(): Array<[string, Pin]> {
    return Object.entries(this.pins);
  }

  /** Pins a definition it has not seen; reports whether a pinned one changed. */
  check(key: string, tool: ToolDefinitionLike, instructions: string | undefined): PinCheck {
    const digest = pinDigest(tool, instructions, sha256Hex);
    const pinned = this.pins[key];
    if (!pinned) {
      this.pin(key, digest, pinSubject(tool, instructions));
      return { status: 'pinned-now', digest };
    }
    if (pinned.digest === digest) return { status: 'unchanged', digest };
    return { status: 'changed', digest, changes: diffDefinitions(pinned.subject, pinSubject(tool, instructions)) };
  }

  /** Accepts the current definition of a tool as its pin (an admin approving a change). */
  accept(key: string, tool: ToolDefinitionLike, instructions: string | undefined): void {
    this.pin(key, pinDigest(tool, instructions, sha256Hex), pinSubject(tool, instructions));
  }

  /** Accepts a definition as the pinned one (first sight, or an admin approving a change). */
  pin(key: string, digest: string, subject: PinSubject): void {
    this.pins[key] = { digest, subject, pinnedAt: new Date().toISOString() };
    this.save();
  }

  remove(key?: string): void {
    if (key === undefined) this.pins = {};
    else delete this.pins[key];
    this.save();
  }

  private save(): void {
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ version: 1, pins: this.pins }, null, 2), { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}
