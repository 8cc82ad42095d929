// Home Assistant's MQTT discovery schema for the components edgeloop announces, written down from Home Assistant's
// own (components/mqtt: schemas.py, sensor.py, binary_sensor.py; components/sensor/const.py: DEVICE_CLASS_UNITS,
// DEVICE_CLASS_STATE_CLASSES), to check payloads field by field. Stricter than Home Assistant in one way: a key it
// does not know is an error here (it would drop it silently, hiding a typo).
import { Type, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

const Str = Type.String();
const Topic = Type.String({ minLength: 1, pattern: '^[^#+\\u0000]+$' });
const Template = Type.String({ minLength: 1 });
const Enum = (values: readonly string[]) => Type.Union(values.map((v) => Type.Literal(v)));

const Device = Type.Object(
  {
    identifiers: Type.Union([Str, Type.Array(Str)]),
    connections: Type.Optional(Type.Array(Type.Tuple([Str, Str]))),
    manufacturer: Type.Optional(Str),
    model: Type.Optional(Str),
    model_id: Type.Optional(Str),
    name: Type.Optional(Str),
    hw_version: Type.Optional(Str),
    serial_number: Type.Optional(Str),
    sw_version: Type.Optional(Str),
    via_device: Type.Optional(Str),
    suggested_area: Type.Optional(Str),
    configuration_url: Type.Optional(Type.String({ pattern: '^(https?|homeassistant)://' })),
  },
  { additionalProperties: false },
);

const Origin = Type.Object(
  { name: Str, sw_version: Type.Optional(Str), support_url: Type.Optional(Type.String({ pattern: '^https?://' })) },
  { additionalProperties: false },
);

const Availability = Type.Array(
  Type.Object(
    { topic: Topic, payload_available: Type.Optional(Str), payload_not_available: Type.Optional(Str), value_template: Type.Optional(Template) },
    { additionalProperties: false },
  ),
  { minItems: 1 },
);

/** MQTT_ENTITY_COMMON_SCHEMA and MQTT_RO_SCHEMA. */
const COMMON = {
  name: Type.Optional(Type.Union([Str, Type.Null()])),
  unique_id: Type.Optional(Str),
  object_id: Type.Optional(Str),
  default_entity_id: Type.Optional(Str),
  device: Type.Optional(Device),
  origin: Type.Optional(Origin),
  availability: Type.Optional(Availability),
  availability_mode: Type.Optional(Enum(['all', 'any', 'latest'])),
  availability_topic: Type.Optional(Topic),
  availability_template: Type.Optional(Template),
  payload_available: Type.Optional(Str),
  payload_not_available: Type.Optional(Str),
  enabled_by_default: Type.Optional(Type.Boolean()),
  entity_category: Type.Optional(Enum(['config', 'diagnostic'])),
  entity_picture: Type.Optional(Str),
  icon: Type.Optional(Type.String({ pattern: '^[a-z0-9-]+:[a-z0-9-]+$' })),
  json_attributes_topic: Type.Optional(Topic),
  json_attributes_template: Type.Optional(Template),
  encoding: Type.Optional(Str),
  qos: Type.Optional(Type.Union([Type.Literal(0), Type.Literal(1), Type.Literal(2)])),
  state_topic: Topic,
  value_template: Type.Optional(Template),
  expire_after: Type.Optional(Type.Integer({ minimum: 0 })),
  force_update: Type.Optional(Type.Boolean()),
};

export const SENSOR_DEVICE_CLASSES = [
  'date', 'enum', 'timestamp', 'absolute_humidity', 'apparent_power', 'aqi', 'area', 'atmospheric_pressure', 'battery',
  'blood_glucose_concentration', 'carbon_monoxide', 'carbon_dioxide', 'conductivity', 'current', 'data_rate', 'data_size',
  'distance', 'duration', 'energy', 'energy_distance', 'energy_storage', 'frequency', 'gas', 'humidity', 'illuminance',
  'irradiance', 'moisture', 'monetary', 'nitrogen_dioxide', 'nitrogen_monoxide', 'nitrous_oxide', 'ozone', 'ph', 'pm1',
  'pm10', 'pm25', 'pm4', 'power_factor', 'power', 'precipitation', 'precipitation_intensity', 'pressure',
  'reactive_energy', 'reactive_power', 'signal_strength', 'sound_pressure', 'speed', 'sulphur_dioxide', 'temperature',
  'volatile_organic_compounds', 'volatile_organic_compounds_parts', 'voltage', 'volume', 'volume_flow_rate',
  'volume_storage', 'water', 'weight', 'wind_direction', 'wind_speed',
] as const;

const BINARY_SENSOR_DEVICE_CLASSES = [
  'battery', 'battery_charging', 'carbon_monoxide', 'cold', 'connectivity', 'door', 'garage_door', 'gas', 'heat',
  'light', 'lock', 'moisture', 'motion', 'moving', 'occupancy', 'opening', 'plug', 'power', 'presence', 'problem',
  'running', 'safety', 'smoke', 'sound', 'tamper', 'update', 'vibration', 'window',
] as const;

const STATE_CLASSES = ['measurement', 'measurement_angle', 'total', 'total_increasing'] as const;

export const SensorConfigSchema = Type.Object(
  {
    ...COMMON,
    device_class: Type.Optional(Type.Union([Enum(SENSOR_DEVICE_CLASSES), Type.Null()])),
    state_class: Type.Optional(Type.Union([Enum(STATE_CLASSES), Type.Null()])),
    unit_of_measurement: Type.Optional(Type.Union([Str, Type.Null()])),
    suggested_display_precision: Type.Optional(Type.Integer({ minimum: 0 })),
    last_reset_value_template: Type.Optional(Template),
    options: Type.Optional(Type.Array(Str)),
  },
  { additionalProperties: false },
);

export const BinarySensorConfigSchema = Type.Object(
  {
    ...COMMON,
    device_class: Type.Optional(Type.Union([Enum(BINARY_SENSOR_DEVICE_CLASSES), Type.Null()])),
    payload_on: Type.Optional(Str),
    payload_off: Type.Optional(Str),
    off_delay: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);

const ALL_STATE_CLASSES = ['measurement', 'total', 'total_increasing'];
/** DEVICE_CLASS_UNITS and DEVICE_CLASS_STATE_CLASSES for the numeric classes (a unit of `null`: none allowed). */
export const SENSOR_CLASSES: Record<string, { units: (string | null)[]; stateClasses: string[] }> = {
  temperature: { units: ['°C', '°F', 'K'], stateClasses: ['measurement'] },
  pressure: { units: ['Pa', 'hPa', 'kPa', 'bar', 'cbar', 'mbar', 'mmHg', 'inHg', 'psi', 'inH₂O', 'mmH₂O'], stateClasses: ['measurement'] },
  atmospheric_pressure: { units: ['Pa', 'hPa', 'kPa', 'bar', 'cbar', 'mbar', 'mmHg', 'inHg', 'psi'], stateClasses: ['measurement'] },
  voltage: { units: ['μV', 'mV', 'V', 'kV', 'MV'], stateClasses: ['measurement'] },
  current: { units: ['mA', 'A'], stateClasses: ['measurement'] },
  power: { units: ['mW', 'W', 'kW', 'MW', 'GW', 'TW'], stateClasses: ['measurement'] },
  apparent_power: { units: ['mVA', 'VA', 'kVA'], stateClasses: ['measurement'] },
  energy: {
    units: ['J', 'kJ', 'MJ', 'GJ', 'mWh', 'Wh', 'kWh', 'MWh', 'GWh', 'TWh', 'cal', 'kcal', 'Mcal', 'Gcal'],
    stateClasses: ['total', 'total_increasing'],
  },
  frequency: { units: ['Hz', 'kHz', 'MHz', 'GHz'], stateClasses: ['measurement'] },
  illuminance: { units: ['lx'], stateClasses: ['measurement'] },
  irradiance: { units: ['W/m²', 'BTU/(h⋅ft²)'], stateClasses: ['measurement'] },
  signal_strength: { units: ['dB', 'dBm'], stateClasses: ['measurement'] },
  sound_pressure: { units: ['dB', 'dBA'], stateClasses: ['measurement'] },
  speed: { units: ['ft/s', 'in/d', 'in/h', 'in/s', 'km/h', 'kn', 'm/s', 'mph', 'mm/d', 'mm/s', 'Beaufort'], stateClasses: ['measurement'] },
  distance: { units: ['km', 'm', 'cm', 'mm', 'mi', 'nmi', 'yd', 'in', 'ft'], stateClasses: ALL_STATE_CLASSES },
  weight: { units: ['g', 'kg', 'mg', 'μg', 'oz', 'lb', 'st'], stateClasses: ALL_STATE_CLASSES },
  volume_storage: { units: ['L', 'mL', 'gal', 'fl. oz.', 'm³', 'ft³', 'CCF'], stateClasses: ['measurement'] },
  volume_flow_rate: {
    units: ['m³/h', 'm³/s', 'ft³/min', 'L/h', 'L/min', 'L/s', 'gal/h', 'gal/min', 'mL/s'],
    stateClasses: ['measurement'],
  },
  precipitation_intensity: { units: ['in/d', 'in/h', 'mm/d', 'mm/h'], stateClasses: ['measurement'] },
  duration: { units: ['d', 'h', 'min', 's', 'ms', 'μs'], stateClasses: ALL_STATE_CLASSES },
  data_size: {
    units: ['bit', 'kbit', 'Mbit', 'Gbit', 'B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'],
    stateClasses: ALL_STATE_CLASSES,
  },
  data_rate: {
    units: ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s', 'B/s', 'kB/s', 'MB/s', 'GB/s', 'KiB/s', 'MiB/s', 'GiB/s'],
    stateClasses: ['measurement'],
  },
  conductivity: { units: ['S/cm', 'μS/cm', 'mS/cm'], stateClasses: ['measurement'] },
  humidity: { units: ['%'], stateClasses: ['measurement'] },
  battery: { units: ['%'], stateClasses: ['measurement'] },
  carbon_dioxide: { units: ['ppm'], stateClasses: ['measurement'] },
  ph: { units: [null], stateClasses: ['measurement'] },
};

/** Problems with a payload, each as `path: message`; none when Home Assistant would take it as intended. */
export function haProblems(component: 'sensor' | 'binary_sensor', payload: unknown): string[] {
  const schema: TSchema = component === 'sensor' ? SensorConfigSchema : BinarySensorConfigSchema;
  const problems = [...Value.Errors(schema, payload)].map((e) => `${e.path || '/'}: ${e.message}`);
  if (problems.length > 0) return problems;
  const p = payload as Record<string, unknown>;
  const device = p.device as { identifiers?: unknown; connections?: unknown[] } | undefined;
  if (device && !(device.identifiers && (device.identifiers as unknown[]).length !== 0) && !device.connections?.length) {
    problems.push('/device: must have at least one identifying value in identifiers and/or connections');
  }
  if (p.availability !== undefined && p.availability_topic !== undefined) problems.push('/availability: exclusive with availability_topic');
  if (component === 'sensor' && typeof p.device_class === 'string') {
    const known = SENSOR_CLASSES[p.device_class];
    if (!known) problems.push(`/device_class: ${p.device_class} is not covered by this check`);
    else {
      const unit = (p.unit_of_measurement as string | undefined) ?? null;
      if (!known.units.includes(unit)) problems.push(`/unit_of_measurement: ${unit} is not valid with device class ${p.device_class}`);
      if (p.state_class !== undefined && !known.stateClasses.includes(p.state_class as string)) {
        problems.push(`/state_class: ${String(p.state_class)} is not valid with device class ${p.device_class}`);
      }
    }
  }
  return problems;
}
