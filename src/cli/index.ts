/**
 * `portcullis <command>`: dispatches to one file per command. Each command returns its exit
 * code: 0 ok, 1 validation/usage error or denied call, 2 cannot run, 3 diff found changes.
 */
import { serveCommand } from './serve.js';

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, { run: () => Promise<Command>; summary: string }> = {
  serve: { run: async () => serveCommand, summary: 'run the gateway (HTTP, or --stdio for one client on stdin/stdout)' },
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
