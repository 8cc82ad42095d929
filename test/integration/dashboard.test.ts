// The web dashboard in a real browser (Debian's Chromium, headless) against a real gateway run through the CLI and a
// real Mosquitto: no console error, live values, the outbox growing and draining with the broker, login with a token
// that never lands in a URL or in storage, recovery after a gateway restart, a reverse proxy's sub-path. Screenshots
// of each panel (light and dark, desktop and phone) go to <tmpdir>/edgeloop-dashboard-screenshots/.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import yaml from 'js-yaml';
import { CLI, waitForMsg, writeGatewayConfig } from '../app/gateway-child.ts';
import { SCREENSHOTS, launchBrowser, type TestBrowser, type Watched } from '../support/browser.ts';
import { spawnNode, type NodeChild } from '../support/child.ts';
import { startMosquitto, type MosquittoHandle } from '../support/mosquitto.ts';
import { startPathProxy } from '../support/path-proxy.ts';
import { freePort } from '../support/ports.ts';

const TOKEN = 'dashboard-test-token-5150';
/** What a browser logs by itself while the gateway is down; nothing else is allowed. */
const CONNECTION_REFUSED = /ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE|WebSocket connection to .* failed/;

let browser: TestBrowser;
let broker: MosquittoHandle;

/** A gateway run by the CLI on a fixed port, so it can be stopped and started again at the same address. */
class Gateway {
  child: NodeChild | undefined;
  readonly url: string;
  readonly #file: string;
  readonly #remove: () => Promise<void>;
  #config: Record<string, unknown>;

  private constructor(file: string, remove: () => Promise<void>, port: number, config: Record<string, unknown>) {
    this.#file = file;
    this.#remove = remove;
    this.#config = config;
    this.url = `http://127.0.0.1:${port}/`;
  }

  static async start(overrides: Record<string, unknown> = {}): Promise<Gateway> {
    const port = await freePort();
    const config = {
      device: { id: 'dash-test' },
      mqtt: { url: broker.url, reconnect: { min_ms: 100, max_ms: 500 } },
      sensors: [
        { id: 'temp', driver: 'simulated', interval_ms: 100, unit: '°C', signal: 'sine', offset: 21, amplitude: 3, period_ms: 20_000 },
        { id: 'humidity', driver: 'simulated', interval_ms: 100, unit: '%', signal: 'random-walk', offset: 55, amplitude: 20, seed: 2 },
        { id: 'vibration', driver: 'simulated', interval_ms: 100, unit: 'g', signal: 'noise', amplitude: 0.5, seed: 3 },
      ],
      ...overrides,
      api: { host: '127.0.0.1', port, ...(overrides.api as object | undefined) },
    };
    const written = await writeGatewayConfig(config);
    const g = new Gateway(written.configFile, written.remove, port, config);
    await g.run();
    return g;
  }

  async run(): Promise<void> {
    this.child = spawnNode([CLI, 'run', '-c', this.#file]);
    await waitForMsg(this.child, 'gateway started', 20_000);
  }

  async stop(): Promise<void> {
    this.child?.kill('SIGTERM');
    await this.child?.exited;
  }

  /** Rewrites its config file with `changes` over the running one (the next run() uses it). */
  reconfigure(changes: Record<string, unknown>): void {
    const current = this.#config;
    this.#config = { ...current, ...changes };
    writeFileSync(this.#file, yaml.dump({ ...(current as object), ...changes }));
  }

  async cleanup(): Promise<void> {
    this.child?.kill('SIGKILL');
    await this.child?.exited.catch(() => undefined);
    await this.#remove();
  }
}

before(async () => {
  [browser, broker] = await Promise.all([launchBrowser(), startMosquitto()]);
});
after(async () => {
  await browser?.close();
  await broker?.stop();
});

async function open(url: string, options: Parameters<TestBrowser['open']>[0] = {}): Promise<Watched> {
  const w = await browser.open({ viewport: { width: 1280, height: 800 }, ...options });
  after(() => w.context.close());
  await w.page.goto(url);
  return w;
}

/**
 * The bits of the page's DOM that the functions run in the page read. This file is type-checked without the DOM
 * library, and the page's CSP forbids eval, so conditions are functions (sent whole to the page), not strings.
 */
interface PageGlobals {
  document: { querySelector(selector: string): { textContent: string | null } | null; cookie: string };
  localStorage: Record<string, string>;
  sessionStorage: Record<string, string>;
  indexedDB: { databases(): Promise<unknown[]> };
  caches: { keys(): Promise<string[]> };
}

// Timeouts are generous: the suite runs two files at once on two cores, a browser among them.
const waitLive = (page: Page, timeout = 30_000) => page.locator('#conn.good').waitFor({ timeout });
const VALUE = '[data-sensor="temp"] .value';

/** Waits until the text of `selector` is no longer `was`. */
const waitChange = (page: Page, selector: string, was: string) =>
  page.waitForFunction(
    ([sel, old]) => (globalThis as unknown as PageGlobals).document.querySelector(sel)?.textContent !== old,
    [selector, was] as const,
    { timeout: 20_000 },
  );

/** The text of the first element matching `selector`, once there is one. */
async function text(page: Page, selector: string): Promise<string> {
  return (await page.locator(selector).first().textContent({ timeout: 20_000 })) ?? '';
}

/** Waits until the number shown in `selector` is within [min, max] (the page updates it from the live feed). */
async function waitNumber(page: Page, selector: string, [min, max]: [number, number], timeout: number): Promise<number> {
  await page.waitForFunction(
    ([sel, lo, hi]) => {
      const n = Number(((globalThis as unknown as PageGlobals).document.querySelector(sel)?.textContent ?? '').replace(/[^\d.-]/g, ''));
      return Number.isFinite(n) && n >= lo && n <= hi;
    },
    [selector, min, max] as const,
    { timeout },
  );
  return Number((await text(page, selector)).replace(/[^\d.-]/g, ''));
}

function assertClean(w: Watched, origin: string, allow?: RegExp): void {
  const problems = allow ? w.problems.filter((p) => !allow.test(p)) : w.problems;
  assert.deepEqual(problems, [], 'console errors, page errors or unhandled rejections');
  const foreign = w.requests.filter((u) => new URL(u).host !== new URL(origin).host);
  assert.deepEqual(foreign, [], 'requests to another origin');
}

describe('dashboard', () => {
  let gw: Gateway;
  before(async () => {
    gw = await Gateway.start();
  });
  after(() => gw?.cleanup());

  test('loads without a console error; sensor values change; all requests stay on the gateway', async () => {
    const w = await open(`${gw.url}#sensors`);
    await waitLive(w.page);
    const first = await text(w.page, VALUE);
    assert.match(first, /^\d+(\.\d+)?$/, `a temperature is shown at once (snapshot on connect): ${first}`);
    await waitChange(w.page, VALUE, first);
    assert.equal(await w.page.locator('.chart canvas').count() >= 3, true, 'a chart per sensor');
    assert.deepEqual(await w.page.locator('nav a').allTextContents(), ['Overview', 'Sensors'], 'no Cameras or Models panel without their API');
    assertClean(w, gw.url);
  });

  test('the outbox depth rises while the broker is down and falls after it comes back', async () => {
    const w = await open(`${gw.url}#overview`);
    await waitLive(w.page);
    // On a loaded machine a few records may be waiting for their acknowledgement even with the broker up.
    const before = await waitNumber(w.page, '#outbox-rows', [0, Infinity], 30_000);
    broker.kill();
    const peak = await waitNumber(w.page, '#outbox-rows', [before + 30, Infinity], 30_000);
    await broker.restart();
    const drained = await waitNumber(w.page, '#outbox-rows', [0, Math.max(9, before)], 60_000);
    assert.ok(drained < peak, `${before} → ${peak} → ${drained}`);
    assertClean(w, gw.url);
  });

  test('purging the outbox asks first; cancelled, nothing is deleted; confirmed, the backlog is gone', async () => {
    const w = await open(`${gw.url}#overview`);
    await waitLive(w.page);
    broker.kill();
    after(() => broker.restart());
    const backlog = await waitNumber(w.page, '#outbox-rows', [20, Infinity], 30_000);
    await w.page.locator('#purge').click();
    const dialog = w.page.locator('#purge-dialog');
    await dialog.waitFor();
    assert.match(await dialog.textContent() ?? '', /cannot be undone/);
    await w.page.screenshot({ path: join(SCREENSHOTS, 'purge-light-desktop.png') });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await waitNumber(w.page, '#outbox-rows', [backlog, Infinity], 10_000); // still there, and growing
    await w.page.locator('#purge').click();
    await w.page.locator('#purge-confirm').click();
    const done = w.page.getByRole('status').filter({ hasText: /Purged [\d,]+ records/ });
    await done.waitFor();
    // Readings keep coming while the broker is down, so the depth grows again: the count purged is the proof.
    const purged = Number((await done.textContent() ?? '').replace(/[^\d]/g, ''));
    assert.ok(purged >= backlog, `purged ${purged}, the backlog was ${backlog}`);
    assertClean(w, gw.url);
  });

  test('after a gateway restart the page shows the data as stale, then recovers by itself', async () => {
    const w = await open(`${gw.url}#sensors`);
    await waitLive(w.page);
    await gw.stop();
    await w.page.locator('#conn.bad').waitFor({ timeout: 20_000 });
    await w.page.locator('.banner').waitFor({ timeout: 20_000 });
    await w.page.locator('.card.stale').first().waitFor({ timeout: 20_000 });
    await w.page.screenshot({ path: join(SCREENSHOTS, 'sensors-stale-light-desktop.png') });
    await gw.run();
    await waitLive(w.page, 30_000);
    await waitChange(w.page, VALUE, await text(w.page, VALUE));
    await w.page.locator('.banner').waitFor({ state: 'detached', timeout: 20_000 });
    assertClean(w, gw.url, CONNECTION_REFUSED);
  });

  test('works unchanged behind a reverse proxy under a sub-path', async () => {
    const proxy = await startPathProxy(Number(new URL(gw.url).port), '/edge');
    after(() => proxy.close());
    for (const entry of [proxy.url, proxy.url.slice(0, -1)]) {
      const w = await open(`${entry}#sensors`);
      await waitLive(w.page);
      await waitChange(w.page, VALUE, await text(w.page, VALUE));
      assertClean(w, proxy.url);
    }
    assert.deepEqual(proxy.seen.filter((p) => !p.startsWith('/edge')), [], 'every request under the sub-path');
  });

  test('screenshots of each panel, light and dark, desktop and phone', async () => {
    const sizes = { desktop: { viewport: { width: 1280, height: 800 } }, phone: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true } };
    for (const scheme of ['light', 'dark'] as const) {
      for (const [size, options] of Object.entries(sizes)) {
        const w = await open(gw.url, { ...options, colorScheme: scheme });
        await waitLive(w.page);
        for (const panel of ['overview', 'sensors']) {
          await w.page.locator(`nav a[href="#${panel}"]`).click();
          await w.page.locator(panel === 'overview' ? '#outbox' : '.chart canvas').first().waitFor();
          await w.page.screenshot({ path: join(SCREENSHOTS, `${panel}-${scheme}-${size}.png`), fullPage: true });
        }
        assert.equal(await w.page.locator('html').getAttribute('data-theme'), scheme);
        assertClean(w, gw.url);
      }
    }
  });
});

describe('dashboard with an API token', () => {
  let gw: Gateway;
  before(async () => {
    gw = await Gateway.start({ api: { token: TOKEN } });
  });
  after(() => gw?.cleanup());

  test('asks for the token, keeps it out of URLs and storage, and asks again when it is no longer accepted', async () => {
    const w = await open(gw.url);
    await w.page.locator('#token').waitFor();
    assertClean(w, gw.url); // the page knew it needed a token without a refused request
    await w.page.screenshot({ path: join(SCREENSHOTS, 'login-light-desktop.png') });

    await w.page.fill('#token', 'not-the-token');
    await w.page.press('#token', 'Enter');
    await w.page.getByRole('alert').waitFor();
    assert.match(await text(w.page, '[role="alert"]'), /did not accept/);

    await w.page.fill('#token', TOKEN);
    await w.page.press('#token', 'Enter');
    await waitLive(w.page);
    await waitNumber(w.page, '#outbox-rows', [0, Infinity], 30_000);

    assert.ok(!w.page.url().includes(TOKEN), 'the page URL');
    const leaked = w.requests.filter((u) => u.includes(TOKEN) || u.includes(Buffer.from(TOKEN).toString('base64url')));
    assert.deepEqual(leaked, [], 'no request URL carries the token');
    const stored = await w.page.evaluate(async () => {
      const g = globalThis as unknown as PageGlobals;
      return {
        local: JSON.stringify({ ...g.localStorage }),
        session: JSON.stringify({ ...g.sessionStorage }),
        cookie: g.document.cookie,
        databases: JSON.stringify(await g.indexedDB.databases()),
        caches: JSON.stringify(await g.caches.keys()),
      };
    });
    const state = JSON.stringify(await w.context.storageState());
    for (const [where, content] of Object.entries({ ...stored, state })) assert.ok(!content.includes(TOKEN), `token found in ${where}`);

    // The token changes on the gateway: the page's session is refused (401) and the form comes back.
    await gw.stop();
    gw.reconfigure({ api: { host: '127.0.0.1', port: Number(new URL(gw.url).port), token: `${TOKEN}-rotated` } });
    await gw.run();
    await w.page.locator('#token').waitFor({ timeout: 30_000 });
    assert.match(await text(w.page, '[role="alert"]'), /no longer accepted/);
    await w.page.fill('#token', `${TOKEN}-rotated`);
    await w.page.press('#token', 'Enter');
    await waitLive(w.page);
    assertClean(w, gw.url, new RegExp(`${CONNECTION_REFUSED.source}|status of 401`));
  });
});
