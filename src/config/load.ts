// Loads the configuration: YAML file (or the demo defaults), then `EDGELOOP_*` environment overrides, then schema
// defaults, then validation. Every problem is reported at once, each with its key path.
import { readFile } from 'node:fs/promises';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { EdgeloopError } from '../errors.ts';
import { DRIVERS } from '../sensors/registry.ts';
import { DEMO_CONFIG } from './demo.ts';
import { ConfigSchema, SensorSchema, type Config, type MqttRouteConfig } from './schema.ts';
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
  const withDefaults = Value.Default(ConfigSchema, value) as Record<string, unknown>;
  issues.push(...checkValue(ConfigSchema, withDefaults));
  if (issues.length === 0) issues.push(...checkSensors(withDefaults.sensors as Record<string, unknown>[]));
  if (issues.length > 0) throw invalid(issues);
  return withDefaults as Config;
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
    for (const key of keys.slice(0, -1)) {
      const next = node[key];
      if (next === undefined) node[key] = {};
      else if (typeof next !== 'object' || next === null) {
        issues.push({ path: name, message: `cannot set below ${key}: it is not a mapping` });
        node = {};
        continue;
      }
      node = node[key] as Record<string, unknown>;
    }
    let value: unknown;
    try {
      value = parseYaml(text);
    } catch {
      value = text;
    }
    node[keys[keys.length - 1] as string] = value ?? text;
  }
  return issues;
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
    if (found.length === 0) Object.assign(sensor, withDefaults);
    issues.push(...found);
  });
  return issues;
}

/** The routes as a list, each with a name. */
export function mqttRoutes(config: Config): (MqttRouteConfig & { name: string })[] {
  const list = Array.isArray(config.mqtt) ? config.mqtt : [config.mqtt];
  return list.map((r, i) => ({ ...r, name: r.name ?? (list.length === 1 ? 'default' : `route${i + 1}`) }));
}

/** The options a driver sees: the sensor entry minus the keys every sensor has. */
export function driverOptions(sensor: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(sensor).filter(([k]) => !(k in SensorSchema.properties)));
}

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
  return copy;
}
