// Turns TypeBox's findings into messages a user can act on, each with the key path as written in the YAML file:
// `sensors[2].interval_ms: must be >= 1`.
import { Kind, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';

export interface ConfigIssue {
  path: string;
  message: string;
}

/** `/sensors/2/interval_ms` → `sensors[2].interval_ms` */
export function displayPath(pointer: string, prefix = ''): string {
  let out = prefix;
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(part) ? `[${part}]` : out === '' ? part : `.${part}`;
  }
  return out;
}

function typeName(schema: TSchema): string {
  const t = schema.type as string | undefined;
  if (t === 'integer') return 'an integer';
  if (t === 'array' || t === 'object') return `an ${t}`;
  return `a ${t ?? 'value of the right type'}`;
}

function literals(schema: TSchema): unknown[] | undefined {
  const anyOf = schema.anyOf as TSchema[] | undefined;
  if (!anyOf || !anyOf.every((s) => 'const' in s)) return undefined;
  return anyOf.map((s) => s.const);
}

function messageFor(err: ValueError): string {
  const s = err.schema;
  switch (err.type) {
    case ValueErrorType.NumberMinimum:
    case ValueErrorType.IntegerMinimum:
      return `must be >= ${s.minimum}`;
    case ValueErrorType.NumberMaximum:
    case ValueErrorType.IntegerMaximum:
      return `must be <= ${s.maximum}`;
    case ValueErrorType.StringMinLength:
      return s.minLength === 1 ? 'must not be empty' : `must be at least ${s.minLength} characters`;
    case ValueErrorType.StringPattern:
      return `must match ${s.pattern}`;
    case ValueErrorType.ArrayMinItems:
      return `must have at least ${s.minItems} item(s)`;
    case ValueErrorType.Literal:
      return `must be ${JSON.stringify(s.const)}`;
    case ValueErrorType.Integer:
    case ValueErrorType.Number:
    case ValueErrorType.String:
    case ValueErrorType.Boolean:
    case ValueErrorType.Array:
    case ValueErrorType.Object:
      return `must be ${typeName(s)}, got ${JSON.stringify(err.value)}`;
    default:
      return err.message;
  }
}

/** Every problem of `value` against `schema`, with the best message for unions of objects and unknown keys. */
export function checkValue(schema: TSchema, value: unknown, prefix = ''): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const err of Value.Errors(schema, value)) {
    // A missing key is reported once, as required, not again as being of the wrong type.
    if (err.value === undefined && err.type !== ValueErrorType.ObjectRequiredProperty) continue;
    const path = displayPath(err.path, prefix);
    if (err.type === ValueErrorType.ObjectRequiredProperty) {
      issues.push({ path, message: 'is required' });
    } else if (err.type === ValueErrorType.ObjectAdditionalProperties) {
      // One error per unknown key: its path ends in the key, its value is the key's value.
      const known = Object.keys((err.schema.properties as object | undefined) ?? {});
      issues.push({ path, message: `is not a known key (known: ${known.join(', ')})` });
    } else if (err.schema[Kind] === 'Union') {
      const options = literals(err.schema);
      if (options) {
        issues.push({ path, message: `must be one of ${options.map((o) => JSON.stringify(o)).join(' | ')}` });
        continue;
      }
      // A union of shapes (e.g. `aggregate`, `deadband`): explain against the variant of the value's shape, with that
      // variant's defaults applied (TypeBox applies none to a union value that fits no variant).
      const variants = err.schema.anyOf as TSchema[];
      const shape = Array.isArray(err.value) ? 'array' : err.value === null ? 'null' : typeof err.value;
      const match = variants.find(
        (v) => !('const' in v) && (v.type === shape || (v.type === 'integer' && shape === 'number')),
      );
      if (match) issues.push(...checkValue(match, Value.Default(match, structuredClone(err.value)), path));
      else issues.push({ path, message: `must be ${variants.map(describeVariant).join(' or ')}` });
    } else {
      issues.push({ path, message: messageFor(err) });
    }
  }
  return dedupe(issues);
}

function describeVariant(s: TSchema): string {
  if ('const' in s) return JSON.stringify(s.const);
  return typeName(s);
}

function dedupe(issues: ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = `${i.path}\u0000${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
