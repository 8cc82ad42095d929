// Shared setup for tests that run the gateway as a child through the CLI, the way it runs in production (integration
// and CLI tests); test/integration/gateway-fixture.ts runs one in-process. Callers remove what is made here.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { spawnNode, type NodeChild, type SpawnNodeOptions } from '../support/child.ts';
import { removeOnExit } from '../support/cleanup.ts';
import { freePort } from '../support/ports.ts';

export const CLI = 'src/cli/main.ts';

/** A temp dir, removed by the returned `remove` (and on exit if a test dies before that). */
async function tempDir(): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'edgeloop-test-'));
  const forget = removeOnExit(path);
  return {
    path,
    remove: async () => {
      await rm(path, { recursive: true, force: true });
      forget();
    },
  };
}

/** `overrides` over `base`, one level deep: `{api: {token}}` keeps the other `api` defaults. */
function merge(base: Record<string, unknown>, overrides: Record<string, unknown>): Record<string, unknown> {
  const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const out = { ...base };
  for (const [k, v] of Object.entries(overrides)) {
    const b = out[k];
    out[k] = isMap(b) && isMap(v) ? { ...b, ...v } : v;
  }
  return out;
}

/** Settings every test gateway needs: loopback only, an API on any free port, nothing left on disk. */
function testDefaults(dataDir: string, brokerPort: number): Record<string, unknown> {
  return {
    device: { id: 'test-dev' },
    data_dir: dataDir,
    log_level: 'info',
    broker: { host: '127.0.0.1', port: brokerPort },
    api: { host: '127.0.0.1', port: 0 },
    shutdown_timeout_ms: 5000,
  };
}

export interface ChildGateway {
  child: NodeChild;
  /** Directory holding the config file and the data dir. */
  dir: string;
  configFile: string;
  brokerPort: number;
  /** Kills the child if still running, then removes the dir. */
  cleanup(): Promise<void>;
}

/** Writes `config` (over the test defaults) as YAML into a temp dir, without starting anything. */
export async function writeGatewayConfig(config: Record<string, unknown>): Promise<{ dir: string; configFile: string; brokerPort: number; remove: () => Promise<void> }> {
  const dir = await tempDir();
  const brokerPort = await freePort();
  const configFile = join(dir.path, 'edgeloop.yaml');
  await writeFile(configFile, yaml.dump(merge(testDefaults(join(dir.path, 'data'), brokerPort), config)));
  return { dir: dir.path, configFile, brokerPort, remove: dir.remove };
}

/** `edgeloop run -c <file>` as a child process, pino JSON on stdout. */
export async function spawnGateway(
  config: Record<string, unknown>,
  opts: SpawnNodeOptions & { args?: string[] } = {},
): Promise<ChildGateway> {
  const written = await writeGatewayConfig(config);
  const child = spawnNode([CLI, 'run', '-c', written.configFile, ...(opts.args ?? [])], opts);
  return {
    child,
    dir: written.dir,
    configFile: written.configFile,
    brokerPort: written.brokerPort,
    cleanup: async () => {
      child.kill('SIGKILL');
      await child.exited.catch(() => undefined);
      await written.remove();
    },
  };
}

/** Waits for the pino line `msg` (from line `fromLine` on). */
export function waitForMsg(child: NodeChild, msg: string, timeoutMs: number, fromLine = 0): Promise<Record<string, unknown>> {
  return child.waitForLog((e) => e.msg === msg, timeoutMs, fromLine);
}
