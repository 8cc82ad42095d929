// `npm run bench -- config [--sensors 50000]`: how long `edgeloop check` takes on a large config, phase by phase, in
// CPU time (the machine is shared: wall time would measure the neighbours). The validating walk is set beside
// TypeBox's compiled checker on the same schema and value (the raw library: a yes/no with no messages, no defaults),
// and YAML parsing beside JSON.parse of the same data.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { configSchema, loadConfig } from '../src/app/config.ts';
import { parseYamlText } from '../src/config/load.ts';
import { validate } from '../src/config/validate.ts';
import type { BenchArgs } from './run.ts';
import { numberArg } from './stats.ts';

function cpuMs<T>(fn: () => T): { ms: number; value: T } {
  const c0 = process.cpuUsage();
  const value = fn();
  const c = process.cpuUsage(c0);
  return { ms: Math.round((c.user + c.system) / 100) / 10, value };
}

/** The best of `runs` (the least disturbed by the neighbours), after one warm-up. */
function best(runs: number, fn: () => unknown): number {
  fn();
  return Math.min(...Array.from({ length: runs }, () => cpuMs(fn).ms));
}

export default async function configBench(args: BenchArgs) {
  const n = numberArg(args, 'sensors', 50_000);
  const lines = ['device: { id: bench }', 'sensors:'];
  for (let i = 0; i < n; i++) {
    lines.push(
      i % 2 === 0
        ? `  - { id: s${i}, driver: simulated, signal: noise, seed: ${i}, interval_ms: 1000, aggregate: { window_ms: 60000 } }`
        : `  - { id: s${i}, driver: linux-thermal, zone: ${i % 8}, interval_ms: 1000, deadband: 0.5 }`,
    );
  }
  const text = lines.join('\n');
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-bench-config-'));
  const file = join(dir, 'edgeloop.yaml');
  writeFileSync(file, text);
  try {
    const raw = parseYamlText(text, file);
    const json = JSON.stringify(raw);
    const schema = configSchema();
    const compiled = TypeCompiler.Compile(schema);
    const checked = validate(schema, raw);
    if (checked.issues.length > 0 || !compiled.Check(checked.value)) throw new Error('the bench config is not valid');
    const c0 = process.cpuUsage();
    await loadConfig(file, {});
    const c = process.cpuUsage(c0);
    return {
      sensors: n,
      file_mib: Math.round((text.length / 2 ** 20) * 10) / 10,
      check_cpu_ms: Math.round((c.user + c.system) / 1000),
      yaml_parse_cpu_ms: best(3, () => parseYamlText(text, file)),
      json_parse_cpu_ms: best(3, () => JSON.parse(json)),
      walk_cpu_ms: best(3, () => validate(schema, raw)),
      typebox_compiled_check_cpu_ms: best(3, () => compiled.Check(checked.value)),
      walk_visits: checked.visits,
      visits_per_sensor: Math.round((checked.visits / n) * 10) / 10,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
