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

const CAMERAS = {
  cameras: [
    { id: 'front', state: 'running', fps_in: 5, detect_fps: 4.8, inference_ms: { p50: 36.2, p99: 51.9 }, skipped: { queue_full: 0, no_motion: 312, budget: 4, stale: 0 }, restarts: 0 },
    { id: 'yard', state: 'restarting', fps_in: 0, detect_fps: 0, inference_ms: null, skipped: {}, restarts: 3, last_error: 'ffmpeg exited with code 1: Connection refused' },
  ],
};
const EVENTS = {
  events: [
    { id: 'ev-car-1', camera: 'yard', label: 'car', score: 0.88, top_score: 0.88, ts: '2026-12-01T08:00:00.000Z' },
  ],
};
const MODELS = {
  models: [
    {
      name: 'ssd-mobilenet-v2', active: { version: 3, label: '1.2.0' }, installed: [{ version: 2, label: '1.1.0' }, { version: 3, label: '1.2.0' }],
      history: [
        { ts: '2026-11-30T10:00:00.000Z', version: { version: 3, label: '1.2.0' }, outcome: 'active' },
        { ts: '2026-11-29T10:00:00.000Z', version: { version: 4, label: '1.3.0-rc1' }, outcome: 'rolled_back', reason: 'EDGELOOP_ERR_OTA_HEALTH' },
      ],
    },
  ],
};

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
  await w.page.locator('#conn.good').waitFor({ timeout: 15_000 });
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
    { timeout: 10_000 },
  );

describe('dashboard panels for cameras and models', () => {
  test('Cameras: latest frames, rates, skips, state; events with thumbnails, live and filterable', async () => {
    const url = await standInApi();
    const w = await open(`${url}#cameras`);
    assert.deepEqual(await w.page.locator('nav a').allTextContents(), ['Overview', 'Sensors', 'Cameras', 'Models']);
    await imageLoaded(w.page, '.camera img.frame');
    assert.match(await w.page.locator('.camera').first().textContent() ?? '', /front.*running.*4\.8.*36\.2 ms.*no motion 312.*budget 4/s);
    assert.match(await w.page.locator('.camera').nth(1).textContent() ?? '', /yard.*restarting.*Connection refused/s);
    await w.page.locator('.event[data-label="car"] img.thumb').waitFor();

    publish('cameras/front/events', { type: 'new', after: { object_id: 'obj-7', label: 'person', score: 0.91, top_score: 0.93, box: { x: 0.4, y: 0.2, w: 0.2, h: 0.6 } } });
    await w.page.locator('.event[data-label="person"]').waitFor();
    await imageLoaded(w.page, '.event[data-label="person"] img.thumb');
    assert.match(await w.page.locator('.event[data-label="person"]').textContent() ?? '', /person.*93 %.*front.*new/s);
    publish('cameras/front/events', { type: 'end', after: { object_id: 'obj-7', label: 'person', score: 0.9, top_score: 0.95 } });
    await w.page.locator('.event[data-label="person"]', { hasText: 'end' }).waitFor();
    assert.equal(await w.page.locator('.event[data-label="person"]').count(), 1, 'one row per tracked object');

    await w.page.locator('.filters select').nth(1).selectOption('car');
    await w.page.locator('.event[data-label="person"]').waitFor({ state: 'detached' });
    assert.equal(await w.page.locator('.event').count(), 1);
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
    const table = await w.page.locator('table').first().textContent() ?? '';
    assert.match(table, /ssd-mobilenet-v2\s*1\.2\.0\s*1\.1\.0, 1\.2\.0/);
    assert.match(await w.page.locator('table').nth(1).textContent() ?? '', /1\.3\.0-rc1.*rolled back.*EDGELOOP_ERR_OTA_HEALTH/s);
    publish('ota/status', { name: 'ssd-mobilenet-v2', version: { version: 5, label: '1.4.0' }, stage: 'downloading', bytes: 1_200_000, percent: 42 });
    await w.page.locator('progress').waitFor();
    assert.match(await w.page.locator('.card', { hasText: 'Model update' }).textContent() ?? '', /1\.4\.0.*downloading.*42 %/s);
    for (const scheme of ['light', 'dark'] as const) {
      for (const [size, viewport] of [['desktop', { width: 1280, height: 800 }], ['phone', { width: 390, height: 844 }]] as const) {
        await w.page.emulateMedia({ colorScheme: scheme });
        await w.page.setViewportSize(viewport);
        await w.page.screenshot({ path: join(SCREENSHOTS, `models-${scheme}-${size}.png`), fullPage: true });
      }
    }
    publish('ota/status', { name: 'ssd-mobilenet-v2', version: { version: 5, label: '1.4.0' }, stage: 'active' });
    await w.page.locator('progress').waitFor({ state: 'detached' });
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
