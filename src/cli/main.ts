// `edgeloop <verb>`: parses arguments and calls the app. Exit codes: 0 ok, 1 failure, 2 usage.
import { VERSION } from '../app/version.ts';
import { EdgeloopError, isEdgeloopError, messageOf } from '../errors.ts';
import { redact } from '../lib/redact.ts';
import { checkCommand } from './check.ts';
import { inferCommand } from './infer.ts';
import { runCommand } from './run.ts';

const HELP = `edgeloop ${VERSION}: edge AI gateway

usage:
  edgeloop run   [-c edgeloop.yaml] [--log-level info]   run the gateway (no -c: the built-in demo)
  edgeloop check [-c edgeloop.yaml]                      validate a config; prints every error with its path
  edgeloop infer -m MODEL [--threads N] IMAGE...         run a model on PNG/JPEG files, one JSON line per image
  edgeloop --version | --help

environment: EDGELOOP_<KEY>__<SUBKEY>=value overrides a config key (EDGELOOP_MQTT__URL, EDGELOOP_API__PORT, …);
EDGELOOP_CONFIG names the config file when -c is not given.`;

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  run: runCommand,
  check: checkCommand,
  infer: inferCommand,
};

async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === '--version' || verb === '-v') {
    console.log(VERSION);
    return 0;
  }
  if (verb === undefined || verb === '--help' || verb === '-h' || verb === 'help') {
    console.log(HELP);
    return verb === undefined ? 2 : 0;
  }
  const command = COMMANDS[verb];
  if (!command) {
    console.error(new EdgeloopError('USAGE', `unknown command ${JSON.stringify(verb)}; commands: ${Object.keys(COMMANDS).join(', ')}`).describe());
    return 2;
  }
  try {
    return await command(rest);
  } catch (err) {
    if (isEdgeloopError(err)) {
      // A start-up failure may quote a URL or a header: nothing secret goes to the terminal either.
      console.error(redact(err.describe()));
      return isEdgeloopError(err, 'USAGE') ? 2 : 1;
    }
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(new EdgeloopError('USAGE', messageOf(err)).describe());
      return 2;
    }
    console.error(redact(err instanceof Error ? (err.stack ?? err.message) : String(err)));
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
