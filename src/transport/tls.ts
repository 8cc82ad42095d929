// TLS options for MQTT from the config: files are read once at start, and TLS failures are told apart from the
// rest so the log says "certificate" rather than "connection closed".
import { readFileSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { Str } from '../config/schema.ts';
import { EdgeloopError } from '../errors.ts';

export const TlsSchema = Type.Object(
  {
    ca: Type.Optional(Str({ minLength: 1, description: 'path to a PEM CA bundle' })),
    cert: Type.Optional(Str({ minLength: 1, description: 'path to the PEM client certificate (mTLS)' })),
    key: Type.Optional(Str({ minLength: 1, description: 'path to the PEM client key (mTLS)' })),
    min_version: Type.Union([Type.Literal('TLSv1.2'), Type.Literal('TLSv1.3')], { default: 'TLSv1.2' }),
    ciphers: Type.Optional(Str({ minLength: 1 })),
    reject_unauthorized: Type.Boolean({ default: true }),
    servername: Type.Optional(Str({ minLength: 1 })),
  },
  { additionalProperties: false, default: {} },
);

export type TlsConfig = Static<typeof TlsSchema>;

export interface TlsClientOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  minVersion: 'TLSv1.2' | 'TLSv1.3';
  ciphers?: string;
  rejectUnauthorized: boolean;
  servername?: string;
}

export function tlsOptions(tls: TlsConfig): TlsClientOptions {
  const read = (key: 'ca' | 'cert' | 'key') => {
    const path = tls[key];
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (cause) {
      throw new EdgeloopError('MQTT_TLS', `cannot read mqtt.tls.${key} ${path}: ${(cause as Error).message}`, { cause });
    }
  };
  const out: TlsClientOptions = { minVersion: tls.min_version, rejectUnauthorized: tls.reject_unauthorized };
  const ca = read('ca');
  const cert = read('cert');
  const key = read('key');
  if (ca) out.ca = ca;
  if (cert) out.cert = cert;
  if (key) out.key = key;
  // Node takes TLS 1.3 suite names (TLS_AES_128_GCM_SHA256) in `ciphers` alongside the 1.2 ones.
  if (tls.ciphers) out.ciphers = tls.ciphers;
  if (tls.servername) out.servername = tls.servername;
  return out;
}

const TLS_CODES = /^(ERR_SSL_|ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|ERR_OSSL)/;

/** True for handshake and certificate failures. */
export function isTlsError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown; library?: unknown };
  return (
    (typeof e.code === 'string' && TLS_CODES.test(e.code)) ||
    e.library === 'SSL routines' ||
    (typeof e.message === 'string' && /ssl|tls|certificate|handshake/i.test(e.message))
  );
}
