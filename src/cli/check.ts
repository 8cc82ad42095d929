// `edgeloop check -c FILE`: validates without starting anything; every error is printed with its key path.
import { loadConfig } from '../config/load.ts';
import { isEdgeloopError } from '../errors.ts';
import type { ConfigIssue } from '../config/validate.ts';
import { commonArgs } from './args.ts';

export async function checkCommand(argv: string[]): Promise<number> {
  const args = commonArgs(argv);
  const file = args.config ?? process.env.EDGELOOP_CONFIG;
  try {
    const { config, source } = await loadConfig(file);
    console.log(`${source}: ok (device ${config.device.id}, ${config.sensors.length} sensors)`);
    return 0;
  } catch (err) {
    if (isEdgeloopError(err, 'CONFIG_INVALID')) {
      console.error(`${file ?? 'demo defaults'}: ${err.code}`);
      for (const i of err.details as ConfigIssue[]) console.error(`  ${i.path ? `${i.path}: ` : ''}${i.message}`);
      return 1;
    }
    throw err;
  }
}
