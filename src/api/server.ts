// The HTTP API, WebSocket and /metrics on one port (Fastify 5). Errors leave as
// `{error: EDGELOOP_ERR_*, message, hint}` with the catalogue's HTTP status.
import websocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { EdgeloopError, isEdgeloopError } from '../errors.ts';
import { redact } from '../lib/redact.ts';
import type { Logger } from '../telemetry/logger.ts';
import { makeAuthorizer, selectProtocol } from './auth.ts';
import { dashboardRoutes } from './routes/dashboard.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { outboxRoutes } from './routes/outbox.ts';
import { statusRoutes } from './routes/status.ts';
import type { GatewayView } from './view.ts';
import { WS_MAX_PAYLOAD, wsRoute } from './ws.ts';

export interface ApiOptions {
  host: string;
  port: number;
  token?: string | undefined;
  wsMaxBufferedBytes: number;
  log: Logger;
}

export interface ApiServer {
  app: FastifyInstance;
  url: string;
  port: number;
  wsClients(): number;
  close(): Promise<void>;
}

function errorBody(err: EdgeloopError) {
  return { error: err.code, message: err.message, hint: err.hint };
}

export async function buildApi(gw: GatewayView, o: Omit<ApiOptions, 'host' | 'port'>): Promise<{ app: FastifyInstance; wsClients: () => number }> {
  const app = Fastify({
    loggerInstance: o.log.child({ component: 'api' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    // Fastify's defaults coerce types and strip unknown keys, so `{"confirm": 1}` or `{"confirm": "yes"}` would pass
    // as `true` and purge the outbox: bodies must match their schema as sent.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
  });
  await app.register(websocket, { options: { maxPayload: WS_MAX_PAYLOAD, handleProtocols: selectProtocol } });
  // Whatever a route answers, no secret leaves: the configured ones and anything that looks like one.
  app.addHook('onSend', async (_req, _reply, payload) => (typeof payload === 'string' ? redact(payload, gw.secrets) : payload));
  const authorized = makeAuthorizer(o.token);
  app.addHook('onRequest', async (req, reply) => {
    if (!authorized(req)) {
      const err = new EdgeloopError('UNAUTHORIZED', 'missing or wrong API token');
      return reply.code(401).header('www-authenticate', 'Bearer').send(errorBody(err));
    }
  });
  app.setErrorHandler((err, _req, reply) => {
    if (isEdgeloopError(err)) return reply.code(err.statusCode).send(errorBody(err));
    const e = err as { validation?: unknown; statusCode?: number; message: string };
    if (e.validation || (e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500)) {
      return reply.code(400).send(errorBody(new EdgeloopError('BAD_REQUEST', e.message)));
    }
    o.log.error({ err }, 'api error');
    const internal = new EdgeloopError('INTERNAL', 'internal error; see the gateway log');
    return reply.code(internal.statusCode).send(errorBody(internal));
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send(errorBody(new EdgeloopError('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`))),
  );
  statusRoutes(app, gw);
  outboxRoutes(app, gw);
  metricsRoutes(app, gw);
  dashboardRoutes(app, { authRequired: o.token !== undefined });
  const ws = wsRoute(app, gw, o.wsMaxBufferedBytes);
  return { app, wsClients: ws.clients };
}

export async function startApi(gw: GatewayView, o: ApiOptions): Promise<ApiServer> {
  const { app, wsClients } = await buildApi(gw, o);
  try {
    await app.listen({ host: o.host, port: o.port });
  } catch (err) {
    await app.close();
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new EdgeloopError('API_PORT_IN_USE', `the API cannot listen on ${o.host}:${o.port}: the port is in use`, { cause: err });
    }
    throw err;
  }
  const port = (app.server.address() as { port: number }).port;
  const shownHost = o.host === '0.0.0.0' || o.host === '::' ? '127.0.0.1' : o.host;
  return { app, port, url: `http://${shownHost}:${port}`, wsClients, close: () => app.close() };
}
