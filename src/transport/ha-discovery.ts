// Home Assistant MQTT discovery payloads, as Zigbee2MQTT writes them: one retained config per entity under
// `<prefix>/<component>/<object id>/config`, each with a `unique_id`, the gateway as its `device` (so every entity
// lands on one device card), `origin`, and `availability` on the gateway's status topic. Pure: the announcer
// (ha-announcer.ts) publishes them, and clears the ones that no longer exist.
import { haUnit } from './ha-units.ts';

/** A sensor channel, as discovery needs it. */
export interface DiscoverySensor {
  id: string;
  unit: string;
  /** What the user set under the sensor's `homeassistant` key. */
  homeassistant?: { name?: string | undefined; device_class?: string | undefined; state_class?: string | undefined; icon?: string | undefined } | undefined;
}

/** A camera, as discovery needs it: its id and the labels its model detects. */
export interface DiscoveryCamera {
  id: string;
  labels: readonly string[];
}

export interface DiscoveryContext {
  /** The device id: `edgeloop/<device>/…`. */
  device: string;
  /** The discovery prefix, `homeassistant` by default. */
  prefix: string;
  version: string;
  /** The dashboard, shown as the device's "Visit" link. */
  configurationUrl?: string | undefined;
}

export interface DiscoveryMessage {
  topic: string;
  payload: Record<string, unknown>;
}

/**
 * Where the camera pipeline publishes, retained, below `edgeloop/<device>/`: motion (`{"state": "ON"|"OFF"}`), the
 * count of each label (`{"label", "count"}`, the label made topic-safe) and the camera's availability
 * (`{"state": "online"|"offline"}`).
 */
export const cameraTopics = {
  motion: (camera: string) => `cameras/${camera}/motion`,
  count: (camera: string, label: string) => `cameras/${camera}/${label.replace(/[^A-Za-z0-9_-]/g, '_')}`,
  availability: (camera: string) => `cameras/${camera}/availability`,
};

/** Frigate's icons for the labels people count most. */
const LABEL_ICONS: Record<string, string> = {
  person: 'mdi:human',
  car: 'mdi:car',
  truck: 'mdi:truck',
  bus: 'mdi:bus',
  bicycle: 'mdi:bicycle',
  motorcycle: 'mdi:motorbike',
  dog: 'mdi:dog',
  cat: 'mdi:cat',
  bird: 'mdi:bird',
  face: 'mdi:face-recognition',
};

/** Discovery object ids may hold only letters, digits, `_` and `-`. */
export function objectId(...parts: string[]): string {
  return parts.join('_').replace(/[^A-Za-z0-9_-]/g, '_');
}

/** Every entity of the gateway: its connectivity, each sensor, and per camera motion and one count per label. */
export function discoveryMessages(ctx: DiscoveryContext, sensors: readonly DiscoverySensor[], cameras: readonly DiscoveryCamera[]): DiscoveryMessage[] {
  const base = `edgeloop/${ctx.device}`;
  const status = `${base}/status`;
  const common = {
    device: {
      identifiers: [`edgeloop_${ctx.device}`],
      name: ctx.device,
      manufacturer: 'edgeloop',
      model: 'edgeloop gateway',
      sw_version: ctx.version,
      ...(ctx.configurationUrl ? { configuration_url: ctx.configurationUrl } : {}),
    },
    origin: { name: 'edgeloop', sw_version: ctx.version },
    qos: 1,
  };
  const entity = (component: 'sensor' | 'binary_sensor', id: string, payload: Record<string, unknown>): DiscoveryMessage => ({
    topic: `${ctx.prefix}/${component}/${id}/config`,
    payload: { ...payload, unique_id: `edgeloop_${id}`, ...common },
  });
  const available = { availability: [{ topic: status }] };

  const out: DiscoveryMessage[] = [
    // The gateway itself, online or offline: its status topic, retained and set by the last will.
    entity('binary_sensor', objectId(ctx.device, 'connectivity'), {
      name: 'Connectivity',
      state_topic: status,
      payload_on: 'online',
      payload_off: 'offline',
      device_class: 'connectivity',
      entity_category: 'diagnostic',
    }),
  ];
  for (const s of sensors) {
    const ha = s.homeassistant ?? {};
    const fromUnit = haUnit(s.unit);
    const deviceClass = ha.device_class ?? ('device_class' in fromUnit ? fromUnit.device_class : undefined);
    out.push(
      entity('sensor', objectId(ctx.device, s.id), {
        name: ha.name ?? s.id,
        state_topic: `${base}/sensors/${s.id}`,
        value_template: '{{ value_json.value }}',
        ...('unit' in fromUnit ? { unit_of_measurement: fromUnit.unit } : {}),
        ...(deviceClass ? { device_class: deviceClass } : {}),
        state_class: ha.state_class ?? fromUnit.state_class,
        ...(ha.icon ? { icon: ha.icon } : {}),
        ...available,
      }),
    );
  }
  for (const c of cameras) {
    // A camera's entities are available while the gateway is and the camera delivers frames.
    const cameraAvailable = {
      availability: [{ topic: status }, { topic: `${base}/${cameraTopics.availability(c.id)}`, value_template: '{{ value_json.state }}' }],
      availability_mode: 'all',
    };
    out.push(
      entity('binary_sensor', objectId(ctx.device, c.id, 'motion'), {
        name: `${c.id} motion`,
        state_topic: `${base}/${cameraTopics.motion(c.id)}`,
        value_template: '{{ value_json.state }}',
        payload_on: 'ON',
        payload_off: 'OFF',
        device_class: 'motion',
        ...cameraAvailable,
      }),
    );
    for (const label of c.labels) {
      out.push(
        entity('sensor', objectId(ctx.device, c.id, label, 'count'), {
          name: `${c.id} ${label} count`,
          state_topic: `${base}/${cameraTopics.count(c.id, label)}`,
          value_template: '{{ value_json.count }}',
          state_class: 'measurement',
          icon: LABEL_ICONS[label] ?? 'mdi:shape',
          ...cameraAvailable,
        }),
      );
    }
  }
  return out;
}
