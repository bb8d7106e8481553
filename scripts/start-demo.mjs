#!/usr/bin/env node
// `npm start`: the gateway on the bundled demo (config/demo.yaml), with a short tour.
import { main } from '../dist/cli/index.js';

process.stderr.write(`
Portcullis demo — two local demo servers (notes, web) behind the policy in config/demo.yaml.

  MCP endpoint   http://127.0.0.1:8787/mcp   (Streamable HTTP, both protocol eras)
  Approvals      http://127.0.0.1:8787/approvals
  Health         http://127.0.0.1:8787/readyz

Things to try from any MCP client (e.g. npx @modelcontextprotocol/inspector):
  - list tools: only what the policy grants is listed (no delete, no web__search)
  - notes__read_note {"path":"/marketing/launch-plan"}  → allowed
  - notes__read_note {"path":"/finance/q3-budget"}      → denied, with the rule that denied it
  - notes__delete_note {"path":"/marketing/launch-plan"} → "Deleting is never done by agents."
  - web__fetch {"url":"https://blog.example.org/launch"} → a page carrying a hidden prompt injection
  - then notes__write_note under /marketing/drafts      → needs a human once the session saw web content

Audit log: ./.portcullis/demo-audit.jsonl   Stop with Ctrl-C.

`);
process.exitCode = await main(['serve', '-c', 'config/demo.yaml', ...process.argv.slice(2)]);
