// The `edgeloop` command as a user runs it: exit codes, what it prints, and a clean stop on a signal.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { CLI, spawnGateway, waitForMsg, writeGatewayConfig } from '../app/gateway-child.ts';
import { simulatedSensors } from '../integration/gateway-fixture.ts';
import { spawnNode } from '../support/child.ts';

const SHUTDOWN_TIMEOUT_MS = 5000;

/** Runs the CLI to completion; `lines` is stdout and stderr interleaved. */
async function edgeloop(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; lines: readonly string[] }> {
  const child = spawnNode([CLI, ...args], { env });
  const { code } = await child.exited;
  return { code, lines: child.lines() };
}

let good: Awaited<ReturnType<typeof writeGatewayConfig>>;
let bad: Awaited<ReturnType<typeof writeGatewayConfig>>;
before(async () => {
  good = await writeGatewayConfig({ sensors: simulatedSensors(2, 50) });
  bad = await writeGatewayConfig({ sensors: [{ id: 'a', driver: 'simulated', interval_ms: 0 }], api: { port: 70000 } });
});
after(async () => {
  await good?.remove();
  await bad?.remove();
});

const CONFIG_LINES = ['  api.port: must be <= 65535', '  sensors[0].interval_ms: must be >= 1'];

describe('edgeloop CLI', () => {
  test('--version prints the package version', async () => {
    const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { version: string };
    const { code, lines } = await edgeloop(['--version']);
    assert.equal(code, 0);
    assert.deepEqual(lines.filter(Boolean), [pkg.version]);
  });

  test('check: a good file exits 0 and says what it found', async () => {
    const { code, lines } = await edgeloop(['check', '-c', good.configFile]);
    assert.equal(code, 0, lines.join('\n'));
    assert.deepEqual(lines.filter(Boolean), [`${good.configFile}: ok (device test-dev, 2 sensors)`]);
  });

  test('check: a bad file exits 1 with every error named by its path', async () => {
    const { code, lines } = await edgeloop(['check', '-c', bad.configFile]);
    assert.equal(code, 1);
    assert.deepEqual(lines.filter(Boolean), [`${bad.configFile}: EDGELOOP_ERR_CONFIG_INVALID`, ...CONFIG_LINES]);
  });

  test('check: an environment override is validated like the file, its problem named by the variable', async () => {
    const { code, lines } = await edgeloop(['check', '-c', good.configFile], { EDGELOOP_SENSORS__1__INTERVAL_MS: '0' });
    assert.equal(code, 1);
    assert.ok(lines.includes('  EDGELOOP_SENSORS__1__INTERVAL_MS: must be >= 1'), lines.join('\n'));
  });

  test('check: a missing file exits 1 with EDGELOOP_ERR_CONFIG_READ', async () => {
    const { code, lines } = await edgeloop(['check', '-c', `${good.dir}/missing.yaml`]);
    assert.equal(code, 1);
    assert.match(lines.join('\n'), /EDGELOOP_ERR_CONFIG_READ: cannot read config file .*missing\.yaml/);
  });

  test('run refuses a bad config the same way, exit 1, without starting', async () => {
    const { code, lines } = await edgeloop(['run', '-c', bad.configFile]);
    assert.equal(code, 1);
    assert.deepEqual(lines.filter(Boolean), [`${bad.configFile}: EDGELOOP_ERR_CONFIG_INVALID`, ...CONFIG_LINES]);
  });

  test('an unknown verb exits 2 with EDGELOOP_ERR_USAGE', async () => {
    const { code, lines } = await edgeloop(['frobnicate']);
    assert.equal(code, 2);
    assert.match(lines.join('\n'), /^EDGELOOP_ERR_USAGE: unknown command "frobnicate"; commands: run, check/m);
  });

  test('an unknown flag exits 2 with EDGELOOP_ERR_USAGE', async () => {
    const { code, lines } = await edgeloop(['check', '--colour', 'red']);
    assert.equal(code, 2);
    assert.match(lines.join('\n'), /^EDGELOOP_ERR_USAGE: /m);
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`${signal} stops a running gateway cleanly: exit 0 and "gateway stopped" within the shutdown timeout`, async (t) => {
      const gw = await spawnGateway({ sensors: simulatedSensors(4, 20), shutdown_timeout_ms: SHUTDOWN_TIMEOUT_MS });
      t.after(() => gw.cleanup());
      await waitForMsg(gw.child, 'gateway started', 20_000);
      const mark = gw.child.mark();
      const sent = Date.now();
      gw.child.kill(signal);
      const status = await gw.child.exited;
      const took = Date.now() - sent;
      assert.deepEqual(status, { code: 0, signal: null });
      assert.ok(took < SHUTDOWN_TIMEOUT_MS, `took ${took} ms`);
      const stopping = await waitForMsg(gw.child, 'stopping', 1, mark);
      assert.equal(stopping.signal, signal);
      await waitForMsg(gw.child, 'gateway stopped', 1, mark);
      assert.ok(!gw.child.lines().slice(mark).some((l) => l.includes('shutdown step failed')), gw.child.lines().slice(mark).join('\n'));
    });
  }
});
