// `npm run bench -- <name> [--key value …]`: runs bench/<name>.ts and prints one JSON object: its figures plus the
// machine they were measured on (this machine is shared, so benches compare ours and the raw peer in one run).
import os from 'node:os';
import { parseArgs } from 'node:util';

export type BenchArgs = Record<string, string | boolean | undefined>;
export type Bench = (args: BenchArgs) => Promise<Record<string, unknown>>;

const { positionals, values } = parseArgs({ allowPositionals: true, strict: false });
const name = positionals[0];
if (!name || !/^[a-z][a-z0-9-]*$/.test(name)) {
  console.error('usage: npm run bench -- <name> [--option value …]   (name = a file in bench/, e.g. sensors)');
  process.exit(2);
}
const mod = (await import(`./${name}.ts`)) as { default: Bench };
const figures = await mod.default(values);
const cpus = os.cpus();
const machine = {
  node: process.version,
  arch: process.arch,
  cpus: cpus.length,
  cpu_model: cpus[0]?.model ?? 'unknown',
  mem_gib: Math.round(os.totalmem() / 2 ** 30),
  loadavg_1m: os.loadavg()[0],
  date: new Date().toISOString(),
};
console.log(JSON.stringify({ bench: name, ...figures, machine }, null, 2));
