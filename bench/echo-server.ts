/**
 * The benchmark's upstream: a minimal stdio MCP server with two tools whose own cost is close to
 * nothing, so that what the benchmark measures is the transport and whatever sits in between.
 *   echo {text}  → the text back
 *   blob {bytes} → a text block of exactly that many ASCII characters (cached per size)
 * Run: node --import tsx bench/echo-server.ts
 */
import { McpServer } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import * as z from 'zod';

const MAX_BLOB = 16 * 1_048_576;
const blobs = new Map<number, string>();

function blobOf(bytes: number): string {
  let text = blobs.get(bytes);
  if (text === undefined) {
    const line = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0\n';
    text = line.repeat(Math.ceil(bytes / line.length)).slice(0, bytes);
    blobs.set(bytes, text);
  }
  return text;
}

serveStdio(() => {
  const server = new McpServer({ name: 'bench-echo', version: '1.0.0' }, { capabilities: { tools: {} } });
  server.registerTool('echo', { description: 'Echoes its text', inputSchema: z.object({ text: z.string() }) }, async ({ text }) => ({
    content: [{ type: 'text', text }],
  }));
  server.registerTool('blob', { description: 'Returns a text block of the given size in bytes', inputSchema: z.object({ bytes: z.number().int().min(0).max(MAX_BLOB) }) }, async ({ bytes }) => ({
    content: [{ type: 'text', text: blobOf(bytes) }],
  }));
  return server;
});
