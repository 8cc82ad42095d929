// A reverse proxy that serves a backend under a sub-path (`/edge/…` → `/…`), WebSocket upgrades included, the way
// nginx or Caddy is set up in front of a device UI. Anything outside the prefix gets a 404 from the proxy itself.
import { createServer, request, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';

export interface PathProxy {
  /** http://127.0.0.1:<port><prefix>/ */
  url: string;
  /** Paths the proxy was asked for, as the browser sent them. */
  seen: string[];
  close(): Promise<void>;
}

export async function startPathProxy(backendPort: number, prefix: string): Promise<PathProxy> {
  const seen: string[] = [];
  const strip = (req: IncomingMessage): string | undefined => {
    const url = req.url ?? '/';
    seen.push(url);
    // `/edge` itself is the page too, as with a proxy that does not redirect to the trailing slash.
    if (url === prefix) return '/';
    return url.startsWith(`${prefix}/`) ? url.slice(prefix.length) : undefined;
  };
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const path = strip(req);
    if (path === undefined) {
      res.writeHead(404).end('outside the proxied prefix');
      return;
    }
    const upstream = request({ host: '127.0.0.1', port: backendPort, method: req.method, path, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end('backend unreachable'));
    req.pipe(upstream);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.on('upgrade', (req, client: Socket, head) => {
    const path = strip(req);
    if (path === undefined) return client.destroy();
    const backend = connect(backendPort, '127.0.0.1', () => {
      const lines = [`${req.method} ${path} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      backend.write(`${lines.join('\r\n')}\r\n\r\n`);
      backend.write(head);
      backend.pipe(client).pipe(backend);
    });
    sockets.add(backend);
    backend.once('close', () => sockets.delete(backend));
    backend.on('error', () => client.destroy());
    client.on('error', () => backend.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}${prefix}/`,
    seen,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
