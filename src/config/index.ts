/** The config module's public surface: load, validate, watch; the schema and its types. */
export {
  AgentSchema,
  ApprovalsSchema,
  AuthSchema,
  ConditionSchema,
  ConfigSchema,
  DurationSchema,
  GatewaySchema,
  HttpServerSchema,
  JwtAuthSchema,
  LimitSchema,
  ListenSchema,
  NameRuleSchema,
  ServerSchema,
  SizeSchema,
  StdioServerSchema,
  TaintSchema,
  ToolRuleSchema,
  isStdioServer,
  parseDuration,
  parseSize,
} from './schema.js';
export type {
  AgentConfig,
  ApprovalsConfig,
  Condition,
  Config,
  Effect,
  GatewayConfig,
  HttpServerConfig,
  LimitConfig,
  NameRule,
  ServerConfig,
  StdioServerConfig,
  TaintConfig,
  ToolRule,
} from './schema.js';
export { ConfigError, formatIssues, formatPath } from './issues.js';
export type { Issue, PathSegment } from './issues.js';
export { loadConfig, parseConfigText } from './load.js';
export type { LoadedConfig, LoadOptions } from './load.js';
export type { Env, ReadFileFn } from './references.js';
export { watchConfig } from './watch.js';
export type { ConfigWatcher, WatchOptions } from './watch.js';
export { DEFAULT_LISTEN, isLoopbackHost, parseListen } from './listen.js';
export { renderConfigJsonSchema } from './json-schema.js';
export { locatorForFile, parseYamlPath, yamlLocator } from './locate.js';
export type { Locator } from './locate.js';
export { lintLoadedConfig, refuseLintErrors } from './lint.js';
export type { LintFinding } from './lint.js';
