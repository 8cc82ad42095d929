// The outbox seen and operated from outside: depth, bytes, age, in-flight, dead letters; purge.
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { GatewayView } from '../view.ts';

const PurgeBody = Type.Object(
  { confirm: Type.Literal(true, { description: 'must be true: purging deletes every waiting record' }) },
  { additionalProperties: false },
);

export function outboxRoutes(app: FastifyInstance, gw: GatewayView): void {
  app.get('/api/v1/outbox', async () => gw.outbox());
  app.post('/api/v1/outbox/purge', { schema: { body: PurgeBody } }, async () => ({ purged: gw.purgeOutbox() }));
}
