// The web dashboard at `/`: one self-contained page (script, styles and icon inline; built from src/web by esbuild
// and committed, so a production install needs no build tools). The page learns here, without a request that could
// fail, whether it must ask for the token and which optional panels the API has.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { readPackageAsset } from '../../lib/assets.ts';

export const DASHBOARD_ASSET = 'src/web/dashboard.html';
/** The placeholder the page's build leaves for the boot data. */
export const BOOT_PLACEHOLDER = '<script type="application/json" id="boot">{}</script>';
/** Panels shown only when their API exists: feature name → the route that proves it. */
const OPTIONAL_PANELS = { cameras: '/api/v1/cameras', models: '/api/v1/models' } as const;

interface Page {
  body: Buffer;
  gzip: Buffer;
  etag: string;
}

export function dashboardRoutes(app: FastifyInstance, o: { authRequired: boolean }): void {
  let page: Page | undefined;
  // Built at the first request, not at start: routes are all known by then and a gateway nobody looks at pays nothing.
  const build = (): Page => {
    const features = Object.entries(OPTIONAL_PANELS).filter(([, url]) => app.hasRoute({ method: 'GET', url })).map(([name]) => name);
    // `<` escaped so no value can close the script element.
    const boot = JSON.stringify({ auth: o.authRequired, features }).replaceAll('<', '\\u003c');
    const html = readPackageAsset(DASHBOARD_ASSET).toString('utf8');
    if (!html.includes(BOOT_PLACEHOLDER)) throw new Error(`${DASHBOARD_ASSET} has no boot placeholder: rebuild it (npm run build:web)`);
    const body = Buffer.from(html.replace(BOOT_PLACEHOLDER, BOOT_PLACEHOLDER.replace('{}', boot)));
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    return { body, gzip: gzipSync(body, { level: 9 }), etag };
  };
  app.get('/', async (req, reply) => {
    page ??= build();
    reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('etag', page.etag)
      .header('vary', 'accept-encoding')
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('x-frame-options', 'SAMEORIGIN');
    if (req.headers['if-none-match'] === page.etag) return reply.code(304).send();
    if (/\bgzip\b/.test(req.headers['accept-encoding'] ?? '')) return reply.header('content-encoding', 'gzip').send(page.gzip);
    return reply.send(page.body);
  });
}
