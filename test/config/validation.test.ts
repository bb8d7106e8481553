import { describe, expect, it } from 'vitest';
import { formatIssues } from '../../src/config/index.js';
import { CONFIG_FILE, failure, issues, parse, yaml } from './helpers.js';

describe('schema issues', () => {
  it('reports every unknown key with its YAML path and line, suggesting a close known key', async () => {
    const found = await issues(yaml`
      version: 1
      gatewy:
        listen: 127.0.0.1:8787
      agents:
        default:
          rules:
            - allow: "docs__*"
              readOnyl: true
              colour: blue
    `);
    expect(found).toEqual([
      { path: 'gatewy', message: "unknown key 'gatewy'", hint: "did you mean 'gateway'?", line: 2, column: 1 },
      { path: 'agents.default.rules[0].readOnyl', message: "unknown key 'readOnyl'", hint: "did you mean 'readOnly'?", line: 8, column: 9 },
      { path: 'agents.default.rules[0].colour', message: "unknown key 'colour'", line: 9, column: 9 },
    ]);
  });

  it('formats each issue as FILE:LINE:COL path: message (hint)', async () => {
    const error = await failure('version: 1\ntaint:\n  wrap: tags\n');
    expect(error.message).toBe(`${CONFIG_FILE}:3:9 taint.wrap: expected one of "none", "tag" (did you mean 'tag'?)`);
    expect(formatIssues('x.yaml', [{ path: '', message: 'the file is empty' }])).toBe('x.yaml: the file is empty');
  });

  it('reports a bad duration with the accepted forms', async () => {
    const found = await issues('version: 1\napprovals:\n  wait: 45 seconds\n');
    expect(found).toEqual([
      { path: 'approvals.wait', message: expect.stringMatching(/^bad duration "45 seconds": write a number with a unit/) as string, line: 3, column: 9 },
    ]);
  });

  it('reports a missing required key at its parent', async () => {
    const found = await issues('version: 1\nagents:\n  default:\n    limits:\n      - match: "docs__*"\n        per: 1h\n');
    expect(found).toEqual([{ path: 'agents.default.limits[0].max', message: "missing required key 'max'", line: 5, column: 9 }]);
  });

  it('names the missing version key instead of dumping a type error', async () => {
    expect(await issues('servers: {}\n')).toEqual([{ path: 'version', message: "missing required key 'version'", hint: 'expected 1, the only config version', line: 1, column: 1 }]);
  });

  it('reports a typo inside a rule under the rule it belongs to, not as a union dump', async () => {
    const found = await issues(yaml`
      version: 1
      agents:
        default:
          rules:
            - allow: docs__read_page
              where:
                path: { undr: /marketing }
    `);
    expect(found).toEqual([
      { path: 'agents.default.rules[0].where.path.undr', message: "unknown key 'undr'", hint: "did you mean 'under'?", line: 7, column: 19 },
    ]);
  });

  it('explains a rule with no effect key in one message, and suggests the misspelt one', async () => {
    const found = await issues('version: 1\nagents:\n  default:\n    rules:\n      - alow: docs__search\n');
    expect(found.map((i) => `${i.path}: ${i.message}${i.hint ? ` (${i.hint})` : ''}`)).toEqual([
      'agents.default.rules[0]: a rule needs exactly one of allow:, ask: or deny: with a name pattern',
      "agents.default.rules[0].alow: unknown key 'alow' (did you mean 'allow'?)",
    ]);
  });

  it('explains a rule with two effects in one message', async () => {
    const found = await issues('version: 1\nagents:\n  default:\n    rules:\n      - { allow: a, deny: b }\n');
    expect(found).toEqual([expect.objectContaining({ path: 'agents.default.rules[0]', message: 'a rule needs exactly one of allow:, ask: or deny: with a name pattern' })]);
  });

  it('names the accepted types when a condition value has the wrong type', async () => {
    const found = await issues('version: 1\nagents:\n  default:\n    rules:\n      - allow: x\n        where: { p: { equals: [1] } }\n');
    expect(found).toEqual([expect.objectContaining({ path: 'agents.default.rules[0].where.p.equals', message: 'expected string or number or boolean, got a list' })]);
  });

  it('picks the stdio or HTTP server form from the keys present', async () => {
    const found = await issues('version: 1\nservers:\n  docs: { command: node, tust: external }\n  web: { url: "not a url" }\n  odd: { cwd: /tmp }\n');
    expect(found.map((i) => `${i.path}: ${i.message}`)).toEqual([
      "servers.docs.tust: unknown key 'tust'",
      'servers.web.url: Invalid URL',
      'servers.odd: a server needs either command (stdio) or url (Streamable HTTP / SSE)',
    ]);
  });

  it('names the channel kinds when an approval channel is of no known kind', async () => {
    const found = await issues('version: 1\napprovals:\n  channels:\n    - email: { to: a@b.c }\n');
    expect(found.map((i) => `${i.path}: ${i.message}`)).toEqual([
      "approvals.channels[0]: needs exactly one of 'webhook', 'elicit'",
      "approvals.channels[0].email: unknown key 'email'",
    ]);
  });

  it('rejects an agent name with characters outside the name alphabet', async () => {
    const found = await issues('version: 1\nagents:\n  "release bot": {}\n');
    expect(found).toEqual([expect.objectContaining({ path: 'agents["release bot"]', message: expect.stringMatching(/^invalid name 'release bot'/) as string, line: 3, column: 3 })]);
  });

  it('reports YAML syntax errors with their position and stops there', async () => {
    const found = await issues('version: 1\nagents: [unclosed\n');
    expect(found[0]).toMatchObject({ message: expect.stringMatching(/^YAML syntax: /) as string, line: expect.any(Number) as number });
  });

  it('rejects a listen port above 65535', async () => {
    expect(await issues('version: 1\ngateway: { listen: "127.0.0.1:70000" }\n')).toEqual([expect.objectContaining({ path: 'gateway.listen', message: 'the port must be at most 65535' })]);
  });

  it('rejects an empty file with a hint', async () => {
    expect(await issues('')).toEqual([{ path: '', message: 'the file is empty', hint: 'a config starts with `version: 1`' }]);
  });

  it('rejects an alias that contains itself instead of recursing forever', async () => {
    const found = await issues('version: 1\nagents: &a { default: { rules: [*a] } }\n');
    expect(found[0]?.message).toMatch(/alias/);
  });
});

describe('cross-key checks', () => {
  it('rejects a duplicate agent name with the path and line of the second', async () => {
    const found = await issues(yaml`
      version: 1
      agents:
        default:
          owner: alice@example.com
        default:
          owner: bob@example.com
    `);
    expect(found).toEqual([expect.objectContaining({ path: 'agents.default', message: "duplicate agent name 'default'", line: 5, column: 3 })]);
  });

  it('rejects two servers with the same effective prefix, naming both', async () => {
    const found = await issues(yaml`
      version: 1
      servers:
        docs: { command: node }
        wiki: { url: "http://127.0.0.1:9000/mcp", prefix: docs }
    `);
    expect(found).toEqual([
      expect.objectContaining({ path: 'servers.wiki.prefix', message: 'servers docs and wiki both expose tools as docs__<tool>', line: 4 }),
    ]);
  });

  it('accepts servers whose prefixes differ even when one prefix equals another server key', async () => {
    await expect(parse('version: 1\nservers:\n  docs: { command: node, prefix: d }\n  d2: { command: node, prefix: docs }\n')).resolves.toBeDefined();
  });

  it.each([
    ['0.0.0.0:8787', false],
    ['192.168.1.10:8787', false],
    ['[::]:8787', false],
    ['example.com:8787', false],
    ['127.0.0.1:8787', true],
    ['127.8.9.10:8787', true],
    ['[::1]:8787', true],
    ['localhost:8787', true],
    ['8787', true],
  ])('with auth none, listen %s is accepted: %s', async (listen, accepted) => {
    const text = `version: 1\ngateway:\n  listen: "${listen}"\n`;
    if (accepted) {
      await expect(parse(text)).resolves.toBeDefined();
    } else {
      expect(await issues(text)).toEqual([expect.objectContaining({ path: 'gateway.listen', line: 3, hint: 'listen on 127.0.0.1, or set gateway.auth.mode: jwt' })]);
    }
  });

  it('accepts a non-loopback listen address when auth is jwt', async () => {
    await expect(parse('version: 1\ngateway:\n  listen: 0.0.0.0:8787\n  auth: { mode: jwt, jwt: { jwks: "https://idp.example.com/jwks.json" } }\n')).resolves.toBeDefined();
  });

  it('rejects ${claims.X} in a where value when auth is none, and accepts ${agent.X}', async () => {
    const found = await issues(yaml`
      version: 1
      agents:
        default:
          rules:
            - allow: slack__reply
              where:
                channel_id: { equals: "\${claims.channel}" }
                owner: { equals: "\${agent.owner}" }
    `);
    expect(found).toEqual([
      expect.objectContaining({
        path: 'agents.default.rules[0].where.channel_id.equals',
        message: '${claims.channel} refers to JWT claims, but gateway.auth.mode is none',
        line: 7,
      }),
    ]);
  });

  it('reports all issues at once, in file order, across YAML, references, schema and cross-key checks', async () => {
    const error = await failure(yaml`
      version: 1
      gateway:
        listen: 0.0.0.0:8787
        limits: { callTimeout: soon }
      servers:
        docs: { command: node, env: { TOKEN: "\${env:DOCS_TOKEN}" } }
        wiki: { command: node, prefix: docs, trust: externl }
      agents:
        default:
          rules:
            - allow: x
              where: { ch: { equals: "\${claims.channel}" } }
        default: {}
    `);
    expect(error.issues.map((i) => `${i.line} ${i.path}`)).toEqual([
      '3 gateway.listen',
      '4 gateway.limits.callTimeout',
      '6 servers.docs.env.TOKEN',
      '7 servers.wiki.prefix',
      '7 servers.wiki.trust',
      '13 agents.default',
    ]);
    expect(error.message.split('\n')).toHaveLength(6);
  });
});
