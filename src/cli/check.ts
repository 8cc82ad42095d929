// `edgeloop check -c FILE [--test]`: validates without starting anything; every error is printed with its key path.
// With --test it also reads every sensor once and connects to every upstream once, and exits 1 if anything fails.
import { loadConfig } from '../app/config.ts';
import { selfTest } from '../app/self-test.ts';
import type { ConfigIssue } from '../config/validate.ts';
import { isEdgeloopError } from '../errors.ts';
import { createLogger } from '../telemetry/logger.ts';
import { commonArgs } from './args.ts';

export async function checkCommand(argv: string[]): Promise<number> {
  const args = commonArgs(argv, { test: { type: 'boolean' } });
  const file = args.config ?? process.env.EDGELOOP_CONFIG;
  let loaded;
  try {
    loaded = await loadConfig(file);
  } catch (err) {
    if (isEdgeloopError(err, 'CONFIG_INVALID')) {
      console.error(`${file ?? 'demo defaults'}: ${err.code}`);
      for (const i of err.details as ConfigIssue[]) console.error(`  ${i.path ? `${i.path}: ` : ''}${i.message}`);
      return 1;
    }
    throw err;
  }
  const { config, source, plugins } = loaded;
  console.log(`${source}: ok (device ${config.device.id}, ${config.sensors.length} sensors)`);
  for (const p of plugins.loaded) console.log(`  plugin ${p.file}: ok (${[...p.drivers.map((d) => `driver ${d}`), ...p.adapters.map((a) => `adapter ${a}`)].join(', ')})`);
  for (const f of plugins.failed) console.error(`  plugin ${f.file}: ${f.error.describe()}`);
  if (plugins.failed.length > 0) return 1;
  if (!args.test) return 0;
  console.log('testing: each sensor read once, each upstream connected once');
  const results = await selfTest(config, createLogger('silent', { pretty: false }));
  const width = Math.max(...results.map((r) => r.outcome.length), 2);
  for (const r of results) console.log(`  ${r.outcome.padEnd(width)}  ${r.subject}: ${r.detail}`);
  const failed = results.filter((r) => r.outcome === 'failed').length;
  console.log(failed === 0 ? `all ${results.length} passed` : `${failed} of ${results.length} failed`);
  return failed === 0 ? 0 : 1;
}
