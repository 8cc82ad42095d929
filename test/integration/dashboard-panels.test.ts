// The Cameras and Models panels against stand-in routes in the documented shapes (snake_case): the panels appear
// when their API exists, show the latest frame, events with thumbnails (live from the WebSocket, filterable), model
// versions, history and update progress; an API that answers 404 hides its panel.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Page } from 'playwright-core';
import { pino } from 'pino';
import sharp from 'sharp';
import { buildApi } from '../../src/api/server.ts';
import { payloadOf, uuidv7, type DurableRecord } from '../../src/pipeline/record.ts';
import { SCREENSHOTS, launchBrowser, type TestBrowser, type Watched } from '../support/browser.ts';
import { startGateway, type RunningGateway } from './gateway-fixture.ts';

let g: RunningGateway;
let browser: TestBrowser;
const apis: FastifyInstance[] = [];

/** A frame with a "person" in a box, as the camera pipeline annotates it. */
const frame = (w: number, h: number, hue: string) =>
  sharp(Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><rect width="100%" height="100%" fill="${hue}"/>
    <rect x="${w * 0.4}" y="${h * 0.2}" width="${w * 0.2}" height="${h * 0.6}" fill="none" stroke="#0f0" stroke-width="3"/></svg>`)).jpeg().toBuffer();

// The shapes of the camera and model routes (snake_case), trimmed to what the panels read and a little more.
const CAMERAS = {
  cameras: [
    {
      id: 'front', source: 'ffmpeg', state: 'online', online: true, last_error: null, fps_in: 5, fps_detect: 4.8,
      frames: { in: 1200, processed: 880, skipped: { queue_full: 0, no_motion: 312, budget: 4, stale: 0, error: 0 } },
      queue_depth: 0, restarts: 0, motion: true, calibrating: false, last_frame: '2026-12-01T08:00:00.000Z', inference_ms_last: 36.2,
    },
    {
      id: 'yard', source: 'ffmpeg', state: 'restarting', online: false, last_error: 'ffmpeg exited with code 1: Connection refused',
      fps_in: 0, fps_detect: 0, frames: { in: 0, processed: 0, skipped: { queue_full: 0, no_motion: 0, budget: 0, stale: 0, error: 0 } },
      queue_depth: 0, restarts: 3, motion: false, calibrating: false, last_frame: null, inference_ms_last: null,
    },
  ],
};
const object = (id: string, label: string, score: number) => ({
  object_id: id, label, score, top_score: score, box: { x: 0.4, y: 0.2, w: 0.2, h: 0.6 }, stationary: false,
  first_seen: '2026-12-01T08:00:00.000Z', last_seen: '2026-12-01T08:00:04.000Z', zones: [],
});
const EVENTS = {
  events: [
    { ...object('obj-car-1', 'car', 0.88), id: 'obj-car-1', camera: 'yard', active: false, model_name: 'ssd', model_version: '0', has_snapshot: true },
    { ...object('obj-7', 'person', 0.91), id: 'obj-7', camera: 'front', active: true, model_name: 'ssd', model_version: '0', has_snapshot: true },
  ],
};
const version = (v: number, label: string) => ({ version: v, label, source: v === 0 ? 'package' : 'store', sha256: null, size: null, created: null, installed_at: null });
const MODELS = {
  models: [{ name: 'ssd-mobilenet-v2', current: 3, active: 3, versions: [version(0, 'coco-2018'), version(2, '1.1.0'), version(3, '1.2.0')] }],
  history: [
    { update_id: 'u2', name: 'ssd-mobilenet-v2', version: 4, label: '1.3.0-rc1', from_version: 3, source: 'mqtt', state: 'rolled_back',
      error: 'EDGELOOP_ERR_OTA_HEALTH', reason: 'p99 latency 3.1× the previous version', started_at: '2026-11-29T10:00:00.000Z', finished_at: '2026-11-29T10:05:00.000Z', health: null },
    { update_id: 'u1', name: 'ssd-mobilenet-v2', version: 3, label: '1.2.0', from_version: 2, source: 'api', state: 'active',
      error: null, reason: null, started_at: '2026-11-28T10:00:00.000Z', finished_at: '2026-11-28T10:05:00.000Z', health: null },
  ],
  update: null,
};
const otaStatus = (state: string, percent: number | null) => ({
  update_id: 'u3', name: 'ssd-mobilenet-v2', version: 5, label: '1.4.0', from_version: 3, source: 'mqtt', state,
  bytes: percent === null ? null : 1_200_000, total: percent === null ? null : 2_857_143, percent, error: null, reason: null, health: null,
  started_at: '2026-12-01T08:00:00.000Z',
});

/** A second API on the gateway's view, with stand-in camera and model routes (`models` 404 when `modelsGone`). */
async function standInApi(o: { modelsGone?: boolean } = {}): Promise<string> {
  const { app } = await buildApi(g.gw, { wsMaxBufferedBytes: 1 << 20, log: pino({ level: 'silent' }) });
  const jpeg = { front: await frame(640, 360, '#345'), yard: await frame(640, 360, '#543'), thumb: await frame(160, 160, '#455') };
  app.get('/api/v1/cameras', async () => CAMERAS);
  app.get('/api/v1/events', async (req) => {
    const q = req.query as { camera?: string; label?: string };
    return { events: EVENTS.events.filter((e) => (!q.camera || e.camera === q.camera) && (!q.label || e.label === q.label)) };
  });
  app.get('/api/v1/events/:id/snapshot.jpg', async (_req, reply) => reply.type('image/jpeg').send(jpeg.thumb));
  app.get('/api/v1/cameras/:camera/latest.jpg', async (req, reply) =>
    reply.type('image/jpeg').send(jpeg[(req.params as { camera: 'front' | 'yard' }).camera]));
  app.get('/api/v1/models', async (_req, reply) => (o.modelsGone ? reply.code(404).send({ error: 'EDGELOOP_ERR_NOT_FOUND' }) : MODELS));
  await app.listen({ host: '127.0.0.1', port: 0 });
  apis.push(app);
  return `http://127.0.0.1:${(app.server.address() as { port: number }).port}/`;
}

function publish(topic: string, data: Record<string, unknown>): void {
  const draft = { id: uuidv7(), kind: 'event' as const, source: 'stand-in', topic, ts: Date.now(), priority: 5, seq: 1, data };
  g.gw.bus.publish({ ...draft, json: payloadOf(draft, 'dash-panels') } as DurableRecord);
}

before(async () => {
  g = await startGateway({ device: { id: 'dash-panels' }, outbox: { store: 'memory' } });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await Promise.all(apis.map((a) => a.close()));
  await g?.stop();
});

async function open(url: string, options: Parameters<TestBrowser['open']>[0] = {}): Promise<Watched> {
  const w = await browser.open({ viewport: { width: 1280, height: 800 }, ...options });
  after(() => w.context.close());
  await w.page.goto(url);
  await w.page.locator('#conn.good').waitFor({ timeout: 30_000 });
  return w;
}

/** Resolves once an <img> matching `selector` has loaded a real picture. */
const imageLoaded = (page: Page, selector: string) =>
  page.waitForFunction(
    (sel) => {
      const img = (globalThis as unknown as { document: { querySelector(s: string): { complete: boolean; naturalWidth: number } | null } }).document.querySelector(sel);
      return img !== null && img.complete && img.naturalWidth > 0;
    },
    selector,
    { timeout: 20_000 },
  );

describe('dashboard panels for cameras and models', () => {
  test('Cameras: latest frames, rates, skips, state; events with thumbnails, live and filterable', async () => {
    const url = await standInApi();
    const w = await open(`${url}#cameras`);
    assert.deepEqual(await w.page.locator('nav a').allTextContents(), ['Overview', 'Sensors', 'Cameras', 'Models']);
    await imageLoaded(w.page, '.camera img.frame');
    assert.match(await w.page.locator('.camera').first().textContent() ?? '', /front.*online.*4\.8.*36\.2 ms.*no motion 312.*budget 4/s);
    assert.match(await w.page.locator('.camera').nth(1).textContent() ?? '', /yard.*restarting.*no frame yet.*Connection refused/s);
    await imageLoaded(w.page, '.event[data-label="car"] img.thumb');
    await imageLoaded(w.page, '.event[data-label="person"] img.thumb');

    // A new object on the live feed shows at once, before the list knows its snapshot; then one row per object.
    publish('cameras/front/events', { camera: 'front', type: 'new', before: object('obj-9', 'dog', 0.7), after: object('obj-9', 'dog', 0.71), model_name: 'ssd', model_version: '0', inference_time_ms: 35 });
    await w.page.locator('.event[data-label="dog"]', { hasText: 'new' }).waitFor();
    assert.match(await w.page.locator('.event[data-label="dog"]').textContent() ?? '', /dog.*71 %.*front.*new/s);
    publish('cameras/front/events', { camera: 'front', type: 'end', before: object('obj-9', 'dog', 0.71), after: object('obj-9', 'dog', 0.8), model_name: 'ssd', model_version: '0', inference_time_ms: 35 });
    await w.page.locator('.event[data-label="dog"]', { hasText: 'end' }).waitFor();
    assert.equal(await w.page.locator('.event[data-label="dog"]').count(), 1, 'one row per tracked object');
    publish('cameras/front/events', { camera: 'front', type: 'update', before: object('obj-7', 'person', 0.91), after: object('obj-7', 'person', 0.95), model_name: 'ssd', model_version: '0', inference_time_ms: 35 });
    await w.page.locator('.event[data-label="person"]', { hasText: '95 %' }).waitFor();
    assert.equal(await w.page.locator('.event[data-label="person"]').count(), 1);

    await w.page.locator('.filters select').nth(1).selectOption('car');
    await w.page.locator('.event[data-label="person"]').waitFor({ state: 'detached' });
    assert.deepEqual(await w.page.locator('.event').evaluateAll((els) => els.map((e) => (e as unknown as { dataset: { label: string } }).dataset.label)), ['car']);
    await w.page.locator('.filters select').nth(1).selectOption('');
    for (const scheme of ['light', 'dark'] as const) {
      for (const [size, viewport] of [['desktop', { width: 1280, height: 800 }], ['phone', { width: 390, height: 844 }]] as const) {
        await w.page.emulateMedia({ colorScheme: scheme });
        await w.page.setViewportSize(viewport);
        await w.page.screenshot({ path: join(SCREENSHOTS, `cameras-${scheme}-${size}.png`), fullPage: true });
      }
    }
    assert.deepEqual(w.problems, []);
  });

  test('Models: active and installed versions, history with outcomes, live update progress', async () => {
    const url = await standInApi();
    const w = await open(`${url}#models`);
    await w.page.locator('text=ssd-mobilenet-v2').first().waitFor();
    const table = await w.page.locator('[data-model="ssd-mobilenet-v2"]').textContent() ?? '';
    assert.match(table, /ssd-mobilenet-v2\s*1\.2\.0 \(v3\)\s*1\.2\.0 \(v3\)\s*coco-2018 \(v0, shipped\), 1\.1\.0 \(v2\), 1\.2\.0 \(v3\)/);
    const history = await w.page.locator('table').nth(1).locator('tbody tr').allTextContents();
    assert.match(history[0] ?? '', /rolled back.*1\.3\.0-rc1 \(v3 → v4\).*EDGELOOP_ERR_OTA_HEALTH.*p99 latency/);
    assert.match(history[1] ?? '', /active.*1\.2\.0 \(v2 → v3\)/);
    publish('ota/status', otaStatus('downloading', 42));
    await w.page.locator('#ota progress').waitFor();
    assert.match(await w.page.locator('#ota').textContent() ?? '', /1\.4\.0.*downloading.*42 %.*1\.1 MiB of 2\.7 MiB/s);
    for (const scheme of ['light', 'dark'] as const) {
      for (const [size, viewport] of [['desktop', { width: 1280, height: 800 }], ['phone', { width: 390, height: 844 }]] as const) {
        await w.page.emulateMedia({ colorScheme: scheme });
        await w.page.setViewportSize(viewport);
        await w.page.screenshot({ path: join(SCREENSHOTS, `models-${scheme}-${size}.png`), fullPage: true });
      }
    }
    publish('ota/status', otaStatus('active', null));
    await w.page.locator('#ota progress').waitFor({ state: 'detached' });
    assert.match(await w.page.locator('#ota').textContent() ?? '', /1\.4\.0.*active/s);
    assert.deepEqual(w.problems, []);
  });

  test('a panel whose API answers 404 is hidden', async () => {
    const url = await standInApi({ modelsGone: true });
    const w = await open(`${url}#models`);
    await w.page.locator('nav a[href="#models"]').waitFor({ state: 'detached' });
    assert.deepEqual(await w.page.locator('nav a').allTextContents(), ['Overview', 'Sensors', 'Cameras']);
    assert.deepEqual(w.problems.filter((p) => !/status of 404/.test(p)), []);
  });
});
