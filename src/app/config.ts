// The full configuration, composed from the core sections (config/schema.ts) and what the registries hold: each
// sensor entry is checked against the keys every sensor has plus its driver's options, and each kind of upstream
// has its key (`mqtt`, `http`, …) with its adapter's route schema. `edgeloop check` and `run` load through here, so
// both report a driver's or an adapter's problems with the same paths.
import { Type, type TObject, type TSchema } from '@sinclair/typebox';
import { DEMO_CONFIG } from '../config/demo.ts';
import { readConfigFile, resolveWith, type ConfigCheck } from '../config/load.ts';
import { CoreSchema, SensorSchema, type CoreConfig, type SensorConfig } from '../config/schema.ts';
import { joinPath, type ConfigIssue } from '../config/validate.ts';
import { EdgeloopError, isEdgeloopError } from '../errors.ts';
import { drivers } from '../sensors/registry.ts';
import type { AdapterDefinition, RouteOptions } from '../transport/adapter.ts';
import { adapterKinds } from '../transport/registry.ts';
import { loadPlugins, pluginsDirOf, type PluginReport } from './plugins.ts';

/** The validated config: deep-frozen. Routes are read through `routesOf`, whatever their kind. */
export type Config = CoreConfig & { readonly sensors: readonly SensorConfig[] } & Readonly<Record<string, unknown>>;

export interface LoadedConfig {
  config: Config;
  /** Where it came from: a file path or `demo defaults`. */
  source: string;
  /** The plugins of `plugins_dir`: loaded, and failed (the gateway runs without those). */
  plugins: PluginReport;
}

/** One route of the config, whatever its kind, in outbox order. */
export interface RouteSpec {
  kind: string;
  name: string;
  topics: readonly string[];
  /** Its entry in the config, as its adapter's schema checked it. */
  options: RouteOptions & { name: string };
  definition: AdapterDefinition;
  /** Where it is written: `mqtt`, `mqtt[1]`, `http[0]`. */
  path: string;
}

/** Reads the config, loads its plugins (their drivers and adapters are part of the schema), then validates. */
export async function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<LoadedConfig> {
  const raw = file === undefined ? structuredClone(DEMO_CONFIG) : await readConfigFile(file);
  const plugins = await loadPlugins(pluginsDirOf(raw, env, file));
  try {
    return { config: resolveConfig(raw, env), source: file ?? 'demo defaults', plugins };
  } catch (err) {
    // A driver or a kind of route the config names may be one a failed plugin would have brought: say so.
    if (!isEdgeloopError(err, 'CONFIG_INVALID') || plugins.failed.length === 0) throw err;
    const issues = [...(err.details as ConfigIssue[]), ...plugins.failed.map((f) => ({ path: 'plugins_dir', message: f.error.message }))];
    throw new EdgeloopError('CONFIG_INVALID', `${err.message}\n  ${issues.slice(-plugins.failed.length).map((i) => `${i.path}: ${i.message}`).join('\n  ')}`, { details: issues });
  }
}

/** Applies env overrides and defaults, validates, and returns the frozen config or throws CONFIG_INVALID. */
export function resolveConfig(raw: unknown, env: NodeJS.ProcessEnv = {}): Config {
  return resolveWith<Config>(configSchema(), raw, env, CHECKS);
}

/** The schema of the whole config, from the core sections and the drivers and adapters registered now. */
export function configSchema(): TObject {
  const upstreams: Record<string, TSchema> = {};
  for (const [kind, def] of adapterKinds()) {
    const route = { ...def.options, ...(def.check ? { refine: def.check } : {}) } as TObject;
    const list = Type.Array(route, def.shape === 'one-or-many' ? { minItems: 1 } : {});
    const options = def.default === undefined ? {} : { default: def.default };
    upstreams[kind] = def.shape === 'one-or-many' ? Type.Union([route, list], options) : Type.Array(route, options);
  }
  const sensors = Type.Array(sensorEntrySchema(), { default: [] });
  return Type.Object({ ...CoreSchema.properties, ...upstreams, sensors }, { additionalProperties: false });
}

/** One `sensors[]` entry: told apart by `driver`, each checked against the common keys plus its driver's options. */
function sensorEntrySchema(): TSchema {
  const variants = drivers().map(([name, def]) =>
    Type.Object(
      { ...SensorSchema.properties, driver: Type.Literal(name), ...def.options.properties },
      { additionalProperties: false, ...(def.check ? { refine: def.check } : {}) },
    ),
  );
  return Type.Union(variants, { discriminator: 'driver', fallback: SensorSchema });
}

/** Every route of the config, in outbox order: by kind in registry order, then as written. */
export function routesOf(config: Readonly<Record<string, unknown>>): RouteSpec[] {
  return adapterKinds().flatMap(([kind, definition]) => {
    const value = config[kind];
    const one = value !== undefined && !Array.isArray(value);
    const list = (value === undefined ? [] : one ? [value] : value) as (RouteOptions | undefined)[];
    return list.flatMap((route, i) => {
      // Entries the walk could not make sense of are left to its own report.
      if (typeof route !== 'object' || route === null) return [];
      const name = route.name ?? definition.defaultName?.(i, list.length);
      if (name === undefined) return [];
      const path = one ? kind : `${kind}[${i}]`;
      return [{ kind, name, topics: route.topics ?? [], options: { ...route, name }, definition, path }];
    });
  });
}

/** Sensor ids are unique: each names a topic, a queue and a seq counter. */
const uniqueSensors: ConfigCheck = (value) => {
  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  (Array.isArray(value.sensors) ? value.sensors : []).forEach((sensor: { id?: unknown } | undefined, i) => {
    const id = sensor?.id;
    if (typeof id !== 'string') return;
    if (seen.has(id)) issues.push({ path: `sensors[${i}].id`, message: `duplicate sensor id ${JSON.stringify(id)}` });
    seen.add(id);
  });
  return issues;
};

/** Route names are unique across kinds: each names an outbox cursor, log lines and the `route` label of metrics. */
const uniqueRoutes: ConfigCheck = (value) => {
  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  for (const r of routesOf(value)) {
    if (seen.has(r.name)) issues.push({ path: joinPath(r.path, 'name'), message: `duplicate route name ${r.name}` });
    seen.add(r.name);
  }
  return issues;
};

/** Home Assistant discovery goes through an mqtt route: the one it names must exist. */
const homeAssistantRoute: ConfigCheck = (value) => {
  const wanted = (value.homeassistant as { route?: unknown } | undefined)?.route;
  if (typeof wanted !== 'string') return [];
  const mqtt = routesOf(value).filter((r) => r.kind === 'mqtt').map((r) => r.name);
  if (mqtt.includes(wanted)) return [];
  return [{ path: 'homeassistant.route', message: `no mqtt route is named ${JSON.stringify(wanted)} (mqtt routes: ${mqtt.join(', ') || 'none'})` }];
};

const CHECKS: ConfigCheck[] = [uniqueSensors, uniqueRoutes, homeAssistantRoute];
