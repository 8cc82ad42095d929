// Plugins: extra sensor drivers and kinds of upstream, loaded from `plugins_dir` before the config is validated, and
// registered in the same registries as the built-in ones, so their options are checked with the same paths
// (`sensors[2].url: …`). A plugin is an ES module whose default export is a factory, called once with the plugin
// API, that returns `{ drivers?: { name: DriverDefinition }, adapters?: { kind: AdapterDefinition } }` (docs/plugins.md).
// A plugin that cannot be loaded is reported with its file and reason; the others, and the gateway, go on without it.
import { readdir, stat } from 'node:fs/promises';
import { dirname, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Kind, Type, type TObject } from '@sinclair/typebox';
import { CoreSchema } from '../config/schema.ts';
import { EdgeloopError, messageOf } from '../errors.ts';
import type { DriverDefinition } from '../sensors/driver.ts';
import { drivers, registerDriver } from '../sensors/registry.ts';
import { ROUTE_FIELDS, RouteNameSchema, type AdapterDefinition } from '../transport/adapter.ts';
import { ConnectionLifecycle } from '../transport/lifecycle.ts';
import { adapterKinds, registerAdapter } from '../transport/registry.ts';
import { VERSION } from './version.ts';

/** What a plugin's factory is given: the building blocks, so a plugin needs no import of edgeloop's own. */
export const PLUGIN_API = Object.freeze({ version: VERSION, Type, EdgeloopError, ROUTE_FIELDS, RouteNameSchema, ConnectionLifecycle });

export interface PluginReport {
  /** The directory, as resolved; undefined when the config names none. */
  dir: string | undefined;
  loaded: { file: string; drivers: string[]; adapters: string[] }[];
  failed: { file: string; error: EdgeloopError }[];
}

const EXTENSIONS = new Set(['.js', '.mjs', '.ts', '.mts']);
const DRIVER_NAME = /^[a-z][a-z0-9-]{0,63}$/;

/** Files already loaded in this process, with what came of them: a reload does not register twice. */
const seen = new Map<string, PluginReport['loaded'][number] | PluginReport['failed'][number]>();

/** Where the plugins are: `EDGELOOP_PLUGINS_DIR`, else `plugins_dir`, relative to the config file's directory. */
export function pluginsDirOf(raw: unknown, env: NodeJS.ProcessEnv, configFile: string | undefined): string | undefined {
  const fromFile = typeof raw === 'object' && raw !== null ? (raw as { plugins_dir?: unknown }).plugins_dir : undefined;
  const dir = env.EDGELOOP_PLUGINS_DIR ?? (typeof fromFile === 'string' && fromFile !== '' ? fromFile : undefined);
  if (dir === undefined) return undefined;
  return resolve(configFile === undefined ? process.cwd() : dirname(configFile), dir);
}

/** Loads every plugin file of `dir` (in name order) and registers what each provides. */
export async function loadPlugins(dir: string | undefined): Promise<PluginReport> {
  const report: PluginReport = { dir, loaded: [], failed: [] };
  if (dir === undefined) return report;
  let names: string[];
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error('it is not a directory');
    names = (await readdir(dir)).filter((n) => !n.startsWith('.') && EXTENSIONS.has(extname(n))).sort();
  } catch (cause) {
    report.failed.push({ file: dir, error: new EdgeloopError('PLUGIN_INVALID', `plugins_dir ${dir} cannot be read: ${messageOf(cause)}`, { cause }) });
    return report;
  }
  for (const name of names) {
    const file = join(dir, name);
    const outcome = seen.get(file) ?? (await loadOne(file));
    seen.set(file, outcome);
    if ('error' in outcome) report.failed.push(outcome);
    else report.loaded.push(outcome);
  }
  return report;
}

async function loadOne(file: string): Promise<PluginReport['loaded'][number] | PluginReport['failed'][number]> {
  const fail = (why: string, cause?: unknown) => ({ file, error: new EdgeloopError('PLUGIN_INVALID', `plugin ${file}: ${why}`, { cause }) });
  let provided: unknown;
  try {
    const module = (await import(pathToFileURL(file).href)) as { default?: unknown };
    if (typeof module.default !== 'function') return fail('its default export must be a function (the factory), see docs/plugins.md');
    provided = (module.default as (api: typeof PLUGIN_API) => unknown)(PLUGIN_API);
  } catch (cause) {
    return fail(`cannot be loaded: ${messageOf(cause)}`, cause);
  }
  const problem = definitionsProblem(provided);
  if (problem) return fail(problem);
  const { drivers: driverDefs = {}, adapters: adapterDefs = {} } = provided as Provided;
  for (const [name, def] of Object.entries(driverDefs)) registerDriver(name, def as DriverDefinition<never>);
  for (const [kind, def] of Object.entries(adapterDefs)) registerAdapter(kind, def as AdapterDefinition<never>);
  return { file, drivers: Object.keys(driverDefs), adapters: Object.keys(adapterDefs) };
}

interface Provided {
  drivers?: Record<string, unknown>;
  adapters?: Record<string, unknown>;
}

const isSchemaObject = (v: unknown): v is TObject => typeof v === 'object' && v !== null && (v as { [Kind]?: unknown })[Kind] === 'Object';

/** Why what a factory returned cannot be registered, or undefined: checked whole, so a plugin registers all or nothing. */
function definitionsProblem(provided: unknown): string | undefined {
  if (typeof provided !== 'object' || provided === null) return 'its factory must return { drivers?, adapters? }';
  const { drivers: d, adapters: a, ...rest } = provided as Provided & Record<string, unknown>;
  if (Object.keys(rest).length > 0) return `its factory returned unknown keys: ${Object.keys(rest).join(', ')} (expected drivers, adapters)`;
  const driverDefs = Object.entries(d ?? {});
  const adapterDefs = Object.entries(a ?? {});
  if (driverDefs.length + adapterDefs.length === 0) return 'it provides no driver and no adapter';
  const takenDrivers = new Set(drivers().map(([name]) => name));
  const takenKinds = new Set([...adapterKinds().map(([kind]) => kind), ...Object.keys(CoreSchema.properties), 'sensors']);
  for (const [name, def] of driverDefs) {
    if (!DRIVER_NAME.test(name)) return `driver name ${JSON.stringify(name)}: use lower-case letters, digits and -`;
    if (takenDrivers.has(name)) return `driver ${name} is already registered`;
    const problem = definitionProblem(def);
    if (problem) return `driver ${name}: ${problem}`;
  }
  for (const [kind, def] of adapterDefs) {
    if (!/^[a-z][a-z0-9_]{0,31}$/.test(kind)) return `adapter kind ${JSON.stringify(kind)}: use lower-case letters, digits and _`;
    if (takenKinds.has(kind)) return `adapter kind ${kind} is already a key of the config`;
    const problem = definitionProblem(def);
    if (problem) return `adapter ${kind}: ${problem}`;
  }
  return undefined;
}

function definitionProblem(def: unknown): string | undefined {
  const d = def as { options?: unknown; create?: unknown; check?: unknown } | null;
  if (typeof d !== 'object' || d === null) return 'must be an object { options, create }';
  if (!isSchemaObject(d.options)) return 'options must be a TypeBox object schema (Type.Object from the plugin API)';
  if (typeof d.create !== 'function') return 'create must be a function';
  if (d.check !== undefined && typeof d.check !== 'function') return 'check must be a function';
  return undefined;
}
