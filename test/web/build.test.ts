// The committed dashboard page is what its source builds to, is self-contained and stays within its weight budget.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { test } from 'node:test';
import { BOOT_PLACEHOLDER, DASHBOARD_ASSET } from '../../src/api/routes/dashboard.ts';
import { OUTPUT, buildDashboard } from '../../src/web/build.ts';

/** The whole dashboard, gzipped, must stay under this (it is one file). */
const BUDGET_GZIP_BYTES = 200 * 1024;

test('src/web/dashboard.html is up to date with src/web/app (run `npm run build:web`)', async () => {
  assert.equal(OUTPUT.endsWith(DASHBOARD_ASSET), true);
  const committed = readFileSync(OUTPUT, 'utf8');
  assert.ok(committed === (await buildDashboard()), 'the committed page differs from a fresh build: run `npm run build:web`');
});

test('the page is self-contained: no external URL, a CSP allowing only its own inline code and origin', () => {
  const page = readFileSync(OUTPUT, 'utf8');
  assert.ok(page.includes(BOOT_PLACEHOLDER));
  assert.deepEqual(page.match(/\b(src|href)=["'](?!data:|#)[^"']*/g) ?? [], [], 'no script, style or image loaded from elsewhere');
  assert.doesNotMatch(page, /\bhttps?:\/\/(?!www\.w3\.org\/)/, 'no absolute URL');
  const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(page)?.[1] ?? '';
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /connect-src 'self'/);
  assert.match(csp, /script-src 'sha256-[^' ]+'(;|$)/);
  assert.doesNotMatch(csp, /unsafe-(inline|eval)/);
});

test(`the page weighs under ${BUDGET_GZIP_BYTES / 1024} KiB gzipped`, () => {
  const gz = gzipSync(readFileSync(OUTPUT), { level: 9 }).length;
  assert.ok(gz < BUDGET_GZIP_BYTES, `${gz} bytes gzipped`);
});
