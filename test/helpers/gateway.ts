/**
 * Test helpers that run the real gateway binary (built into dist/ by `npm test`) as a child
 * process, with a config written to a temp folder, and connect real SDK clients to it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, StreamableHTTPClientTransport, type ClientOptions } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { stringify } from 'yaml';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'bin/portcullis.js');

/** A stdio upstream running a TypeScript fixture through tsx. */
export function fixtureServer(file: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { command: process.execPath, args: ['--import', 'tsx', join(ROOT, 'test/fixtures', file)], cwd: ROOT, ...extra };
}

/** A stdio upstream running a built demo server. */
export function demoServer(name: 'notes-server' | 'web-server', extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { command: process.execPath, args: [join(ROOT, 'dist/demo', `${name}.js`)], ...extra };
}

export interface TempConfig {
  dir: string;
  file: string;
  write(config: Record<string, unknown>): void;
  cleanup(): void;
}

/** Writes a config into a fresh temp folder; audit and state go there too unless given. */
export function tempConfig(config: Record<string, unknown>): TempConfig {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-test-'));
  const file = join(dir, 'portcullis.yaml');
  const write = (c: Record<string, unknown>) => {
    const gateway = { audit: { file: join(dir, 'audit.jsonl') }, state: join(dir, 'state'), logLevel: 'warn', ...((c.gateway as object) ?? {}) };
    writeFileSync(file, stringify({ version: 1, ...c, gateway }));
  };
  write(config);
  return { dir, file, write, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface RunningGateway {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `portcullis serve` over HTTP on a free port and waits until it listens. */
export async function startHttpGateway(configFile: string, extraArgs: string[] = [], env: Record<string, string> = {}): Promise<RunningGateway> {
  const child = spawn(process.execPath, [BIN, 'serve', '-c', configFile, '--listen', '127.0.0.1:0', ...extraArgs], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${err}`)), 20_000);
    const check = () => {
      const m = /MCP endpoint (http:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolveUrl(m[1]!);
      }
    };
    child.stderr!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code}:\n${err}`));
    });
  });
  return {
    child,
    url,
    stderr: () => err,
    stop: (signal = 'SIGTERM') =>
      new Promise((resolveStop) => {
        if (child.exitCode !== null) return resolveStop(child.exitCode);
        child.once('exit', (code) => resolveStop(code));
        child.kill(signal);
      }),
  };
}

export const CLIENT_INFO = { name: 'portcullis-test', version: '1.0.0' };

/** An SDK client connected to the gateway over Streamable HTTP; `era` picks the handshake. */
export async function httpClient(url: string, era: 'legacy' | 'modern' = 'legacy', options: ClientOptions = {}): Promise<Client> {
  const client = new Client(CLIENT_INFO, { ...options, ...(era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {}) });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

/** An SDK client that launches the gateway in stdio mode, as a desktop assistant would. */
export async function stdioClient(configFile: string, era: 'legacy' | 'modern' = 'legacy', options: ClientOptions = {}): Promise<{ client: Client; transport: StdioClientTransport }> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [BIN, 'serve', '--stdio', '-c', configFile], cwd: ROOT, stderr: 'pipe' });
  const client = new Client(CLIENT_INFO, { ...options, ...(era === 'modern' ? { versionNegotiation: { mode: 'auto' } } : {}) });
  await client.connect(transport);
  return { client, transport };
}

/** Text of the first text block of a tool result. */
export function textOf(result: { content?: unknown }): string {
  const blocks = (result.content ?? []) as Array<{ type: string; text?: string }>;
  return blocks.find((b) => b.type === 'text')?.text ?? '';
}
