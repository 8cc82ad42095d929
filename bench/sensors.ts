// `npm run bench -- sensors [--channels 16] [--hz 20] [--duration-s 60]`: N channels sampled at H Hz, published with
// QoS 1 to a local Mosquitto. Phase 1 is raw MQTT.js (a timer per channel, publish, PUBACK; nothing durable);
// then the edgeloop gateway (sampler → queue → SQLite outbox → MQTT) with durability `batch` and `os`. Same broker,
// same load, one run; each phase in a fresh process so its CPU and RSS are its own: sample→PUBACK latency, CPU % of
// one core, RSS at start and end, samples lost.
import mqtt from 'mqtt';
import { Gateway } from '../src/app/gateway.ts';
import { resolveConfig } from '../src/app/config.ts';
import { nowMs } from '../src/pipeline/clock.ts';
import { createLogger } from '../src/telemetry/logger.ts';
import { startMosquitto } from '../test/support/mosquitto.ts';
import { freePort } from '../test/support/ports.ts';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchArgs } from './run.ts';
import { cpuMeter, diskWriteMeter, latencySummary, mib, numberArg, sleep } from './stats.ts';

async function rawPhase(url: string, channels: number, hz: number, durationMs: number) {
  const client = await mqtt.connectAsync(url, { protocolVersion: 5, clientId: 'bench-raw' });
  (client.stream as unknown as { setNoDelay(on: boolean): void }).setNoDelay(true);
  const latencies: number[] = [];
  let sent = 0;
  const rssStart = process.memoryUsage().rss;
  const cpu = cpuMeter();
  const timers = Array.from({ length: channels }, (_, i) =>
    setInterval(() => {
      const t0 = nowMs();
      sent++;
      const payload = JSON.stringify({ id: `${i}-${sent}`, sensor: `s${i}`, seq: sent, ts: new Date().toISOString(), value: Math.random() });
      client.publish(`bench/raw/s${i}`, payload, { qos: 1 }, (err) => {
        if (!err) latencies.push(nowMs() - t0);
      });
    }, 1000 / hz),
  );
  await sleep(durationMs);
  for (const t of timers) clearInterval(t);
  const cpuPct = cpu();
  const rssEnd = process.memoryUsage().rss;
  await client.endAsync();
  return {
    ...latencySummary(latencies), cpu_pct: cpuPct, sent, acked: latencies.length,
    rss_start_mib: mib(rssStart), rss_end_mib: mib(rssEnd), rss_growth_mib: mib(rssEnd - rssStart),
  };
}

async function edgeloopPhase(url: string, channels: number, hz: number, durationMs: number, durability: 'batch' | 'os') {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-bench-'));
  const config = resolveConfig({
    device: { id: 'bench' },
    data_dir: dir,
    api: { port: await freePort(), host: '127.0.0.1' },
    mqtt: { url },
    outbox: { durability },
    sensors: Array.from({ length: channels }, (_, i) => ({
      id: `s${i}`, driver: 'simulated', interval_ms: 1000 / hz, signal: 'noise', seed: i + 1,
    })),
  });
  const gw = new Gateway({ config, configSource: 'bench', log: createLogger('warn', { pretty: false }) });
  const latencies: number[] = [];
  const rssBefore = process.memoryUsage().rss;
  await gw.start();
  // Growth is measured from a warmed-up gateway: what a long run adds, not what loading the code costs.
  await sleep(Math.min(5000, durationMs / 10));
  const rssStart = process.memoryUsage().rss;
  const cpu = cpuMeter();
  const disk = diskWriteMeter();
  const count = () => gw.sensors().reduce((n, s) => ({ samples: n.samples + s.samples, drops: n.drops + s.drops }), { samples: 0, drops: 0 });
  const before = count();
  gw.routes[0]?.publisher.on('acked', (ms) => latencies.push(ms));
  await sleep(durationMs);
  const cpuPct = cpu();
  const diskPerS = disk();
  const rssEnd = process.memoryUsage().rss;
  const after = count();
  const samples = after.samples - before.samples;
  // Two turns later every sample counted above has passed its queue and been committed.
  for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve));
  const waiting = gw.outbox().rows;
  await gw.stop();
  rmSync(dir, { recursive: true, force: true });
  return {
    ...latencySummary(latencies),
    cpu_pct: cpuPct,
    samples,
    acked: latencies.length,
    // Taken in the window but neither acknowledged nor waiting: dropped by a queue or the outbox (also counted).
    samples_lost: Math.max(0, samples - latencies.length - waiting),
    // What the outbox writes to the disk (WAL, database, marks), for flash wear.
    disk_write_mib_per_s: diskPerS === null ? null : mib(diskPerS),
    disk_write_kib_per_record: diskPerS === null || samples === 0 ? null : Math.round((diskPerS * (durationMs / 1000)) / samples / 102.4) / 10,
    queue_drops: after.drops - before.drops,
    rss_before_start_mib: mib(rssBefore),
    rss_start_mib: mib(rssStart),
    rss_end_mib: mib(rssEnd),
    rss_growth_mib: mib(rssEnd - rssStart),
  };
}

type Phase = 'raw' | 'batch' | 'os';

/** Runs one phase in a fresh Node process (this file with `--phase`) and returns its figures. */
function runPhase(phase: Phase, url: string, channels: number, hz: number, durationMs: number): Promise<Record<string, number>> {
  // The gateway phases run with the flags `edgeloop` itself runs with (bin/edgeloop.js); the raw phase without.
  const flags = phase === 'raw' ? [] : ['--max-semi-space-size=2'];
  const args = [...flags, new URL(import.meta.url).pathname, phase, url, String(channels), String(hz), String(durationMs)];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`phase ${phase} exited ${code}`))));
  });
}

if (import.meta.main) {
  const [phase, url, channels, hz, durationMs] = process.argv.slice(2) as [Phase, string, string, string, string];
  const n = [Number(channels), Number(hz), Number(durationMs)] as const;
  const figures = phase === 'raw' ? await rawPhase(url, ...n) : await edgeloopPhase(url, ...n, phase);
  process.stdout.write(JSON.stringify(figures));
}

export default async function (args: BenchArgs): Promise<Record<string, unknown>> {
  const channels = numberArg(args, 'channels', 16);
  const hz = numberArg(args, 'hz', 20);
  const durationMs = numberArg(args, 'duration-s', 60) * 1000;
  const broker = await startMosquitto({ maxInflight: 0 });
  try {
    const raw = await runPhase('raw', broker.url, channels, hz, durationMs);
    const edgeloop = await runPhase('batch', broker.url, channels, hz, durationMs);
    const edgeloopOs = await runPhase('os', broker.url, channels, hz, durationMs);
    return {
      config: { channels, hz, duration_s: durationMs / 1000, qos: 1, broker: 'mosquitto (set_tcp_nodelay)' },
      raw_mqttjs: raw,
      edgeloop_durability_batch: edgeloop,
      edgeloop_durability_os: edgeloopOs,
      ratio_p99_batch_over_raw: Math.round(((edgeloop.p99_ms as number) / (raw.p99_ms as number)) * 100) / 100,
      targets: { p99_ms: 2, cpu_pct: 5, rss_growth_mib: 15 },
      reference_go_paho: { mean_ms: 3.7, cpu_pct: 21, rss_growth_mib: 8.2 },
    };
  } finally {
    await broker.stop();
  }
}
