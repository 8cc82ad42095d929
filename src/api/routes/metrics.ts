// Prometheus exposition.
import type { FastifyInstance } from 'fastify';
import type { GatewayView } from '../view.ts';

export function metricsRoutes(app: FastifyInstance, gw: GatewayView): void {
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', gw.metrics.registry.contentType);
    return gw.metrics.render();
  });
}
