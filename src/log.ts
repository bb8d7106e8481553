/**
 * The root logger: pino to stderr (stdout belongs to the stdio transport), with secrets
 * redacted by value as well as by the usual header/key paths.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

const REDACT_PATHS = [
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  '*.authorization',
  '*.token',
  '*.secret',
  '*.password',
];

export interface LoggerOptions {
  level: string;
  /** Literal secret values (from `${env:}`/`${file:}`); any string containing one is masked. */
  secrets?: readonly string[];
  /** Where to write; defaults to stderr. */
  destination?: NodeJS.WritableStream | number;
}

/** Replaces every occurrence of a secret inside a string with `[REDACTED]`. */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length > 0 && out.includes(secret)) out = out.split(secret).join('[REDACTED]');
  }
  return out;
}

export function createLogger(options: LoggerOptions): Logger {
  const secrets = (options.secrets ?? []).filter((s) => s.length >= 4);
  const destination = options.destination ?? 2;
  const stream = typeof destination === 'number' ? pino.destination({ fd: destination, sync: false }) : destination;
  return pino(
    {
      level: options.level,
      base: { name: 'portcullis' },
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      ...(secrets.length === 0 ? {} : { hooks: { streamWrite: (line: string) => maskSecrets(line, secrets) } }),
    },
    stream,
  );
}
