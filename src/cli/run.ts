// `edgeloop run`: loads the config, starts the gateway, and stops it cleanly on SIGINT/SIGTERM.
import { once } from 'node:events';
import { Gateway } from '../app/gateway.ts';
import { loadConfig } from '../app/config.ts';
import { EdgeloopError } from '../errors.ts';
import { secretsOf } from '../lib/redact.ts';
import { createLogger } from '../telemetry/logger.ts';
import { checkCommand } from './check.ts';
import { commonArgs } from './args.ts';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
type Level = (typeof LEVELS)[number];

export async function runCommand(argv: string[]): Promise<number> {
  const args = commonArgs(argv);
  const file = args.config ?? process.env.EDGELOOP_CONFIG;
  const level = args['log-level'];
  if (level !== undefined && !LEVELS.includes(level as Level)) {
    throw new EdgeloopError('USAGE', `--log-level must be one of ${LEVELS.join(', ')}`);
  }
  let loaded;
  try {
    loaded = await loadConfig(file);
  } catch {
    // Same report as `edgeloop check`, then refuse to run.
    return checkCommand(argv);
  }
  const log = createLogger(((level as Level | undefined) ?? loaded.config.log_level) as Level, { secrets: secretsOf(loaded.config) });
  for (const p of loaded.plugins.loaded) log.info({ plugin: p.file, drivers: p.drivers, adapters: p.adapters }, 'plugin loaded');
  // A broken plugin is told, and the gateway runs without it.
  for (const f of loaded.plugins.failed) log.error({ plugin: f.file, code: f.error.code }, f.error.describe());
  const gateway = new Gateway({ config: loaded.config, configSource: loaded.source, log });
  try {
    await gateway.start();
  } catch (err) {
    log.flush();
    throw err;
  }
  const signal = await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
  log.info({ signal: signal[0] }, 'stopping');
  // A second signal while stopping means "now".
  const force = () => process.exit(130);
  process.once('SIGINT', force);
  process.once('SIGTERM', force);
  await gateway.stop();
  return 0;
}
