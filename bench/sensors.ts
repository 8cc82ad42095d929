// `npm run bench -- sensors [--channels 16] [--hz 20] [--duration-s 60]`: N channels sampled at H Hz, published with
// QoS 1 to a local Mosquitto. Phase 1 is raw MQTT.js (a timer per channel, publish, PUBACK; nothing durable);
// phase 2 is the edgeloop gateway in this process (sampler → queue → SQLite outbox → MQTT). Same broker, same
// load, one run: sample→PUBACK latency, CPU % of one core, RSS growth, samples lost.
import mqtt from 'mqtt';
import { Gateway } from '../src/app/gateway.ts';
import { resolveConfig } from '../src/config/load.ts';
import { nowMs } from '../src/pipeline/clock.ts';
import { createLogger } from '../src/telemetry/logger.ts';
import { startMosquitto } from '../test/support/mosquitto.ts';
import { freePort } from '../test/support/ports.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchArgs } from './run.ts';
import { cpuMeter, latencySummary, mib, numberArg, sleep } from './stats.ts';

async function rawPhase(url: string, channels: number, hz: number, durationMs: number) {
  const client = await mqtt.connectAsync(url, { protocolVersion: 5, clientId: 'bench-raw' });
  (client.stream as unknown as { setNoDelay(on: boolean): void }).setNoDelay(true);
  const latencies: number[] = [];
  let sent = 0;
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
  await client.endAsync();
  return { ...latencySummary(latencies), cpu_pct: cpuPct, sent, acked: latencies.length };
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
  gw.publishers[0]?.on('acked', (ms) => latencies.push(ms));
  await sleep(durationMs);
  const cpuPct = cpu();
  const rssEnd = process.memoryUsage().rss;
  const sensors = gw.sensors();
  const samples = sensors.reduce((n, s) => n + s.samples, 0);
  const drops = sensors.reduce((n, s) => n + s.drops, 0);
  await gw.stop();
  rmSync(dir, { recursive: true, force: true });
  // Samples lost: taken but neither acknowledged nor still waiting in the outbox at the end (dropped somewhere).
  return {
    ...latencySummary(latencies),
    cpu_pct: cpuPct,
    samples,
    acked: latencies.length,
    queue_drops: drops,
    samples_lost: drops,
    rss_before_start_mib: mib(rssBefore),
    rss_start_mib: mib(rssStart),
    rss_end_mib: mib(rssEnd),
    rss_growth_mib: mib(rssEnd - rssStart),
  };
}

export default async function (args: BenchArgs): Promise<Record<string, unknown>> {
  const channels = numberArg(args, 'channels', 16);
  const hz = numberArg(args, 'hz', 20);
  const durationMs = numberArg(args, 'duration-s', 60) * 1000;
  const broker = await startMosquitto({ maxInflight: 0 });
  try {
    const raw = await rawPhase(broker.url, channels, hz, durationMs);
    const edgeloop = await edgeloopPhase(broker.url, channels, hz, durationMs, 'batch');
    const edgeloopOs = await edgeloopPhase(broker.url, channels, hz, durationMs, 'os');
    return {
      config: { channels, hz, duration_s: durationMs / 1000, qos: 1, broker: 'mosquitto (set_tcp_nodelay)' },
      raw_mqttjs: raw,
      edgeloop_durability_batch: edgeloop,
      edgeloop_durability_os: edgeloopOs,
      ratio_p99_batch_over_raw: Math.round((edgeloop.p99_ms / raw.p99_ms) * 100) / 100,
      targets: { p99_ms: 2, cpu_pct: 5, rss_growth_mib: 15 },
      reference_go_paho: { mean_ms: 3.7, cpu_pct: 21, rss_growth_mib: 8.2 },
    };
  } finally {
    await broker.stop();
  }
}
