/**
 * The trace-replay upstream: a stdio MCP server that plays back recorded AgentDojo tool outputs.
 *
 *   node --import tsx bench/traces/replay-server.ts --manifest FILE
 *
 * The manifest (written by bench/traces/run.ts) lists the suite's tools, with every argument name
 * any trace passed to them, and each trace's recorded outputs in call order. A call says which
 * recorded output it stands for in `_meta["portcullis-bench/replay"] = { trace, index }`; the
 * gateway forwards `_meta` untouched, and nothing in it reaches the gateway's decisions.
 *
 * Tool definitions are what a well-behaved server would declare: input schema `type: object` with
 * the argument names seen (any value), `readOnlyHint` for tools whose name starts with a read verb
 * and that take no `url` (fetching an address is an outbound request, AgentDojo records it as a
 * side effect), `openWorldHint` for tools that take a `url`, `destructiveHint` for delete/remove.
 *

 * the runner calls it after the gateway asked for approval, to continue the replay as if a human
 * had approved the call (see run.ts).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { McpServer, fromJsonSchema, type CallToolResult } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { REPLAY_META_KEY, annotationsFor, type ReplayManifest } from './traces.js';

const { values } = parseArgs({ options: { manifest: { type: 'string' } }, strict: true });
if (!values.manifest) {
  process.stderr.write('usage: replay-server.ts --manifest FILE\n');
  process.exit(2);
}
const manifest = JSON.parse(readFileSync(values.manifest, 'utf8')) as ReplayManifest;

function recorded(meta: Record<string, unknown> | undefined, tool: string): CallToolResult {
  const ref = meta?.[REPLAY_META_KEY] as { trace?: unknown; index?: unknown } | undefined;
  const outputs = typeof ref?.trace === 'string' ? manifest.outputs[ref.trace] : undefined;
  const index = typeof ref?.index === 'number' ? ref.index : -1;
  if (!outputs || index < 0 || index >= outputs.length) {
    return { isError: true, content: [{ type: 'text', text: `replay: no recorded output for ${tool} ${JSON.stringify(ref ?? null)}` }] };
  }
  return { content: [{ type: 'text', text: outputs[index]! }] };
}

function build(): McpServer {
  const server = new McpServer({ name: `replay-${manifest.suite}`, version: '1.0.0' }, { capabilities: { tools: {} } });
  for (const tool of manifest.tools) {
    const properties = Object.fromEntries(tool.args.map((name) => [name, {}]));
    server.registerTool(
      tool.name,
      {
        description: `AgentDojo ${manifest.suite} tool ${tool.name} (recorded outputs)`,
        inputSchema: fromJsonSchema<Record<string, unknown>>({ type: 'object', properties, additionalProperties: true }),
        annotations: annotationsFor(tool.name, tool.args),
      },
      async (_args, ctx) => recorded(ctx.mcpReq._meta as Record<string, unknown> | undefined, tool.name),
    );
  }
  return server;
}

serveStdio(() => build(), { onerror: (error) => process.stderr.write(`[replay-server] ${String(error)}\n`) });
