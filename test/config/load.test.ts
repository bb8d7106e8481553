import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, formatIssues, isStdioServer, loadConfig } from '../../src/config/index.js';
import { failure, issues, parse, yaml } from './helpers.js';

const SPEC_EXAMPLE = new URL('./fixtures/spec-example.yaml', import.meta.url).pathname;
const SPEC_ENV = {
  DOCS_TOKEN: 'docs-token-0f3a9c21',
  WEB_TOKEN: 'web-token-77c1e0b4',
  WEBHOOK_SECRET: 'whsec-5d2b8e90',
  PORTCULLIS_JWT_SECRET: 'jwt-secret-a41c7f3e9b',
};

describe('loadConfig', () => {
  it('loads the SPEC §3 example with defaults applied and units converted', async () => {
    const { config, warnings } = await loadConfig(SPEC_EXAMPLE, { env: SPEC_ENV });
    expect(warnings).toEqual([]);
    expect(config.gateway.limits.callTimeout).toBe(120_000);
    expect(config.gateway.limits.maxResultBytes).toBe(4 * 1024 * 1024);
    expect(config.gateway.auth).toMatchObject({ mode: 'jwt', jwt: { secret: SPEC_ENV.PORTCULLIS_JWT_SECRET, agentClaim: 'sub' } });
    expect(config.approvals?.wait).toBe(45_000);
    expect(config.approvals?.timeout).toBe(15 * 60_000);
    expect(config.agents['default']?.limits[0]?.per).toBe(3_600_000);
    expect(config.agents['default']?.rules).toHaveLength(6);
    expect(config.agents['release-bot']?.rules[0]).toEqual({
      ask: 'slack__reply_to_thread',
      where: { channel_id: { equals: '${claims.channel}' }, thread_ts: { equals: '${claims.thread_ts}' } },
    });
    const docs = config.servers['docs']!;
    expect(isStdioServer(docs) && docs.env).toEqual({ DOCS_TOKEN: SPEC_ENV.DOCS_TOKEN });
    const web = config.servers['web']!;
    expect(!isStdioServer(web) && web.headers).toEqual({ Authorization: `Bearer ${SPEC_ENV.WEB_TOKEN}` });
  });

  it('leaves policy templates ({{…}}, ${claims.X}, ${agent.X}) untouched', async () => {
    const { config } = await loadConfig(SPEC_EXAMPLE, { env: SPEC_ENV });
    const undo = config.agents['default']?.rules[3]?.undo;
    expect(undo).toEqual({ tool: 'docs__restore_page', args: { path: '{{args.path}}', revision: '{{result.structured.previousRevision}}' } });
  });

  it('collects every secret substituted into env, headers and secret keys, once each', async () => {
    const { secrets } = await loadConfig(SPEC_EXAMPLE, { env: SPEC_ENV });
    expect([...secrets].sort()).toEqual(Object.values(SPEC_ENV).sort());
  });

  it('fails with every missing variable named when the SPEC example is loaded without its environment', async () => {
    const error = await loadConfig(SPEC_EXAMPLE, { env: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    const messages = (error as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
    expect(messages).toEqual([
      expect.stringMatching(/^gateway\.auth\.jwt\.secret: environment variable PORTCULLIS_JWT_SECRET is not set/),
      expect.stringMatching(/^servers\.docs\.env\.DOCS_TOKEN: environment variable DOCS_TOKEN is not set/),
      expect.stringMatching(/^servers\.web\.headers\.Authorization: environment variable WEB_TOKEN is not set/),
      expect.stringMatching(/^approvals\.channels\[0\]\.webhook\.secret: environment variable WEBHOOK_SECRET is not set/),
    ]);
  });

  it('rejects the SPEC example as printed (auth none) only for its ${claims.*} conditions', async () => {
    const text = await readFile(SPEC_EXAMPLE, 'utf8');
    const asPrinted = text.replace(/mode: jwt.*\n\s+jwt:\n.*\n/, 'mode: none\n');
    const error = await failure(asPrinted, SPEC_ENV);
    expect(error.issues.map((i) => i.path)).toEqual([
      'agents.release-bot.rules[0].where.channel_id.equals',
      'agents.release-bot.rules[0].where.thread_ts.equals',
    ]);
  });

  it('returns a deep-frozen config, secrets list and warnings', async () => {
    const loaded = await loadConfig(SPEC_EXAMPLE, { env: SPEC_ENV });
    expect(Object.isFrozen(loaded)).toBe(true);
    expect(Object.isFrozen(loaded.config.agents['default']!.rules[1]!.where!['path'])).toBe(true);
    expect(Object.isFrozen(loaded.secrets)).toBe(true);
    expect(() => {
      (loaded.config.gateway.limits as { callTimeout: number }).callTimeout = 1;
    }).toThrow(TypeError);
    expect(() => (loaded.config.agents['default']!.rules as unknown[]).push({ allow: '*' })).toThrow(TypeError);
  });

  it('hashes the raw text so that only a changed file changes the hash', async () => {
    const a = await parse('version: 1\n');
    const b = await parse('version: 1\n');
    const c = await parse('version: 1 # edited\n');
    expect(a.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(b.hash).toBe(a.hash);
    expect(c.hash).not.toBe(a.hash);
  });

  it('throws an unreadable ConfigError naming the file when it does not exist', async () => {
    const error = await loadConfig('/nonexistent/portcullis.yaml', { env: {} }).catch((e: unknown) => e);
    if (!(error instanceof ConfigError)) throw new Error('expected a ConfigError');
    expect(error.kind).toBe('unreadable');
    expect(error.message).toBe('/nonexistent/portcullis.yaml: cannot read the config file (ENOENT)');
  });
});

describe('${env:} and ${file:} references', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-config-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('substitutes ${env:NAME} anywhere in a string, keeping the text around it', async () => {
    const { config } = await parse(
      yaml`
        version: 1
        gateway: { audit: { file: "\${env:LOG_DIR}/audit.jsonl" } }
        agents: { default: { owner: "\${env:OWNER}" } }
      `,
      { LOG_DIR: '/var/log/portcullis', OWNER: 'alice@example.com' },
    );
    expect(config.gateway.audit.file).toBe('/var/log/portcullis/audit.jsonl');
    expect(config.agents['default']?.owner).toBe('alice@example.com');
  });

  it('reports a missing variable by name with its YAML path and line', async () => {
    const found = await issues(yaml`
      version: 1
      servers:
        web:
          url: http://127.0.0.1:9000/mcp
          headers: { Authorization: "Bearer \${env:WEB_TOKEN}" }
    `);
    expect(found).toEqual([
      expect.objectContaining({
        path: 'servers.web.headers.Authorization',
        message: expect.stringContaining('WEB_TOKEN is not set') as string,
        line: 5,
      }),
    ]);
  });

  it('reads ${file:PATH} relative to the config file folder, trimming one trailing newline', async () => {
    await writeFile(join(dir, 'webhook.secret'), 'whsec-from-file-91d2\n\n');
    await writeFile(join(dir, 'portcullis.yaml'), yaml`
      version: 1
      approvals:
        channels:
          - webhook: { url: "https://hooks.example.com/p", secret: "\${file:webhook.secret}" }
    `);
    const { config, secrets } = await loadConfig(join(dir, 'portcullis.yaml'), { env: {} });
    const channel = config.approvals?.channels[0];
    expect(channel && 'webhook' in channel && channel.webhook.secret).toBe('whsec-from-file-91d2\n');
    expect(secrets).toEqual(['whsec-from-file-91d2\n']);
  });

  it('reports an unreadable ${file:PATH} naming it and its YAML path', async () => {
    const found = await issues(yaml`
      version: 1
      gateway: { auth: { mode: jwt, jwt: { secret: "\${file:secrets/jwt.key}" } } }
    `);
    expect(found).toEqual([
      expect.objectContaining({ path: 'gateway.auth.jwt.secret', message: 'cannot read ${file:secrets/jwt.key} (ENOENT)', line: 2 }),
    ]);
  });

  it('treats $${env:NAME} as an escaped literal', async () => {
    const { config } = await parse('version: 1\nagents: { default: { owner: "$${env:NOT_A_REF}" } }\n');
    expect(config.agents['default']?.owner).toBe('${env:NOT_A_REF}');
  });

  it('rejects a misspelt reference kind such as ${ENV:NAME} instead of keeping it literally', async () => {
    const found = await issues('version: 1\nagents: { default: { owner: "${ENV:OWNER}" } }\n', { OWNER: 'x' });
    expect(found).toEqual([expect.objectContaining({ path: 'agents.default.owner', message: 'unknown reference kind in ${ENV:…}' })]);
  });

  it('does not re-expand references that appear inside substituted values', async () => {
    const { config } = await parse('version: 1\nagents: { default: { owner: "${env:A}" } }\n', { A: '${env:B}', B: 'leak' });
    expect(config.agents['default']?.owner).toBe('${env:B}');
  });
});

describe('secrets', () => {
  it('does not count values substituted outside env, headers and secret keys as secrets', async () => {
    const { secrets } = await parse(
      yaml`
        version: 1
        servers:
          docs:
            command: \${env:NODE_BIN}
            args: ["\${env:SCRIPT}"]
            env: { DOCS_TOKEN: "\${env:DOCS_TOKEN}" }
        agents: { default: { owner: "\${env:OWNER}" } }
      `,
      { NODE_BIN: '/usr/bin/node', SCRIPT: './docs.js', DOCS_TOKEN: 'docs-secret-8812', OWNER: 'alice@example.com' },
    );
    expect(secrets).toEqual(['docs-secret-8812']);
  });

  it('does not count literal, non-token values under env as secrets', async () => {
    const { secrets } = await parse('version: 1\nservers: { docs: { command: node, env: { LOG_LEVEL: debug } } }\n');
    expect(secrets).toEqual([]);
  });

  it('rejects a token-shaped literal under servers.*.env and says to use ${env:NAME}', async () => {
    const found = await issues(yaml`
      version: 1
      servers:
        docs:
          command: node
          env: { GITHUB_TOKEN: ghp_R8x2Kq9LmZ4vB7nT1wY5cD3fH6jP0sA2eG8u }
    `);
    expect(found).toEqual([
      expect.objectContaining({
        path: 'servers.docs.env.GITHUB_TOKEN',
        message: 'this looks like a GitHub token written into the file',
        hint: expect.stringContaining('use ${env:NAME}') as string,
        line: 5,
      }),
    ]);
    expect(formatIssues('p.yaml', found)).not.toContain('ghp_R8x2');
  });

  it('rejects a literal bearer token in a header but accepts one built from a reference', async () => {
    const literal = await issues('version: 1\nservers: { web: { url: "http://h/mcp", headers: { Authorization: "Bearer q8Zr2LmX7vB4nT1wY5cD3fH6" } } }\n');
    expect(literal.map((i) => i.path)).toEqual(['servers.web.headers.Authorization']);
    const referenced = await parse('version: 1\nservers: { web: { url: "http://h/mcp", headers: { Authorization: "Bearer ${env:T}" } } }\n', { T: 'q8Zr2LmX7vB4nT1wY5cD3fH6' });
    expect(referenced.secrets).toEqual(['q8Zr2LmX7vB4nT1wY5cD3fH6']);
  });

  it('warns about a literal webhook secret that is not token-shaped', async () => {
    const { warnings } = await parse('version: 1\napprovals: { channels: [ { webhook: { url: "https://h/x", secret: changeme } } ] }\n');
    expect(warnings).toEqual([expect.objectContaining({ path: 'approvals.channels[0].webhook.secret', message: 'secret written into the file as a literal' })]);
  });

  it('never quotes a substituted secret in an error message', async () => {
    const error = await failure('version: 1\ngateway: { limits: { callTimeout: "${env:T}" } }\n', { T: 'not-a-duration' });
    expect(error.message).toContain('bad duration');
    const secretError = await failure('version: 1\nservers: { docs: { command: node, env: { X: "${env:S}" }, startTimeout: "${env:S}" } }\n', { S: 'hunter2-hunter2' });
    expect(secretError.message).not.toContain('hunter2');
    expect(secretError.message).toContain('[REDACTED]');
  });
});
