// Read-only views: health, status, sensors, config (secrets redacted).
import type { FastifyInstance } from 'fastify';
import { redact } from '../../lib/redact.ts';
import type { GatewayView } from '../view.ts';

export function statusRoutes(app: FastifyInstance, gw: GatewayView): void {
  app.get('/api/v1/health', async () => ({ status: 'ok' }));
  app.get('/api/v1/status', async () => ({ ...gw.status(), drops: await gw.metrics.dropTotals() }));
  app.get('/api/v1/sensors', async () => ({ sensors: gw.sensors() }));
  app.get('/api/v1/config', async () => redact(gw.config(), gw.secrets));
}
