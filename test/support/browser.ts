// Debian's Chromium driven by playwright-core, headless with a fresh profile, and a page that records what the
// dashboard must never do: log a console error, throw or leave a promise rejection unhandled, or ask another origin.
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
/** Where the dashboard tests leave their screenshots to be looked at (overwritten by each run, never committed). */
export const SCREENSHOTS = join(tmpdir(), 'edgeloop-dashboard-screenshots');
const FLAGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
];

export interface Watched {
  page: Page;
  context: BrowserContext;
  /** Console errors and warnings, page errors (uncaught exceptions and unhandled rejections). */
  problems: string[];
  /** Every URL the page requested (documents, fetches, WebSockets, images). */
  requests: string[];
}

export interface TestBrowser {
  browser: Browser;
  /** A fresh context (no cookies, no storage) with one page, watched. */
  open(options?: BrowserContextOptions): Promise<Watched>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  // Playwright gives every launch a fresh temporary user data dir and removes it on close.
  const b = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
  return {
    browser: b,
    async open(options = {}) {
      const ctx = await b.newContext(options);
      const page = await ctx.newPage();
      const problems: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`console.${m.type()}: ${m.text()} (${m.location().url})`);
      });
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      page.on('request', (r) => requests.push(r.url()));
      page.on('websocket', (ws) => requests.push(ws.url()));
      return { page, context: ctx, problems, requests };
    },
    close: () => b.close(),
  };
}
