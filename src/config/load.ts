// Loads the configuration: YAML file (or the demo defaults), then `EDGELOOP_*` environment overrides, then schema
// defaults, then validation. Every problem is reported at once, each with its key path.
import { readFile } from 'node:fs/promises';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { EdgeloopError } from '../errors.ts';
import type { DriverDefinition } from '../sensors/driver.ts';
import { DRIVERS } from '../sensors/registry.ts';
import { DEMO_CONFIG } from './demo.ts';
import { ConfigSchema, MqttRouteSchema, SensorSchema, type Config, type HttpRouteConfig, type MqttRouteConfig } from './schema.ts';
import { checkValue, type ConfigIssue } from './validate.ts';

export interface LoadedConfig {
  config: Config;
  /** Where it came from: a file path or `demo defaults`. */
  source: string;
}

const ENV_PREFIX = 'EDGELOOP_';
/** Environment variables that are not config keys. */
const ENV_RESERVED = new Set(['EDGELOOP_CONFIG']);

export async function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<LoadedConfig> {
  let raw: unknown;
  if (file === undefined) {
    raw = structuredClone(DEMO_CONFIG);
  } else {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (cause) {
      throw new EdgeloopError('CONFIG_READ', `cannot read config file ${file}: ${(cause as Error).message}`, { cause });
    }
    raw = parseYamlText(text, file);
  }
  return { config: resolveConfig(raw, env), source: file ?? 'demo defaults' };
}

function parseYamlText(text: string, file: string): unknown {
  try {
    return parseYaml(text) ?? {};
  } catch (cause) {
    const where = cause instanceof YAMLParseError && cause.linePos ? ` (line ${cause.linePos[0].line})` : '';
    const issue = { path: '', message: `not valid YAML${where}: ${(cause as Error).message.split('\n')[0]}` };
    throw new EdgeloopError('CONFIG_INVALID', `${file}: not valid YAML${where}`, { cause, details: [issue] });
  }
}

/** Applies env overrides and defaults, validates, and returns the typed config or throws CONFIG_INVALID. */
export function resolveConfig(raw: unknown, env: NodeJS.ProcessEnv = {}): Config {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw invalid([{ path: '', message: 'the config must be a YAML mapping (key: value)' }]);
  }
  const value = structuredClone(raw) as Record<string, unknown>;
  const issues = applyEnv(value, env);
  const withDefaults = applyDefaults(value);
  issues.push(...checkValue(ConfigSchema, withDefaults));
  if (issues.length === 0) {
    issues.push(...checkSensors(withDefaults.sensors as Record<string, unknown>[]));
    issues.push(...checkRoutes(withDefaults.mqtt as MqttRouteConfig | MqttRouteConfig[], withDefaults.http as HttpRouteConfig[]));
  }
  if (issues.length > 0) throw invalid(issues);
  return withDefaults as Config;
}

/** Schema defaults. `mqtt` gets its own: TypeBox would merge a list of routes into the union's `{}` default. */
function applyDefaults(value: Record<string, unknown>): Record<string, unknown> {
  const { mqtt, ...rest } = value;
  const out = Value.Default(ConfigSchema, rest) as Record<string, unknown>;
  if (Array.isArray(mqtt)) out.mqtt = mqtt.map((route: unknown) => Value.Default(MqttRouteSchema, route));
  else if (mqtt !== undefined) out.mqtt = Value.Default(MqttRouteSchema, mqtt);
  return out;
}

function invalid(issues: ConfigIssue[]): EdgeloopError {
  const lines = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message));
  return new EdgeloopError('CONFIG_INVALID', `invalid configuration:\n  ${lines.join('\n  ')}`, { details: issues });
}

/** `EDGELOOP_MQTT__URL=…` sets `mqtt.url`; values are read as YAML scalars (so `5` is a number). */
function applyEnv(target: Record<string, unknown>, env: NodeJS.ProcessEnv): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const [name, text] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || ENV_RESERVED.has(name) || text === undefined) continue;
    const keys = name.slice(ENV_PREFIX.length).toLowerCase().split('__');
    let node: Record<string, unknown> = target;
    for (const [i, key] of keys.entries()) {
      // A key other than an index would be set on the array and silently lost.
      if (Array.isArray(node) && !/^\d+$/.test(key)) {
        const message = `cannot set ${key} on a list: put an index before it (…__0__${key.toUpperCase()})`;
        issues.push({ path: name, message });
        break;
      }
      if (i === keys.length - 1) {
        node[key] = envValue(text);
        break;
      }
      const next = node[key];
      if (next === undefined) node[key] = {};
      else if (typeof next !== 'object' || next === null) {
        issues.push({ path: name, message: `cannot set below ${key}: it is not a mapping` });
        break;
      }
      node = node[key] as Record<string, unknown>;
    }
  }
  return issues;
}

function envValue(text: string): unknown {
  try {
    return parseYaml(text) ?? text;
  } catch {
    return text;
  }
}

/** Each sensor's driver must exist and its own keys must fit the driver's schema; ids must be unique. */
function checkSensors(sensors: Record<string, unknown>[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  sensors.forEach((sensor, i) => {
    const id = sensor.id as string;
    if (seen.has(id)) issues.push({ path: `sensors[${i}].id`, message: `duplicate sensor id ${JSON.stringify(id)}` });
    seen.add(id);
    const def = DRIVERS[sensor.driver as string];
    if (!def) {
      issues.push({ path: `sensors[${i}].driver`, message: `must be one of ${Object.keys(DRIVERS).join(' | ')}` });
      return;
    }
    const options = driverOptions(sensor);
    const withDefaults = Value.Default(def.options, options);
    const found = checkValue(def.options, withDefaults, `sensors[${i}]`);
    if (found.length === 0) {
      const semantic = (def as DriverDefinition<Record<string, unknown>>).check?.(withDefaults as Record<string, unknown>) ?? [];
      found.push(...semantic.map((p) => ({ path: `sensors[${i}].${p.key}`, message: p.message })));
    }
    if (found.length === 0) Object.assign(sensor, withDefaults);
    issues.push(...found);
  });
  return issues;
}

/** An RFC 9110 token. */
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

/**
 * The embedded broker (Aedes) speaks MQTT 3.1.1 only; http header names must be tokens; route names must be unique across mqtt and http, as
 * `mqttRoutes` completes them (they name cursors and metrics).
 */
function checkRoutes(mqtt: MqttRouteConfig | MqttRouteConfig[], http: HttpRouteConfig[]): ConfigIssue[] {
  const list = Array.isArray(mqtt) ? mqtt : [mqtt];
  const at = (i: number) => (Array.isArray(mqtt) ? `mqtt[${i}]` : 'mqtt');
  const issues: ConfigIssue[] = [];
  const names = new Set<string>();
  const claim = (name: string, path: string) => {
    if (names.has(name)) issues.push({ path, message: `duplicate route name ${name}` });
    names.add(name);
  };
  list.forEach((r, i) => {
    if (r.url === undefined && r.protocol_version === 5) {
      issues.push({
        path: `${at(i)}.protocol_version`,
        message: 'the embedded broker speaks MQTT 3.1.1: use 4, or set mqtt.url to an MQTT 5 broker',
      });
    }
    claim(mqttRouteName(r, i, list.length), `${at(i)}.name`);
  });
  http.forEach((r, i) => {
    claim(r.name, `http[${i}].name`);
    for (const name of Object.keys(r.headers)) {
      if (!HEADER_NAME.test(name)) issues.push({ path: `http[${i}].headers.${name}`, message: 'is not a valid HTTP header name' });
    }
  });
  return issues;
}

export type MqttRoute = MqttRouteConfig & { name: string; protocol_version: 4 | 5 };

function mqttRouteName(r: MqttRouteConfig, i: number, count: number): string {
  return r.name ?? (count === 1 ? 'default' : `route${i + 1}`);
}

/** The routes as a list, each with a name and a protocol version. */
export function mqttRoutes(config: Config): MqttRoute[] {
  const list = Array.isArray(config.mqtt) ? config.mqtt : [config.mqtt];
  return list.map((r, i) => ({
    ...r,
    name: mqttRouteName(r, i, list.length),
    protocol_version: r.protocol_version ?? (r.url === undefined ? 4 : 5),
  }));
}

/** The options a driver sees: the sensor entry minus the keys every sensor has. */
export function driverOptions(sensor: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(sensor).filter(([k]) => !(k in SensorSchema.properties)));
}

const SECRET_HEADERS = /^(authorization|cookie|x-api-key)$/i;

/** The config as `GET /api/v1/config` shows it: secrets replaced. */
export function redactConfig(config: Config): Config {
  const copy = structuredClone(config);
  const hide = (o: Record<string, unknown>, k: string) => {
    if (o[k] !== undefined) o[k] = '[redacted]';
  };
  hide(copy.api as Record<string, unknown>, 'token');
  for (const r of Array.isArray(copy.mqtt) ? copy.mqtt : [copy.mqtt]) {
    hide(r as Record<string, unknown>, 'password');
    hide(r.tls as Record<string, unknown>, 'key');
  }
  for (const r of copy.http) {
    for (const name of Object.keys(r.headers)) if (SECRET_HEADERS.test(name)) hide(r.headers, name);
  }
  return copy;
}
