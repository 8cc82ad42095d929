// Bearer-token authentication: with `api.token` set, every route but the health check and the dashboard page (which
// shows the login form) needs `Authorization: Bearer <token>`. Browsers cannot set headers on a WebSocket, so the
// upgrade may carry the token as a subprotocol `edgeloop.token.<base64url(token)>` beside `edgeloop` (kept out of URLs
// and access logs, the way Kubernetes does it), or as `?token=` for tools that can do nothing else.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

const OPEN_ROUTES = new Set(['/api/v1/health', '/']);
/** The subprotocol the dashboard speaks; the server selects it, never the one carrying the token. */
export const WS_PROTOCOL = 'edgeloop';
export const WS_TOKEN_PROTOCOL_PREFIX = 'edgeloop.token.';

/** The token a WebSocket upgrade carries in its subprotocol list, if any. */
function protocolToken(header: string | undefined): string | undefined {
  for (const p of header?.split(',') ?? []) {
    const v = p.trim();
    if (v.startsWith(WS_TOKEN_PROTOCOL_PREFIX)) return Buffer.from(v.slice(WS_TOKEN_PROTOCOL_PREFIX.length), 'base64url').toString();
  }
  return undefined;
}

/** Picks the subprotocol to answer with: the first one offered that does not carry a token. */
export function selectProtocol(offered: Set<string>): string | false {
  return [...offered].find((p) => !p.startsWith(WS_TOKEN_PROTOCOL_PREFIX)) ?? false;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export function makeAuthorizer(token: string | undefined): (req: FastifyRequest) => boolean {
  if (token === undefined) return () => true;
  const expected = digest(token);
  // Compare digests so the comparison takes the same time whatever the length of the guess.
  const matches = (given: string | undefined) => given !== undefined && timingSafeEqual(digest(given), expected);
  return (req) => {
    const path = req.routeOptions.url ?? req.url.split('?')[0];
    if (path !== undefined && OPEN_ROUTES.has(path)) return true;
    const header = req.headers.authorization;
    if (header?.startsWith('Bearer ') && matches(header.slice(7))) return true;
    if (path === '/ws') {
      if (matches(protocolToken(req.headers['sec-websocket-protocol']))) return true;
      const q = (req.query as Record<string, unknown> | undefined)?.token;
      if (typeof q === 'string' && matches(q)) return true;
    }
    return false;
  };
}
