/**
 * Demo upstream: a stdio MCP "web" server that serves canned pages instead of the internet,
 * one of them carrying a prompt injection. Run: `node dist/demo/web-server.js`.
 */
import { McpServer } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import * as z from 'zod';
import { findPage, searchPages } from './web-pages.js';

// What a real fetcher would claim; the demo config marks this server's annotations as ignored.
const READ_ONLY_OPEN_WORLD = { readOnlyHint: true, openWorldHint: true } as const;

function createWebServer(): McpServer {
  const server = new McpServer(
    { name: 'portcullis-demo-web', title: 'Demo web', version: '0.1.0' },
    { instructions: 'Fetches web pages. This demo serves a few canned pages and never touches the network.' },
  );

  server.registerTool(
    'fetch',
    {
      title: 'Fetch a web page',
      description: 'Fetch a web page and return its text.',
      inputSchema: z.object({ url: z.string().max(2048).describe('Absolute http(s) URL, e.g. https://example.com/') }),
      annotations: READ_ONLY_OPEN_WORLD,
    },
    async ({ url }) => {
      const page = findPage(url);
      if (!page) return { content: [{ type: 'text', text: `404 not in the demo web: ${url}` }], isError: true };
      return { content: [{ type: 'text', text: `# ${page.title}\n${page.url}\n\n${page.body}` }] };
    },
  );

  server.registerTool(
    'search',
    {
      title: 'Search the web',
      description: 'Search the web; returns matching URLs with their titles.',
      inputSchema: z.object({ query: z.string().min(1).max(200).describe('Words to look for') }),
      annotations: READ_ONLY_OPEN_WORLD,
    },
    async ({ query }) => {
      const hits = searchPages(query);
      const text = hits.length ? hits.map((p) => `${p.url} - ${p.title}`).join('\n') : `No results for "${query}".`;
      return { content: [{ type: 'text', text }] };
    },
  );

  return server;
}

const handle = serveStdio(createWebServer);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void handle.close().finally(() => process.exit()));
