/**
 * The configuration file's schema (SPEC §3). Strict objects everywhere: a typo is an error.
 * Types are derived from the schemas; durations and sizes are parsed to numbers here so that
 * nothing downstream parses strings.
 */
import * as z from 'zod';

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1_000, kib: 1_024, mb: 1_000_000, mib: 1_048_576, gb: 1_000_000_000, gib: 1_073_741_824 };

/** Parses `45s`, `15m`, `1h`, `250ms`, `2d` (or a bare number of milliseconds) to milliseconds. */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/i.exec(value);
  if (!m) return undefined;
  return Math.round(Number(m[1]) * DURATION_UNITS[m[2]!.toLowerCase()]!);
}

/** Parses `4MiB`, `64KiB`, `1000` (bytes) to bytes. */
export function parseSize(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b|b)\s*$/i.exec(value);
  if (!m) return undefined;
  return Math.round(Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!);
}

export const DurationSchema = z
  .union([z.string(), z.number()])
  .transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `bad duration ${JSON.stringify(v)}: write a number with a unit, e.g. 250ms, 45s, 15m, 1h, 2d` });
      return z.NEVER;
    }
    return ms;
  });

export const SizeSchema = z
  .union([z.string(), z.number()])
  .transform((v, ctx) => {
    const bytes = parseSize(v);
    if (bytes === undefined) {
      ctx.addIssue({ code: 'custom', message: `bad size ${JSON.stringify(v)}: write a number with a unit, e.g. 64KiB, 4MiB` });
      return z.NEVER;
    }
    return bytes;
  });

/** `host:port`, `[v6]:port`, or a bare port. */
export const ListenSchema = z
  .string()
  .regex(/^(?:(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):)?\d{1,5}$/, { error: 'expected HOST:PORT, e.g. 127.0.0.1:8787', abort: true })
  .refine((listen) => Number(listen.slice(listen.lastIndexOf(':') + 1)) <= 65_535, 'the port must be at most 65535');

const NameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, 'letters, digits, "_" and "-" only, starting with a letter or digit');

export const JwtAuthSchema = z.strictObject({
  secret: z.string().min(1).optional(),
  jwks: z.url().optional(),
  issuer: z.string().optional(),
  audience: z.union([z.string(), z.array(z.string())]).optional(),
  agentClaim: z.string().default('sub'),
  roleClaim: z.string().default('roles'),
  clockTolerance: DurationSchema.default(30_000),
  maxTokenBytes: z.number().int().positive().default(8_192),
});

export const AuthSchema = z
  .strictObject({
    mode: z.enum(['none', 'jwt']).default('none'),
    jwt: JwtAuthSchema.optional(),
  })
  .superRefine((auth, ctx) => {
    if (auth.mode === 'jwt' && !auth.jwt?.secret && !auth.jwt?.jwks) {
      ctx.addIssue({ code: 'custom', path: ['jwt'], message: 'auth.mode jwt needs jwt.secret (HS256) or jwt.jwks' });
    }
  });

export const GatewaySchema = z.strictObject({
  listen: ListenSchema.optional(),
  publicUrl: z.url().optional(),
  auth: AuthSchema.default({ mode: 'none' }),
  audit: z
    .strictObject({
      file: z.string().default('./portcullis-audit.jsonl'),
      arguments: z.enum(['full', 'digest', 'none']).default('full'),
    })
    .default({ file: './portcullis-audit.jsonl', arguments: 'full' }),
  limits: z
    .strictObject({
      callTimeout: DurationSchema.default(120_000),
      maxResultBytes: SizeSchema.default(4 * 1_048_576),
      maxRequestBytes: SizeSchema.default(4 * 1_048_576),
      maxSessions: z.number().int().positive().default(10_000),
    })
    .default({ callTimeout: 120_000, maxResultBytes: 4 * 1_048_576, maxRequestBytes: 4 * 1_048_576, maxSessions: 10_000 }),
  state: z.string().default('./.portcullis/'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

const ServerCommonShape = {
  trust: z.enum(['internal', 'external']).default('internal'),
  /** Exposed names are `<prefix>__<tool>`; `""` exposes the upstream's names unchanged. */
  prefix: z.union([z.literal(''), NameSchema.refine((p) => !p.includes('__'), 'a prefix may not contain "__"')]).optional(),
  isolation: z.enum(['shared', 'session']).default('shared'),
  annotations: z.enum(['trusted', 'ignored']).default('ignored'),
  /** Which protocol era to speak to the upstream: probe (`auto`), or pin one. */
  protocol: z.enum(['auto', 'legacy', 'modern']).default('auto'),
  /** Tools of this (internal) server whose results are tainted anyway, e.g. an inbox. */
  taintSources: z.array(z.string().min(1)).optional(),
  startTimeout: DurationSchema.default(30_000),
};

export const StdioServerSchema = z.strictObject({
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).optional(),
  cwd: z.string().optional(),
  ...ServerCommonShape,
});

export const HttpServerSchema = z.strictObject({
  url: z.url(),
  transport: z.enum(['streamable-http', 'sse']).default('streamable-http'),
  headers: z.record(z.string(), z.string()).optional(),
  ...ServerCommonShape,
});

export const ServerSchema = z.union([StdioServerSchema, HttpServerSchema], {
  error: 'a server needs either command (stdio) or url (Streamable HTTP / SSE)',
});

/** One `where` condition on an argument value (SPEC §4). */
export type Condition = {
  equals?: string | number | boolean;
  in?: Array<string | number | boolean>;
  under?: string;
  glob?: string;
  regex?: string;
  host?: string | string[];
  schemes?: string[];
  min?: number;
  max?: number;
  maxLength?: number;
  not?: Condition;
};

export const ConditionSchema: z.ZodType<Condition> = z.lazy(() =>
  z
    .strictObject({
      equals: z.union([z.string(), z.number(), z.boolean()]).optional(),
      in: z.array(z.union([z.string(), z.number(), z.boolean()])).min(1).optional(),
      under: z.string().min(1).optional(),
      glob: z.string().min(1).optional(),
      regex: z.string().min(1).max(512).optional(),
      host: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
      schemes: z.array(z.string().min(1)).optional(),
      min: z.number().optional(),
      max: z.number().optional(),
      maxLength: z.number().int().nonnegative().optional(),
      not: ConditionSchema.optional(),
    })
    .refine((c) => Object.keys(c).some((k) => k !== 'schemes'), 'a condition needs at least one operator'),
);

const UndoSchema = z.strictObject({
  tool: z.string().min(1),
  args: z.record(z.string(), z.unknown()).default({}),
});

const RuleCommon = {
  id: z.string().min(1).optional(),
  reason: z.string().optional(),
  where: z.record(z.string(), ConditionSchema).optional(),
  readOnly: z.boolean().optional(),
  undo: UndoSchema.optional(),
};

/** A tool rule: exactly one of allow / ask / deny, naming a glob over exposed tool names. */
export const ToolRuleSchema = z.union([
  z.strictObject({ allow: z.string().min(1), ...RuleCommon }),
  z.strictObject({ ask: z.string().min(1), ...RuleCommon }),
  z.strictObject({ deny: z.string().min(1), ...RuleCommon }),
], { error: 'a rule needs exactly one of allow:, ask: or deny: with a name pattern' });

/** A resource or prompt rule: a glob over resource URIs or exposed prompt names. */
export const NameRuleSchema = z.union([
  z.strictObject({ allow: z.string().min(1), id: z.string().optional(), reason: z.string().optional() }),
  z.strictObject({ ask: z.string().min(1), id: z.string().optional(), reason: z.string().optional() }),
  z.strictObject({ deny: z.string().min(1), id: z.string().optional(), reason: z.string().optional() }),
], { error: 'a rule needs exactly one of allow:, ask: or deny: with a pattern' });

export const LimitSchema = z.strictObject({
  match: z.string().min(1),
  max: z.number().int().positive(),
  per: DurationSchema,
});

export const AgentSchema = z.strictObject({
  owner: z.string().optional(),
  rules: z.array(ToolRuleSchema).default([]),
  resources: z.array(NameRuleSchema).default([]),
  prompts: z.array(NameRuleSchema).default([]),
  limits: z.array(LimitSchema).default([]),
});

const EffectSchema = z.enum(['allow', 'ask', 'deny']);

export const TaintSchema = z.strictObject({
  sinks: z.union([z.literal('default'), z.array(z.string().min(1))]).default('default'),
  classes: z.strictObject({ critical: z.array(z.string().min(1)).default([]) }).default({ critical: [] }),
  onTaintedSink: EffectSchema.default('ask'),
  onCriticalTainted: EffectSchema.default('ask'),
  onSuspicious: EffectSchema.default('deny'),
  provenance: z
    .strictObject({ minCopiedChars: z.number().int().min(4).default(12) })
    .default({ minCopiedChars: 12 }),
  wrap: z.enum(['none', 'tag']).default('tag'),
});

const WebhookChannelSchema = z.strictObject({
  webhook: z.strictObject({
    url: z.url(),
    secret: z.string().min(1),
    format: z.enum(['json', 'slack']).default('json'),
  }),
});
const ElicitChannelSchema = z.strictObject({ elicit: z.strictObject({}) });

export const ApprovalsSchema = z.strictObject({
  wait: DurationSchema.default(45_000),
  timeout: DurationSchema.default(15 * 60_000),
  channels: z.array(z.union([WebhookChannelSchema, ElicitChannelSchema])).default([]),
});

export const ConfigSchema = z.strictObject({
  version: z.literal(1, { error: 'expected 1, the only config version' }),
  gateway: GatewaySchema.default(GatewaySchema.parse({})),
  servers: z.record(NameSchema, ServerSchema).default({}),
  agents: z.record(NameSchema, AgentSchema).default({}),
  taint: TaintSchema.default(TaintSchema.parse({})),
  approvals: ApprovalsSchema.optional(),
});

export type Config = z.infer<typeof ConfigSchema>;
export type GatewayConfig = z.infer<typeof GatewaySchema>;
export type ServerConfig = z.infer<typeof ServerSchema>;
export type StdioServerConfig = z.infer<typeof StdioServerSchema>;
export type HttpServerConfig = z.infer<typeof HttpServerSchema>;
export type AgentConfig = z.infer<typeof AgentSchema>;
export type ToolRule = z.infer<typeof ToolRuleSchema>;
export type NameRule = z.infer<typeof NameRuleSchema>;
export type LimitConfig = z.infer<typeof LimitSchema>;
export type TaintConfig = z.infer<typeof TaintSchema>;
export type ApprovalsConfig = z.infer<typeof ApprovalsSchema>;
export type Effect = z.infer<typeof EffectSchema>;

export function isStdioServer(server: ServerConfig): server is StdioServerConfig {
  return 'command' in server;
}
