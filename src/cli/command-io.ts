/**
 * What the commands share: where they write, the environment they read, parsing arguments,
 * loading a config with the right exit code, placing a YAML path
 * (`agents.default.rules[2].where.path`) at its line and column for messages, and finding and
 * asking a running gateway (approvals, call, lockdown, pins, undo).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, formatIssues, loadConfig, locatorForFile, type Issue, type LoadedConfig } from '../config/index.js';
import { compilePolicy, PolicyCompileError, type CompiledPolicy, type PolicyIssue } from '../policy/index.js';

/** A command's outside world; tests pass their own. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Milliseconds since the epoch. */
  now(): number;
}

/** The real process: stdout, stderr, environment and clock. */
export function processIo(): CliIo {
  return {
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
    env: process.env,
    now: () => Date.now(),
  };
}

export const EXIT = { OK: 0, FAILED: 1, CANNOT_RUN: 2, CHANGED: 3 } as const;

/** The options of commands that talk to a running gateway (`$PORTCULLIS_URL`, `$PORTCULLIS_TOKEN`). */
export const GATEWAY_CLIENT_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

/** Where the gateway-talking commands look when neither `--url` nor `$PORTCULLIS_URL` says. */
export const DEFAULT_GATEWAY_URL = 'http://127.0.0.1:8787';

/** `http://h:p` from `http://h:p/`, `http://h:p/mcp` or `http://h:p`. */
export function gatewayBase(url: string): string {
  return url.replace(/\/+$/, '').replace(/\/mcp$/, '');
}

/** The gateway a command talks to: base URL (from `--url`, `$PORTCULLIS_URL` or the default) and bearer token (`--token`, `$PORTCULLIS_TOKEN`). */
export function gatewayTarget(io: CliIo, values: { url?: string | undefined; token?: string | undefined }): { base: string; token: string | undefined } {
  return { base: gatewayBase(values.url ?? io.env.PORTCULLIS_URL ?? DEFAULT_GATEWAY_URL), token: values.token ?? io.env.PORTCULLIS_TOKEN };
}

/** Prints a usage error with the command's help and returns exit code 1. */
export function usageError(io: CliIo, command: string, message: string, help: string): number {
  io.err(`portcullis ${command}: ${message}\n\n${help}`);
  return EXIT.FAILED;
}

/**
 * Loads a config for a command. On failure prints every issue (`FILE:LINE:COL path: message`)
 * and returns the exit code: 2 when the file cannot be read, 1 when it is invalid.
 */
export async function loadConfigOrExit(io: CliIo, command: string, file: string): Promise<LoadedConfig | number> {
  try {
    return await loadConfig(file, { env: io.env });
  } catch (error) {
    if (error instanceof ConfigError) {
      if (error.kind === 'unreadable') {
        io.err(`portcullis ${command}: ${error.message}\n  pass the config with -c FILE (default: portcullis.yaml)\n`);
        return EXIT.CANNOT_RUN;
      }
      io.err(`portcullis ${command}: ${file} is invalid:\n${error.message}\nRun 'portcullis check -c ${file}' for the full report.\n`);
      return EXIT.FAILED;
    }
    io.err(`portcullis ${command}: cannot load ${file}: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT.CANNOT_RUN;
  }
}

/** Compile problems as config issues, placed in the file when its text is at hand. */
export async function placePolicyIssues(file: string, issues: readonly PolicyIssue[]): Promise<Issue[]> {
  const locate = await locatorForFile(file);
  return issues.map((i) => ({ path: i.path, message: i.message, hint: 'fix the pattern or condition (see SPEC §4)', ...locate(i.path) }));
}

/** The config's compiled policy, or (after printing its issues, placed in the file) exit code 1. */
export async function compilePolicyOrExit(io: CliIo, command: string, file: string, loaded: LoadedConfig): Promise<CompiledPolicy | number> {
  try {
    return compilePolicy(loaded.config, { version: loaded.hash });
  } catch (error) {
    if (!(error instanceof PolicyCompileError)) throw error;
    io.err(`portcullis ${command}: ${file} has an invalid policy:\n${formatIssues(file, await placePolicyIssues(file, error.issues))}\n`);
    return EXIT.FAILED;
  }
}

/** `message` of an unknown thrown value. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Parses a command's arguments with `--help` built in: the values and positionals, or the exit
 * code to return (0 after printing the help, 1 after a usage error).
 */
export function parseCommand<O extends NonNullable<ParseArgsConfig['options']>>(
  io: CliIo,
  command: string,
  argv: string[],
  options: O,
  help: string,
  { positionals: allowed = true }: { positionals?: boolean } = {},
): { values: ReturnType<typeof parseArgs<{ options: O; allowPositionals: true; strict: true }>>['values']; positionals: string[] } | number {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (error) {
    return usageError(io, command, errorText(error), help);
  }
  if ((parsed.values as { help?: boolean }).help) {
    io.out(help);
    return EXIT.OK;
  }
  if (!allowed && parsed.positionals.length > 0) return usageError(io, command, `unexpected argument '${parsed.positionals[0]}'`, help);
  return parsed as never;
}

/** What a running gateway answered a CLI request, or why it could not be reached. */
export type GatewayReply = { kind: 'answered'; status: number; ok: boolean; json: unknown; text: string } | { kind: 'unreachable'; reason: string };

/** One request to a running gateway's API: JSON body, bearer token, CSRF header, timeout. */
export async function requestGateway(base: string, path: string, options: { method?: 'GET' | 'POST'; token?: string | undefined; body?: unknown; timeoutMs?: number } = {}): Promise<GatewayReply> {
  const method = options.method ?? 'GET';
  let response: Response;
  try {
    response = await fetch(`${base}${path}`, {
      method,
      headers: { 'content-type': 'application/json', 'x-portcullis-csrf': '1', ...(options.token ? { authorization: `Bearer ${options.token}` } : {}) },
      ...(method === 'POST' ? { body: JSON.stringify(options.body ?? {}) } : {}),
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return { kind: 'unreachable', reason: cause?.code ?? cause?.message ?? errorText(error) };
  }
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { kind: 'answered', status: response.status, ok: response.ok, json, text };
}
