// The embedded MQTT broker (Aedes) used when no `mqtt.url` is configured, so a fresh install works with no other
// software. It listens on broker.host:broker.port and refuses to start if that port is taken, rather than
// silently publishing to whatever broker already listens there.
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { Aedes } from 'aedes';
import { EdgeloopError } from '../errors.ts';

export interface EmbeddedBroker {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startEmbeddedBroker(host: string, port: number): Promise<EmbeddedBroker> {
  const broker = await Aedes.createBroker();
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    // PUBACKs are small: without it each waits for the client's delayed ACK.
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  try {
    server.listen(port, host);
    await once(server, 'listening');
  } catch (err) {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new EdgeloopError(
        'BROKER_PORT_IN_USE',
        `cannot start the embedded MQTT broker: ${host}:${port} is already in use ` +
          `(from the environment: EDGELOOP_BROKER__PORT, EDGELOOP_MQTT__URL)`,
        { cause: err },
      );
    }
    throw err;
  }
  const actual = (server.address() as { port: number }).port;
  return {
    url: `mqtt://${host}:${actual}`,
    port: actual,
    close: async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      // A client still waiting for its CONNACK would hold server.close() open until it gives up.
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
