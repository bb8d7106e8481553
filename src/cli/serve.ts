/** `portcullis serve [-c FILE] [--stdio] [--listen HOST:PORT] [--agent NAME]` */
import { parseArgs } from 'node:util';
import { startGateway } from '../main.js';
import { ConfigError } from '../config/index.js';

const HELP = `usage: portcullis serve [-c FILE] [--stdio] [--listen HOST:PORT] [--agent NAME]

  -c, --config FILE    config file (default: portcullis.yaml)
  --stdio              serve one client on stdin/stdout; HTTP only with --listen or gateway.listen
  --listen HOST:PORT   HTTP address (default: gateway.listen, or 127.0.0.1:8787)
  --agent NAME         agent profile of the stdio client (default: default)
`;

export async function serveCommand(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c', default: 'portcullis.yaml' },
        stdio: { type: 'boolean', default: false },
        listen: { type: 'string' },
        agent: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(`portcullis serve: ${(error as Error).message}\n\n${HELP}`);
    return 1;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  let gateway;
  try {
    gateway = await startGateway({
      configFile: values.config,
      stdio: values.stdio,
      ...(values.listen ? { listen: values.listen } : {}),
      ...(values.agent ? { agent: values.agent } : {}),
    });
  } catch (error) {
    const message = error instanceof ConfigError ? error.message : `cannot start: ${(error as Error).message}`;
    process.stderr.write(`portcullis serve: ${message}\n`);
    return 2;
  }
  // The gateway never dies of one bad request: a stray rejection is logged, not fatal.
  process.on('unhandledRejection', (reason) => gateway.log.error({ err: reason instanceof Error ? reason.stack : String(reason) }, 'unhandled rejection'));
  if (gateway.url && !values.stdio) {
    process.stderr.write(`portcullis: MCP endpoint ${gateway.url}/mcp\n`);
  }
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    // In stdio mode the client going away ends the gateway, even if it went while the gateway was starting.
    void gateway.clientGone?.then(stop);
  });
  await gateway.close();
  return 0;
}
