// Bearer-token authentication: with `api.token` set, every route but the health check needs
// `Authorization: Bearer <token>`; the WebSocket upgrade may carry it as `?token=` (browsers cannot set headers).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

const OPEN_ROUTES = new Set(['/api/v1/health']);

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
      const q = (req.query as Record<string, unknown> | undefined)?.token;
      if (typeof q === 'string' && matches(q)) return true;
    }
    return false;
  };
}
