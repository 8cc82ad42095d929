// The command subscriptions of an adapter whose protocol follows a topic (NATS: a consumer, CoAP: an observation):
// handlers by topic filter, kept across reconnects. The adapter starts following a filter when its first handler
// comes and stops with its last, and hands every message it gets to `dispatch`.
import { errorCode, messageOf } from '../errors.ts';
import { topicMatches } from '../pipeline/live-bus.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { CommandHandler } from './adapter.ts';

export interface SubscriptionsOptions {
  route: string;
  log: Logger;
  /** The first handler of `filter` came: follow it (now, if connected; the adapter follows all at each connect). */
  follow(filter: string): void;
  /** Its last handler went. */
  unfollow(filter: string): void;
}

export class Subscriptions {
  #o: SubscriptionsOptions;
  #handlers = new Map<string, Set<CommandHandler>>();

  constructor(options: SubscriptionsOptions) {
    this.#o = options;
  }

  /** The filters followed now. */
  get filters(): string[] {
    return [...this.#handlers.keys()];
  }

  add(filter: string, handler: CommandHandler): () => void {
    let handlers = this.#handlers.get(filter);
    if (!handlers) {
      handlers = new Set();
      this.#handlers.set(filter, handlers);
      this.#o.follow(filter);
    }
    handlers.add(handler);
    const mine = handlers;
    return () => {
      mine.delete(handler);
      if (mine.size > 0 || this.#handlers.get(filter) !== mine) return;
      this.#handlers.delete(filter);
      this.#o.unfollow(filter);
    };
  }

  /** Hands a message to every handler of a filter it matches; a handler that throws does not stop the others. */
  dispatch(topic: string, payload: Buffer, qos: 0 | 1 | 2): void {
    for (const [filter, handlers] of this.#handlers) {
      if (!topicMatches(filter, topic)) continue;
      for (const handler of handlers) {
        try {
          handler({ route: this.#o.route, topic, payload, qos });
        } catch (err) {
          this.#o.log.error({ route: this.#o.route, topic, code: errorCode('INTERNAL'), err: messageOf(err) }, 'command handler threw');
        }
      }
    }
  }
}
