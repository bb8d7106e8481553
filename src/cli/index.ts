/**
 * `portcullis <command>`: dispatches to one file per command. Each command returns its exit
 * code: 0 ok, 1 validation/usage error or denied call, 2 cannot run, 3 diff found changes.
 */

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, { run: () => Promise<Command>; summary: string }> = {
  serve: { run: async () => (await import('./serve.js')).serveCommand, summary: 'run the gateway (HTTP, or --stdio for one client on stdin/stdout)' },
  check: { run: async () => (await import('./check.js')).checkCommand, summary: 'validate and lint the config (--live: against the real upstream tools)' },
  explain: { run: async () => (await import('./explain.js')).explainCommand, summary: 'what each agent may do: decision, rule, conditions per tool' },
  diff: { run: async () => (await import('./diff.js')).diffCommand, summary: 'capability diff between two policies (exit 3 when they differ)' },
  call: { run: async () => (await import('./call.js')).callCommand, summary: 'decide a call (--dry-run) or send it through a running gateway' },
  lockdown: { run: async () => (await import('./lockdown.js')).lockdownCommand, summary: 'kill switch: lock an agent (or all) down, or lift it' },
  approvals: { run: async () => (await import('./approvals.js')).approvalsCommand, summary: 'answer approval requests (list, show, approve, deny, watch)' },
  audit: { run: async () => (await import('./audit.js')).auditCommand, summary: 'query the audit log' },
  undo: { run: async () => (await import('./undo.js')).undoCommand, summary: 'run the compensating action declared for a call' },
  pins: { run: async () => (await import('./pins.js')).pinsCommand, summary: 'tool-definition pins: list, approve a changed definition, reset' },
  token: { run: async () => (await import('./token.js')).tokenCommand, summary: 'mint a signed JWT with the configured key (development, scripts)' },
};

export function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `usage: portcullis <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun 'portcullis <command> --help' for a command's options.\n`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 1;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`portcullis: unknown command '${name}'\n\n${usage()}`);
    return 1;
  }
  return (await command.run())(rest);
}
