// Where the API lives, seen from the page: the folder the page was served from, so the dashboard works unchanged
// behind a reverse proxy under a sub-path (`https://host/edgeloop/` → `https://host/edgeloop/api/v1/…`).

/** The page's folder: `/` for `/`, `/edgeloop/` for `/edgeloop/` and for `/edgeloop` (a proxy that drops the slash). */
export function basePath(pathname: string): string {
  if (pathname.endsWith('/')) return pathname;
  const last = pathname.slice(pathname.lastIndexOf('/') + 1);
  return last.includes('.') ? pathname.slice(0, pathname.lastIndexOf('/') + 1) : `${pathname}/`;
}

/** The WebSocket URL beside the page, over wss when the page came over https. */
export function wsUrl(loc: { protocol: string; host: string; pathname: string }): string {
  return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}${basePath(loc.pathname)}ws`;
}
