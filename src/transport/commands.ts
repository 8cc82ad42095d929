// Commands from upstream, for the components that act on them (OTA model updates on `edgeloop/<device>/ota/cmd`, …).
// A component registers a handler for a topic below `edgeloop/<device>/` without knowing which route carries it; the
// app attaches every route whose adapter has a downlink, and each handler is subscribed on each of them, now and after
// every reconnect. Delivery is at least once (MQTT QoS 1, and several routes may carry the same command): handlers
// must be idempotent, e.g. by the id or version a command carries.
import { errorCode, isEdgeloopError, messageOf } from '../errors.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { topicFilterProblem, type Command, type Downlink } from './adapter.ts';

/** A component's handler; a rejection or a throw is logged and counted, never lost silently. */
export type CommandListener = (command: Command) => void | Promise<void>;

export interface CommandsOptions {
  device: string;
  log: Logger;
  metrics: Metrics;
}

interface Handler {
  filter: string;
  listener: CommandListener;
  /** Unsubscribe functions, one per attached route. */
  routes: Map<string, () => void>;
}

export class Commands {
  readonly prefix: string;
  #o: CommandsOptions;
  #handlers = new Set<Handler>();
  #downlinks = new Map<string, Downlink>();

  constructor(options: CommandsOptions) {
    this.#o = options;
    this.prefix = `edgeloop/${options.device}/`;
  }

  /**
   * Calls `listener` with every command on `topic` (below `edgeloop/<device>/`; `+` and `#` allowed) from every route
   * that carries commands. Returns the function that stops it.
   */
  handle(topic: string, listener: CommandListener): () => void {
    const problem = topicFilterProblem(topic);
    if (problem) throw new TypeError(`command topic ${JSON.stringify(topic)}: ${problem}`);
    const handler: Handler = { filter: this.prefix + topic, listener, routes: new Map() };
    this.#handlers.add(handler);
    for (const [route, downlink] of this.#downlinks) this.#subscribe(handler, route, downlink);
    return () => {
      this.#handlers.delete(handler);
      for (const off of handler.routes.values()) off();
      handler.routes.clear();
    };
  }

  /** The app: route `route` brings commands down through `downlink`. */
  attach(route: string, downlink: Downlink): void {
    this.#downlinks.set(route, downlink);
    for (const handler of this.#handlers) this.#subscribe(handler, route, downlink);
  }

  /** Routes commands can come through. */
  get routes(): string[] {
    return [...this.#downlinks.keys()];
  }

  #subscribe(handler: Handler, route: string, downlink: Downlink): void {
    handler.routes.set(route, downlink.subscribe(handler.filter, (command) => this.#dispatch(handler, command)));
  }

  #dispatch(handler: Handler, command: Command): void {
    const { log, metrics } = this.#o;
    const failed = (err: unknown) => {
      metrics.commands.inc({ route: command.route, outcome: 'error' });
      const code = isEdgeloopError(err) ? err.code : errorCode('INTERNAL');
      log.error({ route: command.route, topic: command.topic, code, err: messageOf(err) }, 'command failed');
    };
    try {
      const pending = handler.listener(command);
      if (pending instanceof Promise) {
        pending.then(() => metrics.commands.inc({ route: command.route, outcome: 'ok' }), failed);
      } else {
        metrics.commands.inc({ route: command.route, outcome: 'ok' });
      }
    } catch (err) {
      failed(err);
    }
  }
}
