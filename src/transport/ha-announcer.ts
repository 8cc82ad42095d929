// Announces the gateway's entities to Home Assistant over one MQTT route, the way Zigbee2MQTT does: every config is
// published retained at each connect and again whenever Home Assistant says it is back (`<prefix>/status` =
// `online`), and a config of this device that is no longer wanted (a sensor or camera that left the config, seen in
// the retained configs at connect, or dropped by `update`) is removed with an empty retained message.
import type { Logger } from '../telemetry/logger.ts';
import { discoveryMessages, type DiscoveryCamera, type DiscoveryContext, type DiscoverySensor } from './ha-discovery.ts';

/** What the announcer needs of an MQTT route. */
export interface DiscoveryLink {
  /** Publishes retained with QoS 1; dropped when not connected (all is announced again at the next `ready`). */
  retain(topic: string, payload: string): void;
  /** Delivers every message on `filter` until the returned function is called, across reconnects. */
  subscribe(filter: string, handler: (message: { topic: string; payload: Buffer }) => void): () => void;
  on(event: 'ready', listener: () => void): unknown;
  off(event: 'ready', listener: () => void): unknown;
  readonly state: string;
}

export interface HaAnnouncerOptions {
  link: DiscoveryLink;
  context: DiscoveryContext;
  sensors: readonly DiscoverySensor[];
  cameras: readonly DiscoveryCamera[];
  log: Logger;
}

export class HaAnnouncer {
  #o: HaAnnouncerOptions;
  /** Config topic → payload, as announced now. */
  #configs = new Map<string, string>();
  #stops: (() => void)[] = [];
  #identifier: string;
  /** Configs of this device to remove, kept until connected (retained ones can arrive before `ready`). */
  #stale = new Set<string>();

  constructor(options: HaAnnouncerOptions) {
    this.#o = options;
    this.#identifier = `edgeloop_${options.context.device}`;
    this.#configs = this.#build(options.sensors, options.cameras);
  }

  /** The config topics announced now. */
  get topics(): string[] {
    return [...this.#configs.keys()];
  }

  start(): void {
    const { link, context } = this.#o;
    const announce = () => this.#announce();
    link.on('ready', announce);
    this.#stops.push(
      () => link.off('ready', announce),
      link.subscribe(`${context.prefix}/status`, ({ payload }) => {
        if (payload.toString().trim().toLowerCase() === 'online') this.#announce();
      }),
      // The retained configs arrive at each subscribe: ours that are no longer wanted are removed.
      link.subscribe(`${context.prefix}/+/+/config`, ({ topic, payload }) => this.#clearIfStale(topic, payload)),
    );
    if (link.state === 'connected') this.#announce();
  }

  /** The sensors or cameras changed (a reload): entities that left are removed, the rest announced again. */
  update(sensors: readonly DiscoverySensor[], cameras: readonly DiscoveryCamera[]): void {
    const next = this.#build(sensors, cameras);
    for (const topic of this.#configs.keys()) if (!next.has(topic)) this.#stale.add(topic);
    this.#configs = next;
    this.#announce();
  }

  stop(): void {
    for (const stop of this.#stops.splice(0)) stop();
  }

  #build(sensors: readonly DiscoverySensor[], cameras: readonly DiscoveryCamera[]): Map<string, string> {
    return new Map(discoveryMessages(this.#o.context, sensors, cameras).map((m) => [m.topic, JSON.stringify(m.payload)]));
  }

  #announce(): void {
    if (this.#o.link.state !== 'connected') return;
    for (const [topic, payload] of this.#configs) this.#o.link.retain(topic, payload);
    this.#o.log.debug({ entities: this.#configs.size, prefix: this.#o.context.prefix }, 'home assistant discovery announced');
    this.#removeStale();
  }

  #clearIfStale(topic: string, payload: Buffer): void {
    // Every device's configs come by here (a Zigbee2MQTT has hundreds): most are told apart without parsing.
    if (payload.length === 0 || this.#configs.has(topic) || !payload.includes(this.#identifier)) return;
    let config: { device?: { identifiers?: unknown } };
    try {
      config = JSON.parse(payload.toString()) as typeof config;
    } catch {
      return;
    }
    const ids = config.device?.identifiers;
    if (!(Array.isArray(ids) ? ids.includes(this.#identifier) : ids === this.#identifier)) return;
    this.#stale.add(topic);
    this.#removeStale();
  }

  /** An empty retained config removes the entity from Home Assistant. */
  #removeStale(): void {
    if (this.#o.link.state !== 'connected') return;
    for (const topic of this.#stale) {
      if (this.#configs.has(topic)) continue;
      this.#o.log.info({ topic }, 'home assistant entity removed');
      this.#o.link.retain(topic, '');
    }
    this.#stale.clear();
  }
}
