// `npm run bench -- dashboard [--pages 10] [--phase-s 20] [--rounds 3] [--loads 10]`: the web dashboard against the gateway run
// as `edgeloop run` (16 simulated channels × 20 Hz, embedded broker, SQLite outbox), in Debian's Chromium:
// - page weight: bytes of `GET /` on the wire (gzip) and inflated; the page is one file, so that is all of it;
// - time to first data: from asking for the page to the first sensor value on screen, fresh browser context each time;
// - the gateway's CPU (its own process, % of one core) with no dashboard open and with N open on the Sensors panel,
//   alternated `rounds` times; beside them, N bare WebSocket subscribers taking every record as its own frame (what the
//   dashboard's feed would cost without batching) and N taking batches of 250 ms (the feed alone, no status polls).
import { request } from 'node:http';
import { chromium, type Page } from 'playwright-core';
import { WebSocket } from 'ws';
import { CLI, waitForMsg, writeGatewayConfig } from '../test/app/gateway-child.ts';
import { CHROMIUM } from '../test/support/browser.ts';
import { spawnNode } from '../test/support/child.ts';
import { freePort } from '../test/support/ports.ts';
import type { BenchArgs } from './run.ts';
import { median, numberArg, processCpuMeter, quantile, sleep } from './stats.ts';

const CHANNELS = 16;
const HZ = 20;
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

function pageBytes(url: string, encoding: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, { headers: { 'accept-encoding': encoding } }, (res) => {
      let n = 0;
      res.on('data', (c: Buffer) => (n += c.length));
      res.on('end', () => resolve(n));
    })
      .on('error', reject)
      .end();
  });
}

const firstValue = (page: Page) => page.locator('[data-sensor] .value').filter({ hasText: /\d/ }).first().waitFor({ timeout: 60_000 });

export default async function dashboardBench(args: BenchArgs) {
  const pages = numberArg(args, 'pages', 10);
  const phaseMs = numberArg(args, 'phase-s', 20) * 1000;
  const loads = numberArg(args, 'loads', 10);
  const rounds = numberArg(args, 'rounds', 3);
  const apiPort = await freePort();
  const written = await writeGatewayConfig({
    device: { id: 'bench-dash' },
    api: { host: '127.0.0.1', port: apiPort },
    sensors: Array.from({ length: CHANNELS }, (_, i) => ({ id: `s${String(i + 1).padStart(2, '0')}`, driver: 'simulated', interval_ms: 1000 / HZ, signal: 'noise', seed: i + 1 })),
  });
  // As `edgeloop run` runs (bin/edgeloop.js passes the same flag).
  const child = spawnNode(['--max-semi-space-size=2', CLI, 'run', '-c', written.configFile]);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
  try {
    await waitForMsg(child, 'gateway started', 30_000);
    const url = `http://127.0.0.1:${apiPort}/`;
    const weight = { gzip_bytes: await pageBytes(url, 'gzip'), raw_bytes: await pageBytes(url, 'identity') };

    const firstData: number[] = [];
    const inPage: number[] = [];
    for (let i = 0; i < loads; i++) {
      const ctx = await browser.newContext();
      const page = await ctx.newPage();
      const t0 = performance.now();
      await page.goto(`${url}#sensors`);
      await firstValue(page);
      firstData.push(performance.now() - t0);
      // The page's own clock starts when it asks for the document: browser start-up of the tab is left out.
      inPage.push(await page.evaluate(() => (globalThis as unknown as { performance: { now(): number } }).performance.now()));
      await ctx.close();
    }

    const cpu = async (what: string, open: () => Promise<() => Promise<void>>) => {
      const close = await open();
      await sleep(2000); // let the pages settle: their first load is measured above
      const meter = processCpuMeter(child.pid as number);
      await sleep(phaseMs);
      const pct = meter();
      await close();
      return { what, pct };
    };
    const none = () => Promise.resolve(async () => {});
    const dashboards = async () => {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      // One after the other: ten pages starting at once on a busy 2-core machine measure the machine, not the gateway.
      for (let i = 0; i < pages; i++) {
        const p = await ctx.newPage();
        await p.goto(`${url}#sensors`);
        await firstValue(p);
      }
      return () => ctx.close();
    };
    const sockets = (batchMs: number) => async () => {
      const all = await Promise.all(
        Array.from({ length: pages }, () => new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(`ws://127.0.0.1:${apiPort}/ws`);
          ws.once('open', () => {
            ws.send(JSON.stringify({ subscribe: ['sensors/+'], ...(batchMs > 0 ? { batch_ms: batchMs } : {}) }));
            resolve(ws);
          });
          ws.once('error', reject);
        })),
      );
      return async () => all.forEach((ws) => ws.terminate());
    };

    await sleep(3000); // warm-up of the gateway itself
    const phases: { what: string; pct: number }[] = [];
    for (let round = 0; round < rounds; round++) {
      phases.push(await cpu('none', none));
      phases.push(await cpu('dashboards', dashboards));
    }
    phases.push(await cpu('ws_per_record', sockets(0)));
    phases.push(await cpu('ws_batched_250ms', sockets(250)));
    const mean = (what: string) => {
      const xs = phases.filter((p) => p.what === what).map((p) => p.pct);
      return Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 100) / 100;
    };
    const sorted = [...firstData].sort((a, b) => a - b);
    return {
      setup: { channels: CHANNELS, hz: HZ, pages, phase_s: phaseMs / 1000, rounds, loads, browser: CHROMIUM },
      page_weight: weight,
      time_to_first_data_ms: {
        median: Math.round(median(firstData)), p90: Math.round(quantile(sorted, 0.9)), max: Math.round(sorted.at(-1) ?? 0),
        in_page_median: Math.round(median(inPage)),
      },
      gateway_cpu_pct_of_core: {
        none: mean('none'),
        dashboards: mean('dashboards'),
        added_by_dashboards: Math.round((mean('dashboards') - mean('none')) * 100) / 100,
        ws_per_record: mean('ws_per_record'),
        ws_batched_250ms: mean('ws_batched_250ms'),
        phases,
      },
      target: { page_gzip_bytes_max: 200 * 1024, added_cpu_pct_max: 1 },
    };
  } finally {
    await browser.close();
    child.kill('SIGTERM');
    await child.exited;
    await written.remove();
  }
}
