// Environment overrides: `EDGELOOP_MQTT__URL=…` sets `mqtt.url`, `EDGELOOP_SENSORS__0__INTERVAL_MS=250` the first
// sensor's interval. The text is not parsed here: it is placed as an EnvValue and the validator converts it by the
// type of the key it lands on, so a password stays a string (`pa55 #word`, `0042`, `123456`) and a port becomes a
// number, and every problem names the variable.
import { Kind, type TSchema } from '@sinclair/typebox';
import { EnvValue, isMap, type ConfigIssue, type Refinements } from './validate.ts';

export const ENV_PREFIX = 'EDGELOOP_';
/** Environment variables of edgeloop that are not config keys. */
const ENV_RESERVED = new Set(['EDGELOOP_CONFIG']);

type Node = Record<string, unknown> | unknown[];

/**
 * `raw` with the overrides of `env` in place, and the variables that could not be placed. `raw` is not changed: what
 * lies on the path of a variable is copied (a few shallow copies, whatever the size of the config).
 */
export function overlayEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, schema: TSchema): { value: Record<string, unknown>; issues: ConfigIssue[] } {
  const root = { ...raw };
  const issues: ConfigIssue[] = [];
  // Sorted with numbers in order, so `…__0__…` comes before `…__1__…` and a list grows one item at a time.
  const names = Object.keys(env)
    .filter((n) => n.startsWith(ENV_PREFIX) && !ENV_RESERVED.has(n) && env[n] !== undefined)
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  for (const name of names) {
    const problem = place(root, schema, name, env[name] as string);
    if (problem) issues.push({ path: name, message: problem });
  }
  return { value: root, issues };
}

function place(root: Record<string, unknown>, rootSchema: TSchema, name: string, text: string): string | undefined {
  const keys = name.slice(ENV_PREFIX.length).toLowerCase().split('__');
  if (keys.some((k) => k === '')) return 'is not a config key: levels are separated by a double underscore (EDGELOOP_API__PORT)';
  let node: Node = root;
  let schema: TSchema | undefined = rootSchema;
  for (const [i, key] of keys.entries()) {
    const index = /^\d+$/.test(key) ? Number(key) : undefined;
    if (Array.isArray(node) && index === undefined) {
      return `cannot set ${key} on a list: put an index before it (…__0__${key.toUpperCase()})`;
    }
    if (Array.isArray(node) && (index as number) > node.length) {
      return `there is no item ${node.length} to put item ${index} after: a list grows one item at a time`;
    }
    const childSchema: TSchema | undefined = schema && childOf(schema, key, index, node);
    const last = i === keys.length - 1;
    if (last) {
      set(node, key, index, new EnvValue(name, text));
      return undefined;
    }
    const nextIndexed = /^\d+$/.test(keys[i + 1] as string);
    let next = get(node, key, index);
    if (next === undefined || next === null) {
      // Where the schema is not known yet (a driver option before the driver is set), an index means a list.
      next = nextIndexed && (childSchema === undefined || acceptsList(childSchema)) ? [] : {};
    } else if (isMap(next) && nextIndexed && acceptsList(childSchema)) {
      // One route written as a mapping, addressed as the first of a list (`EDGELOOP_MQTT__0__URL`).
      next = [{ ...next }];
    } else if (isMap(next)) {
      next = { ...next };
    } else if (Array.isArray(next)) {
      next = [...next];
    } else {
      return `cannot set below ${key}: it is not a mapping`;
    }
    set(node, key, index, next);
    node = next as Node;
    schema = childSchema;
  }
  return undefined;
}

function get(node: Node, key: string, index: number | undefined): unknown {
  return Array.isArray(node) ? node[index as number] : node[key];
}

function set(node: Node, key: string, index: number | undefined, value: unknown): void {
  if (Array.isArray(node)) node[index as number] = value;
  else node[key] = value;
}

/** True when the schema takes a list (a list, or a union with a list among its variants). */
function acceptsList(schema: TSchema | undefined): boolean {
  if (!schema) return false;
  if (schema[Kind] === 'Array') return true;
  return schema[Kind] === 'Union' && (schema.anyOf as TSchema[]).some((v) => v[Kind] === 'Array');
}

/** The schema of `key` below `schema`, given the raw node it is set on (a sensor's driver picks its variant). */
function childOf(schema: TSchema, key: string, index: number | undefined, node: Node): TSchema | undefined {
  switch (schema[Kind]) {
    case 'Object': {
      const props = schema.properties as Record<string, TSchema>;
      const extra = schema.additionalProperties;
      return props[key] ?? (typeof extra === 'object' ? (extra as TSchema) : undefined);
    }
    case 'Record':
      return Object.values(schema.patternProperties as Record<string, TSchema>)[0];
    case 'Array':
      return schema.items as TSchema;
    case 'Union': {
      const variants = schema.anyOf as TSchema[];
      const r = schema as Refinements;
      if (r.discriminator !== undefined && !Array.isArray(node)) {
        const tag = node[r.discriminator];
        const value = tag instanceof EnvValue ? tag.text : tag;
        const variant = variants.find((v) => (v.properties as Record<string, TSchema> | undefined)?.[r.discriminator as string]?.const === value);
        const chosen = variant ?? r.fallback;
        return chosen && childOf(chosen, key, index, node);
      }
      const wanted = index !== undefined && Array.isArray(node) ? 'Array' : 'Object';
      const variant = variants.find((v) => v[Kind] === wanted) ?? variants.find((v) => v[Kind] === 'Object' || v[Kind] === 'Array');
      return variant && childOf(variant, key, index, node);
    }
    default:
      return undefined;
  }
}
