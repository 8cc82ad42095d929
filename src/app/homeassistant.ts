// Home Assistant discovery, composed: through the mqtt route the config names (default: the first), announcing the
// sensors that are not opted out and the cameras.
import type { Logger } from '../telemetry/logger.ts';
import { HaAnnouncer } from '../transport/ha-announcer.ts';
import type { DiscoveryCamera } from '../transport/ha-discovery.ts';
import { MqttAdapter } from '../transport/mqtt.ts';
import type { Config } from './config.ts';
import type { Route } from './status.ts';
import { VERSION } from './version.ts';

/** The announcer for this config, or undefined when discovery is off or no mqtt route carries it. */
export function homeAssistant(config: Config, routes: readonly Route[], log: Logger): HaAnnouncer | undefined {
  const ha = config.homeassistant;
  if (!ha.enabled) return undefined;
  const adapters = routes.map((r) => r.adapter).filter((a) => a instanceof MqttAdapter);
  const adapter = ha.route === undefined ? adapters[0] : adapters.find((a) => a.name === ha.route);
  if (!adapter) return undefined;
  const downlink = adapter.downlink;
  return new HaAnnouncer({
    link: {
      retain: (topic, payload) => adapter.retain(topic, payload),
      subscribe: (filter, handler) => downlink.subscribe(filter, handler),
      on: (event, listener) => adapter.on(event, listener),
      off: (event, listener) => adapter.off(event, listener),
      get state() {
        return adapter.state;
      },
    },
    context: { device: config.device.id, prefix: ha.prefix, version: VERSION },
    sensors: config.sensors
      .filter((s) => s.homeassistant?.enabled !== false)
      .map((s) => ({ id: s.id, unit: s.unit, homeassistant: s.homeassistant })),
    cameras: camerasOf(config),
    log,
  });
}

/** The configured cameras (`cameras[]`: `id`, `labels`), as discovery needs them; none when the config has no key. */
function camerasOf(config: Config): DiscoveryCamera[] {
  const list = config.cameras;
  if (!Array.isArray(list)) return [];
  return list.flatMap((c: { id?: unknown; labels?: unknown }) =>
    typeof c.id === 'string' ? [{ id: c.id, labels: Array.isArray(c.labels) ? c.labels.filter((l): l is string => typeof l === 'string') : [] }] : [],
  );
}
