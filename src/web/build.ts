// Builds the dashboard: src/web/app → src/web/dashboard.html, one self-contained page (script and styles inline, a
// Content-Security-Policy that allows exactly them and requests to the page's own origin). The built page is
// committed beside its source, so a production install (`npm ci --omit=dev`, no esbuild) and a single executable
// serve the same file; test/web/build.test.ts checks that it matches its source. Run after changing src/web/app:
//   npm run build:web
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const APP = join(import.meta.dirname, 'app');
export const OUTPUT = join(import.meta.dirname, 'dashboard.html');
const LICENSES = '/*! edgeloop dashboard. Includes Preact (MIT, Jason Miller) and uPlot (MIT, Leon Sorokin). */';

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

async function bundle(entry: string): Promise<string> {
  const out = await build({
    entryPoints: [join(APP, entry)],
    bundle: true,
    minify: true,
    write: false,
    format: 'iife',
    target: 'es2020',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    charset: 'utf8',
    legalComments: 'none',
    logLevel: 'silent',
  });
  const text = (out.outputFiles[0]?.text ?? '').trim();
  // Inline, a `</script` or `</style` in the code would end the element early.
  if (/<\/(script|style)/i.test(text)) throw new Error(`${entry}: the bundle contains a closing </script> or </style>`);
  return text;
}

/** The page as it is committed. */
export async function buildDashboard(): Promise<string> {
  const script = `${LICENSES}\n${await bundle('main.tsx')}`;
  const style = await bundle('style.css');
  const csp = [
    "default-src 'none'",
    `script-src ${sha256(script)}`,
    `style-src ${sha256(style)}`,
    "img-src 'self' blob: data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join('; ');
  return readFileSync(join(APP, 'index.html'), 'utf8')
    .replace(/>\s+</g, '><')
    .replace('__CSP__', () => csp)
    .replace('__STYLE__', () => style)
    .replace('__SCRIPT__', () => script);
}

if (import.meta.main) {
  const page = await buildDashboard();
  writeFileSync(OUTPUT, page);
  console.log(`${OUTPUT}: ${page.length} bytes`);
}
