// Checks a value against a TypeBox schema in one walk: every problem at once, each with the key path as written in
// the YAML file (`sensors[2].interval_ms: must be >= 1`), defaults filled in, unknown keys named with the key they
// were probably meant to be. The walk visits each node once, so a config is checked in time linear in its size.
//
// TypeBox gives the schema and the static type; the walk is ours because the messages a user acts on need what a
// generic validator does not give: one sensor entry checked against its driver's options (`discriminator`), unions
// explained against the variant of the value's shape, values from the environment converted by the type of the key
// they land on, and checks a schema cannot express (`refine`).
import { Kind, type TSchema } from '@sinclair/typebox';
import yaml from 'js-yaml';

export interface ConfigIssue {
  path: string;
  message: string;
}

/** A problem found by a `refine` check, by key below the object it checked. */
export interface KeyIssue {
  key: string;
  message: string;
}

/**
 * What edgeloop adds to a TypeBox schema's options:
 * - `refine` on a string: returns why the value is unusable (a URL without a host, …);
 * - `refine` on an object: problems by key, run once the object's own keys are valid;
 * - `patternMessage`: says in words what `pattern` wants;
 * - `discriminator` on a union of objects: the key whose value picks the variant (`driver`), and `fallback`, the
 *   schema that still checks the common keys when no variant matches.
 */
export interface Refinements {
  refine?: ((value: string) => string | undefined) | ((value: Record<string, unknown>) => KeyIssue[]);
  patternMessage?: string;
  discriminator?: string;
  fallback?: TSchema;
}

/** A value set through the environment: converted by the schema where it lands; its problems name the variable. */
export class EnvValue {
  readonly variable: string;
  readonly text: string;

  constructor(variable: string, text: string) {
    this.variable = variable;
    this.text = text;
  }
}

export interface Checked {
  /**
   * The value with defaults applied, built afresh and frozen as it is built (the config is read-only for every
   * module); partial where there were problems.
   */
  value: unknown;
  issues: ConfigIssue[];
  /** Schema nodes visited: the measure of the work done (linear in the size of the input). */
  visits: number;
}

export function validate(schema: TSchema, input: unknown, prefix = ''): Checked {
  const w = new Walk();
  const value = w.node(schema, input, prefix, undefined);
  return { value, issues: w.issues, visits: w.visits };
}

export function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof EnvValue);
}

/** `a.b` / `a[0]`, from a parent path and a key or index. */
export function joinPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

const INVALID: unique symbol = Symbol('invalid');
const patterns = new WeakMap<TSchema, RegExp>();
const propertyKeys = new WeakMap<TSchema, string[]>();

/** The keys of an object schema, listed once per schema rather than once per value checked against it. */
function keysOf(schema: TSchema): string[] {
  let keys = propertyKeys.get(schema);
  if (!keys) propertyKeys.set(schema, (keys = Object.keys(schema.properties as object)));
  return keys;
}

/** A fresh copy of a default (plain data): a value must never share an object with the schema. */
function copyDefault(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(copyDefault);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = copyDefault(v);
  return out;
}

class Walk {
  readonly issues: ConfigIssue[] = [];
  visits = 0;

  /** `env`: the variable the value came from, which then names every problem below it. */
  issue(path: string, env: string | undefined, message: string): void {
    this.issues.push({ path: env ?? path, message });
  }

  node(schema: TSchema, raw: unknown, path: string, env: string | undefined): unknown {
    this.visits++;
    let value = raw;
    if (value instanceof EnvValue) {
      env = value.variable;
      value = this.fromEnv(schema, value, path);
      if (value === INVALID) return undefined;
    }
    // `key:` with nothing after it is YAML's null: the key is as good as absent.
    if (value === undefined || value === null) {
      if (schema.default === undefined) return undefined;
      value = copyDefault(schema.default);
    }
    switch (schema[Kind]) {
      case 'Object':
        return this.object(schema, value, path, env);
      case 'Record':
        return this.record(schema, value, path, env);
      case 'Array':
        return this.array(schema, value, path, env);
      case 'Union':
        return this.union(schema, value, path, env);
      case 'String':
        return this.string(schema, value, path, env);
      case 'Integer':
      case 'Number':
        return this.number(schema, value, path, env);
      case 'Boolean':
        if (typeof value === 'boolean') return value;
        this.issue(path, env, `must be true or false, got ${show(value)}`);
        return undefined;
      case 'Literal':
        if (value === schema.const) return value;
        this.issue(path, env, `must be ${JSON.stringify(schema.const)}${suggestion(value, [schema.const])}`);
        return undefined;
      default:
        return value;
    }
  }

  object(schema: TSchema, value: unknown, path: string, env: string | undefined): unknown {
    if (!isMap(value)) {
      this.issue(path, env, `must be a mapping (key: value), got ${show(value)}`);
      return undefined;
    }
    const before = this.issues.length;
    const props = schema.properties as Record<string, TSchema>;
    const required = schema.required as string[] | undefined;
    const out: Record<string, unknown> = {};
    for (const key of keysOf(schema)) {
      const v = this.node(props[key] as TSchema, value[key], joinPath(path, key), env);
      if (v !== undefined) out[key] = v;
      else if ((value[key] === undefined || value[key] === null) && required?.includes(key)) {
        this.issue(joinPath(path, key), env, 'is required');
      }
    }
    const extra = schema.additionalProperties as boolean | TSchema | undefined;
    for (const key of Object.keys(value)) {
      if (Object.hasOwn(props, key)) continue;
      const v = value[key];
      if (extra === false) {
        const name = v instanceof EnvValue ? v.variable : env;
        const hint = suggestion(key, Object.keys(props));
        this.issue(joinPath(path, key), name, `unknown key${hint || ` (known: ${Object.keys(props).join(', ')})`}`);
      } else if (typeof extra === 'object') {
        out[key] = this.node(extra, v, joinPath(path, key), env);
      } else {
        out[key] = v instanceof EnvValue ? v.text : v;
      }
    }
    const refine = (schema as Refinements).refine as ((v: Record<string, unknown>) => KeyIssue[]) | undefined;
    if (refine && this.issues.length === before) {
      for (const p of refine(out)) this.issue(joinPath(path, p.key), env, p.message);
    }
    return Object.freeze(out);
  }

  record(schema: TSchema, value: unknown, path: string, env: string | undefined): unknown {
    if (!isMap(value)) {
      this.issue(path, env, `must be a mapping (key: value), got ${show(value)}`);
      return undefined;
    }
    const item = Object.values(schema.patternProperties as Record<string, TSchema>)[0] as TSchema;
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) out[key] = this.node(item, value[key], joinPath(path, key), env);
    return Object.freeze(out);
  }

  array(schema: TSchema, value: unknown, path: string, env: string | undefined): unknown {
    if (!Array.isArray(value)) {
      this.issue(path, env, `must be a list, got ${show(value)}`);
      return undefined;
    }
    if (schema.minItems !== undefined && value.length < schema.minItems) {
      this.issue(path, env, schema.minItems === 1 ? 'must not be empty' : `must have at least ${schema.minItems} items`);
    }
    if (schema.maxItems !== undefined && value.length > schema.maxItems) {
      this.issue(path, env, `must have at most ${schema.maxItems} items`);
    }
    const items = schema.items as TSchema;
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) out[i] = this.node(items, value[i], joinPath(path, i), env);
    return Object.freeze(out);
  }

  union(schema: TSchema, value: unknown, path: string, env: string | undefined): unknown {
    const variants = schema.anyOf as TSchema[];
    const r = schema as Refinements;
    if (variants.every((v) => v[Kind] === 'Literal')) {
      const options = variants.map((v) => v.const as unknown);
      if (options.includes(value)) return value;
      const listed = options.map((o) => JSON.stringify(o)).join(' | ');
      this.issue(path, env, `must be one of ${listed}${suggestion(value, options)}`);
      return undefined;
    }
    if (r.discriminator !== undefined) return this.tagged(variants, r, value, path, env);
    const shape = kindOf(value);
    const fits = variants.filter((v) => shape !== 'other' && shapeOf(v).includes(shape));
    const only = fits.length === 1 ? (fits[0] as TSchema) : undefined;
    // A lone literal of the value's shape says little (`must be "none"`): name every variant.
    if (only && !(only[Kind] === 'Literal' && only.const !== value)) return this.node(only, value, path, env);
    // Several variants take this shape: the first that accepts the value, else the problems against the first.
    for (const v of fits) {
      const trial = new Walk();
      const out = trial.node(v, value, path, env);
      if (trial.issues.length === 0) {
        this.visits += trial.visits;
        return out;
      }
    }
    if (fits.length > 1) return this.node(fits[0] as TSchema, value, path, env);
    this.issue(path, env, `must be ${variants.map(describeVariant).join(' or ')}, got ${show(value)}`);
    return undefined;
  }

  /** A union of objects told apart by one key (`driver`): the entry is checked against its own variant only. */
  tagged(variants: TSchema[], r: Refinements, value: unknown, path: string, env: string | undefined): unknown {
    const key = r.discriminator as string;
    if (!isMap(value)) {
      this.issue(path, env, `must be a mapping (key: value), got ${show(value)}`);
      return undefined;
    }
    const raw = value[key];
    const tag = raw instanceof EnvValue ? raw.text : raw;
    const variant = variants.find((v) => (v.properties as Record<string, TSchema>)[key]?.const === tag);
    if (variant) return this.node(variant, value, path, env);
    const names = variants.map((v) => (v.properties as Record<string, TSchema>)[key]?.const as string);
    const where = raw instanceof EnvValue ? raw.variable : env;
    // A missing tag is a missing key of the shared ones: the fallback's walk reports it.
    if (tag === undefined || tag === null) {
      if (!r.fallback) this.issue(joinPath(path, key), where, 'is required');
    } else this.issue(joinPath(path, key), where, `must be one of ${names.join(' | ')}${suggestion(tag, names)}`);
    // The keys every variant shares are still checked, so one run reports them too; of the other keys (options of a
    // variant not known) only those that look like a misspelt shared key can be called unknown.
    if (r.fallback) {
      this.node(r.fallback, value, path, env);
      const shared = Object.keys(r.fallback.properties as object);
      for (const k in value) {
        const hint = k in (r.fallback.properties as object) ? '' : suggestion(k, shared);
        if (hint) this.issue(joinPath(path, k), where, `unknown key${hint}`);
      }
    }
    return undefined;
  }

  string(schema: TSchema, value: unknown, path: string, env: string | undefined): unknown {
    if (typeof value !== 'string') {
      const quote = typeof value === 'number' || typeof value === 'boolean' ? ` (write it in quotes: "${String(value)}")` : '';
      this.issue(path, env, `must be a string, got ${show(value)}${quote}`);
      return undefined;
    }
    let problem: string | undefined;
    if (schema.minLength !== undefined && value.length < schema.minLength) {
      problem = schema.minLength === 1 ? 'must not be empty' : `must be at least ${schema.minLength} characters`;
    } else if (schema.maxLength !== undefined && value.length > schema.maxLength) {
      problem = `must be at most ${schema.maxLength} characters`;
    } else if (schema.pattern !== undefined && !compiled(schema).test(value)) {
      problem = (schema as Refinements).patternMessage ?? `must match ${schema.pattern}`;
    } else {
      problem = ((schema as Refinements).refine as ((v: string) => string | undefined) | undefined)?.(value);
    }
    if (problem === undefined) return value;
    this.issue(path, env, problem);
    return undefined;
  }

  number(schema: TSchema, value: unknown, path: string, env: string | undefined): unknown {
    const integer = schema[Kind] === 'Integer';
    if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
      this.issue(path, env, `must be ${integer ? 'an integer' : 'a number'}, got ${show(value)}`);
      return undefined;
    }
    if (schema.minimum !== undefined && value < schema.minimum) this.issue(path, env, `must be >= ${schema.minimum}`);
    else if (schema.maximum !== undefined && value > schema.maximum) this.issue(path, env, `must be <= ${schema.maximum}`);
    else return value;
    return undefined;
  }

  /** An environment variable's text, converted by the type of the key it sets (a string stays a string). */
  fromEnv(schema: TSchema, ev: EnvValue, path: string): unknown {
    const text = ev.text;
    const fail = (message: string): typeof INVALID => {
      this.issue(path, ev.variable, message);
      return INVALID;
    };
    switch (schema[Kind]) {
      case 'String':
        return text;
      case 'Integer':
        return /^[-+]?\d+$/.test(text.trim()) ? Number(text) : fail(`must be an integer, got ${JSON.stringify(text)}`);
      case 'Number':
        return NUMBER.test(text.trim()) ? Number(text) : fail(`must be a number, got ${JSON.stringify(text)}`);
      case 'Boolean':
        if (/^true$/i.test(text.trim())) return true;
        if (/^false$/i.test(text.trim())) return false;
        return fail(`must be true or false, got ${JSON.stringify(text)}`);
      case 'Literal':
        return literalFrom(schema.const, text);
      case 'Union': {
        const variants = schema.anyOf as TSchema[];
        for (const v of variants) {
          if (v[Kind] !== 'Literal') continue;
          const lit = literalFrom(v.const, text);
          if (lit === v.const) return lit;
        }
        if (variants.some((v) => v[Kind] === 'Number' || v[Kind] === 'Integer') && NUMBER.test(text.trim())) return Number(text);
        if (variants.some((v) => v[Kind] === 'String')) return text;
        if (variants.every((v) => v[Kind] === 'Literal')) return text;
        return parseStructure(text, fail);
      }
      case 'Object':
      case 'Record':
      case 'Array':
        return parseStructure(text, fail);
      default:
        return text;
    }
  }
}

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

function literalFrom(literal: unknown, text: string): unknown {
  if (typeof literal === 'number' && NUMBER.test(text.trim())) return Number(text);
  if (typeof literal === 'boolean' && /^(true|false)$/i.test(text.trim())) return /^true$/i.test(text.trim());
  return text;
}

/** A list or mapping given in one variable, in YAML flow style: `[a, b]`, `{window_ms: 1000}`. */
function parseStructure(text: string, fail: (message: string) => typeof INVALID): unknown {
  try {
    return yaml.load(text, { schema: yaml.CORE_SCHEMA });
  } catch (err) {
    return fail(`is not a valid YAML list or mapping: ${(err as Error).message.split('\n')[0]}`);
  }
}

function compiled(schema: TSchema): RegExp {
  let re = patterns.get(schema);
  if (!re) patterns.set(schema, (re = new RegExp(schema.pattern as string, 'u')));
  return re;
}

type Shape = 'mapping' | 'list' | 'string' | 'number' | 'boolean';

function kindOf(value: unknown): Shape | 'other' {
  if (Array.isArray(value)) return 'list';
  if (isMap(value)) return 'mapping';
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return typeof value as Shape;
  return 'other';
}

function shapeOf(schema: TSchema): Shape[] {
  switch (schema[Kind]) {
    case 'Object':
    case 'Record':
      return ['mapping'];
    case 'Array':
      return ['list'];
    case 'String':
      return ['string'];
    case 'Integer':
    case 'Number':
      return ['number'];
    case 'Boolean':
      return ['boolean'];
    case 'Literal':
      return [kindOf(schema.const) as Shape];
    case 'Union':
      return (schema.anyOf as TSchema[]).flatMap(shapeOf);
    default:
      return ['mapping', 'list', 'string', 'number', 'boolean'];
  }
}

function describeVariant(schema: TSchema): string {
  switch (schema[Kind]) {
    case 'Literal':
      return JSON.stringify(schema.const);
    case 'Object':
    case 'Record':
      return 'a mapping';
    case 'Array':
      return 'a list';
    case 'Integer':
      return 'an integer';
    default:
      return `a ${String(schema.type ?? 'value')}`;
  }
}

/** How a wrong value is shown in a message: short, and never a whole mapping. */
function show(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (isMap(value)) return 'a mapping';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  return String(value);
}

/** ` (did you mean driver?)` when a candidate is close enough to be a typo of `given`, else ``. */
export function suggestion(given: unknown, candidates: readonly unknown[]): string {
  if (typeof given !== 'string' || given === '') return '';
  const lower = given.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    if (typeof c !== 'string') continue;
    const d = c.toLowerCase() === lower ? 0 : distance(lower, c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  const allowed = Math.max(1, Math.floor(given.length / 3));
  return best !== undefined && bestDistance <= allowed ? ` (did you mean ${best}?)` : '';
}

/** Levenshtein distance, two rows. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
    }
    prev = row;
  }
  return prev[b.length] as number;
}
