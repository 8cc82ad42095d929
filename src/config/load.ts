// The loading machinery, whatever the schema: YAML file → environment overrides → one validating walk (defaults,
// every problem with its key path) → extra checks → a deep-frozen value. The full schema is composed in app/config.ts
// from the core sections here and the option schemas the drivers and adapters register.
import { readFile } from 'node:fs/promises';
import type { TSchema } from '@sinclair/typebox';
import yaml from 'js-yaml';
import { EdgeloopError } from '../errors.ts';
import { redact, secretsOf } from '../lib/redact.ts';
import { overlayEnv } from './env.ts';
import { isMap, validate, type ConfigIssue } from './validate.ts';

/** Reads and parses a YAML config file; an empty file is an empty mapping. */
export async function readConfigFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new EdgeloopError('CONFIG_READ', `cannot read config file ${file}: ${(cause as Error).message}`, { cause });
  }
  return parseYamlText(text, file);
}

/**
 * YAML 1.2 core schema: `yes` stays a string and a date stays text. A key written twice is an error, not a silent
 * "last one wins".
 */
export function parseYamlText(text: string, file: string): unknown {
  try {
    return yaml.load(text, { schema: yaml.CORE_SCHEMA, filename: file }) ?? {};
  } catch (cause) {
    const e = cause as yaml.YAMLException;
    const where = e.mark ? ` (line ${e.mark.line + 1})` : '';
    const message = `not valid YAML${where}: ${e.reason ?? e.message.split('\n')[0]}`;
    throw new EdgeloopError('CONFIG_INVALID', `${file}: ${message}`, { cause, details: [{ path: '', message }] });
  }
}

/** Checks made after the walk, over the whole value (unique ids, …), given the value with defaults applied. */
export type ConfigCheck = (value: Record<string, unknown>) => ConfigIssue[];

/** Applies the environment, validates, runs `checks`, and returns the value (deep-frozen), or throws CONFIG_INVALID. */
export function resolveWith<T>(schema: TSchema, raw: unknown, env: NodeJS.ProcessEnv, checks: ConfigCheck[] = []): T {
  if (!isMap(raw)) throw invalid([{ path: '', message: 'the config must be a YAML mapping (key: value)' }], raw);
  const overlaid = overlayEnv(raw, env, schema);
  const walked = validate(schema, overlaid.value);
  const issues = [...overlaid.issues, ...walked.issues];
  const value = walked.value as Record<string, unknown>;
  // Run even when the walk found problems, on what it could check, so one run reports everything.
  for (const check of checks) issues.push(...check(value));
  if (issues.length > 0) throw invalid(issues, { raw, env: envOf(env) });
  return value as T;
}

function envOf(env: NodeJS.ProcessEnv): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('EDGELOOP_')));
}

/** CONFIG_INVALID with every issue, its messages cleared of any secret the config holds. */
export function invalid(issues: ConfigIssue[], source: unknown): EdgeloopError {
  const secrets = secretsOf(source);
  // An environment variable holding a secret is not under a secret key: its value is a secret all the same.
  for (const [name, value] of Object.entries((source as { env?: Record<string, string> } | null)?.env ?? {})) {
    if (/PASS|TOKEN|SECRET|KEY|AUTH/i.test(name) && value) secrets.push(value);
  }
  const clean = issues.map((i) => ({ path: i.path, message: redact(i.message, secrets) }));
  const lines = clean.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message));
  return new EdgeloopError('CONFIG_INVALID', `invalid configuration:\n  ${lines.join('\n  ')}`, { details: clean });
}
