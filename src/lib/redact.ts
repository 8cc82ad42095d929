// The one redaction function. Whatever leaves the process for a person to read (API responses, log lines, error
// messages, `edgeloop check` output) goes through `redact`, so a secret is hidden the same way everywhere:
// - values under secret-sounding keys (`password`, `token`, `authorization`, `key`, …), in objects at any depth;
// - in text: the user-info of every URL (`mqtt://user:pw@host` → `mqtt://[redacted]@host`), token-like query
//   parameters, `Bearer`/`Basic` credentials and PEM private keys;
// - every secret the configuration holds (`secretsOf(config)`), wherever it turns up, e.g. echoed by a far end.

export const REDACTED = '[redacted]';

/** Keys whose value is a secret wherever it appears (a config section, a header map, a log object). */
const SECRET_KEY =
  /^(pass(word|wd|phrase)?|secret|client[_-]?secret|(api|access|refresh|auth|bearer)?[_-]?token|api[_-]?key|x[_-]api[_-]key|(proxy[_-])?authorization|cookie|set[_-]cookie|private[_-]?key|key|credentials?)$/i;

/** Query parameters that carry credentials (`?token=…`, `&sig=…`). */
const SECRET_PARAM = /([?&;](?:[a-z0-9_.-]*(?:token|key|secret|sig|signature|pass|password|auth|credential)[a-z0-9_.-]*)=)[^&;#\s"'<>]*/gi;
/** `scheme://user[:password]@`: the whole user-info goes (a token is often the user name). */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"'<>]+@/gi;
const AUTH_SCHEME = /\b(Bearer|Basic|Digest|Token)\s+[A-Za-z0-9._~+/=-]{4,}/g;
const PEM_PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g;
/** Shorter known secrets are not searched for in text: replacing every `pw` in a log line would garble it. */
const MIN_KNOWN_LENGTH = 4;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/**
 * A copy of `value` with every secret replaced by `[redacted]`: strings are scanned, objects and arrays copied with
 * their secret keys' values replaced. `known`: secret values to hide wherever they appear (see `secretsOf`).
 */
export function redact<T>(value: T, known: readonly string[] = []): T {
  return walk(value, known) as T;
}

function walk(value: unknown, known: readonly string[]): unknown {
  if (typeof value === 'string') return redactText(value, known);
  if (Array.isArray(value)) return value.map((v) => walk(v, known));
  if (value instanceof Error) return redactText(value.message, known);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = isSecretKey(k) && v !== undefined && v !== null && typeof v !== 'object' ? REDACTED : walk(v, known);
  }
  return out;
}

function redactText(text: string, known: readonly string[]): string {
  let out = text;
  for (const secret of known) {
    if (secret.length < MIN_KNOWN_LENGTH) continue;
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    // As it appears inside a JSON string (a log line, a response body).
    const escaped = JSON.stringify(secret).slice(1, -1);
    if (escaped !== secret && out.includes(escaped)) out = out.split(escaped).join(REDACTED);
  }
  return out
    .replace(PEM_PRIVATE_KEY, REDACTED)
    .replace(URL_USERINFO, `$1${REDACTED}@`)
    .replace(SECRET_PARAM, `$1${REDACTED}`)
    .replace(AUTH_SCHEME, `$1 ${REDACTED}`);
}

/** The secret values a configuration holds: values under secret keys and the user-info of its URLs. */
export function secretsOf(value: unknown): string[] {
  const found = new Set<string>();
  const visit = (v: unknown, key: string | undefined) => {
    if (typeof v === 'string') {
      if (key !== undefined && isSecretKey(key)) {
        found.add(v);
        // `Bearer abc…`: the credential alone may be echoed too.
        const credential = /^\S+\s+(\S+)$/.exec(v)?.[1];
        if (credential) found.add(credential);
      }
      for (const m of v.matchAll(/\b[a-z][a-z0-9+.-]*:\/\/([^\s/?#@]+)@/gi)) {
        // `user:password`: the password; a user alone is most often a token. A user name with a password is not
        // searched for in text (it may be a common word); inside a URL it is hidden all the same.
        const [user, ...rest] = (m[1] as string).split(':');
        const secret = rest.length > 0 ? rest.join(':') : (user as string);
        if (!secret) continue;
        found.add(secret);
        found.add(safeDecode(secret));
      }
    } else if (Array.isArray(v)) {
      for (const item of v) visit(item, key);
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, item] of Object.entries(v)) visit(item, k);
    }
  };
  visit(value, undefined);
  return [...found].filter((s) => s.length >= MIN_KNOWN_LENGTH).sort((a, b) => b.length - a.length);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
