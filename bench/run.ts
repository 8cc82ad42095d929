// `npm run bench -- <name> [--key value …]`: runs bench/<name>.ts and prints one JSON object: its figures plus the
// machine they were measured on (this machine is shared, so benches compare ours and the raw peer in one run).
import os from 'node:os';

export type BenchArgs = Record<string, string | boolean | undefined>;
export type Bench = (args: BenchArgs) => Promise<Record<string, unknown>>;

/** `--key value`, `--key=value` and bare `--flag` (true); the first plain word is the bench name. */
function parseArgs(argv: string[]): { name: string | undefined; values: BenchArgs } {
  const values: BenchArgs = {};
  let name: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (!a.startsWith('--')) {
      name ??= a;
      continue;
    }
    const eq = a.indexOf('=');
    if (eq > 0) values[a.slice(2, eq)] = a.slice(eq + 1);
    else if (i + 1 < argv.length && !(argv[i + 1] as string).startsWith('--')) values[a.slice(2)] = argv[++i];
    else values[a.slice(2)] = true;
  }
  return { name, values };
}

const { name, values } = parseArgs(process.argv.slice(2));
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
