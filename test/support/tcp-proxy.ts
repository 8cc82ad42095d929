// A TCP middlebox between a client (the gateway) and a server (the broker)
// that can simulate a network partition.
//
// blackhole() behaves like a link that silently stops carrying packets: no
// bytes cross, no FIN or RST crosses, sockets stay open and nobody is told.
// Reading is paused rather than discarded because that is what TCP does
// across a partition: unacknowledged bytes are retransmitted and arrive,
// late, once the link heals (if the peer has not given up on them by then).
// Dropping bytes instead would corrupt the MQTT framing, which no real
// network does. cutAll() is the other failure mode: an abrupt RST on every
// connection, as when a NAT or a middlebox loses its state.
import { createConnection, createServer } from 'node:net';
import type { Socket } from 'node:net';

export interface TcpProxyOptions {
  targetPort: number;
  targetHost?: string;
}

export interface TcpProxyStats {
  /** Client connections accepted since start. */
  accepted: number;
  /** Connection pairs currently open (including those frozen by a blackhole). */
  active: number;
  /** Connections accepted during a blackhole and not connected upstream. */
  held: number;
  bytesToTarget: number;
  bytesToClient: number;
  blackholed: boolean;
}

export interface TcpProxy {
  readonly port: number;
  blackhole(): void;
  /**
   * Resume forwarding on the pairs that existed before the cut; closes that
   * happened during it propagate now. Connections accepted during the cut are
   * destroyed: their clients will reconnect.
   */
  heal(): void;
  /** Reset every connection (RST), held ones included. Does not change blackhole state. */
  cutAll(): void;
  close(): Promise<void>;
  stats(): TcpProxyStats;
}

interface Pair {
  client: Socket;
  target: Socket;
  /** Set when one side closed while blackholed; the other side learns on heal(). */
  closedDuringCut: boolean;
}

export async function startTcpProxy(opts: TcpProxyOptions): Promise<TcpProxy> {
  const targetHost = opts.targetHost ?? '127.0.0.1';
  const pairs = new Set<Pair>();
  const held = new Set<Socket>();
  let cut = false;
  const counters = { accepted: 0, bytesToTarget: 0, bytesToClient: 0 };

  const forward = (from: Socket, to: Socket, count: (bytes: number) => void): void => {
    from.on('data', (chunk: Buffer) => {
      count(chunk.length);
      if (!to.write(chunk)) from.pause();
    });
    to.on('drain', () => {
      if (!cut) from.resume();
    });
    from.on('end', () => to.end());
  };

  const teardown = (pair: Pair): void => {
    pairs.delete(pair);
    pair.client.destroy();
    pair.target.destroy();
  };

  const server = createServer({ allowHalfOpen: true }, (client) => {
    counters.accepted += 1;
    client.on('error', () => {});
    if (cut) {
      // The client's connect succeeds (the listener is local) but nothing answers.
      client.pause();
      held.add(client);
      client.once('close', () => held.delete(client));
      return;
    }
    const target = createConnection({ port: opts.targetPort, host: targetHost, allowHalfOpen: true });
    target.on('error', () => {});
    target.setNoDelay(true);
    client.setNoDelay(true);
    const pair: Pair = { client, target, closedDuringCut: false };
    pairs.add(pair);
    forward(client, target, (n) => (counters.bytesToTarget += n));
    forward(target, client, (n) => (counters.bytesToClient += n));
    const onClose = (): void => {
      if (!pairs.has(pair)) return;
      if (cut) pair.closedDuringCut = true;
      else teardown(pair);
    };
    client.once('close', onClose);
    target.once('close', onClose);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no TCP address');

  const resetAll = (): void => {
    for (const pair of pairs) {
      pairs.delete(pair);
      pair.client.resetAndDestroy();
      pair.target.resetAndDestroy();
    }
    for (const socket of held) socket.resetAndDestroy();
    held.clear();
  };

  return {
    port: address.port,
    blackhole() {
      cut = true;
      for (const { client, target } of pairs) {
        client.pause();
        target.pause();
      }
    },
    heal() {
      cut = false;
      for (const socket of held) socket.destroy();
      held.clear();
      for (const pair of pairs) {
        if (pair.closedDuringCut) {
          teardown(pair);
        } else {
          pair.client.resume();
          pair.target.resume();
        }
      }
    },
    cutAll: resetAll,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      resetAll();
      await closed;
    },
    stats: () => ({ ...counters, active: pairs.size, held: held.size, blackholed: cut }),
  };
}
