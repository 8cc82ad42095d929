// Throwaway PKI for TLS tests. EC P-256 keys keep generation well under a second.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { removeOnExit } from './cleanup.ts';

const run = promisify(execFile);

export interface CertPaths {
  dir: string;
  caCert: string;
  caKey: string;
  /** CN=localhost, SAN DNS:localhost and IP:127.0.0.1, signed by the CA. */
  serverCert: string;
  serverKey: string;
  /** CN=edgeloop-test, signed by the CA. */
  clientCert: string;
  clientKey: string;
  /** An unrelated CA: trusting it instead of caCert must fail server verification. */
  wrongCaCert: string;
  wrongCaKey: string;
  /** CN=edgeloop-test signed by the wrong CA: a server requiring certificates must refuse it. */
  wrongClientCert: string;
  wrongClientKey: string;
}

async function genKey(path: string): Promise<void> {
  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
}

async function makeCa(dir: string, name: string, cn: string): Promise<{ cert: string; key: string }> {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  await genKey(key);
  await run('openssl', [
    'req', '-x509', '-new', '-key', key, '-sha256', '-days', '3650', '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-out', cert,
  ]);
  return { cert, key };
}

async function makeLeaf(
  dir: string,
  name: string,
  ca: { cert: string; key: string },
  cn: string,
  extensions: string[],
): Promise<{ cert: string; key: string }> {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  const extfile = join(dir, `${name}.ext`);
  const csr = join(dir, `${name}.csr`);
  await genKey(key);
  await writeFile(extfile, ['basicConstraints=critical,CA:FALSE', ...extensions].join('\n') + '\n');
  await run('openssl', ['req', '-new', '-key', key, '-subj', `/CN=${cn}`, '-out', csr]);
  await run('openssl', [
    'x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', `0x${randomBytes(8).toString('hex')}`,
    '-days', '825', '-sha256', '-extfile', extfile, '-out', cert,
  ]);
  return { cert, key };
}

async function generate(dir: string): Promise<CertPaths> {
  await mkdir(dir, { recursive: true });
  const [ca, wrongCa] = await Promise.all([
    makeCa(dir, 'ca', 'edgeloop test CA'),
    makeCa(dir, 'wrong-ca', 'edgeloop unrelated CA'),
  ]);
  const clientExtensions = ['keyUsage=critical,digitalSignature', 'extendedKeyUsage=clientAuth'];
  const [server, client, wrongClient] = await Promise.all([
    makeLeaf(dir, 'server', ca, 'localhost', [
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ]),
    makeLeaf(dir, 'client', ca, 'edgeloop-test', clientExtensions),
    makeLeaf(dir, 'wrong-client', wrongCa, 'edgeloop-test', clientExtensions),
  ]);
  return {
    dir,
    caCert: ca.cert,
    caKey: ca.key,
    serverCert: server.cert,
    serverKey: server.key,
    clientCert: client.cert,
    clientKey: client.key,
    wrongCaCert: wrongCa.cert,
    wrongCaKey: wrongCa.key,
    wrongClientCert: wrongClient.cert,
    wrongClientKey: wrongClient.key,
  };
}

const cache = new Map<string, Promise<CertPaths>>();
let processDir: Promise<string> | undefined;

function processCertDir(): Promise<string> {
  processDir ??= mkdtemp(join(tmpdir(), 'edgeloop-certs-')).then((created) => {
    removeOnExit(created);
    return created;
  });
  return processDir;
}

/**
 * Generates the test PKI into `dir`, or into a temp dir shared by the whole
 * process (removed on exit) when `dir` is omitted. Memoised per directory, so
 * every test in a file can call it.
 */
export async function makeCerts(dir?: string): Promise<CertPaths> {
  const target = dir ?? (await processCertDir());
  let paths = cache.get(target);
  if (paths === undefined) {
    paths = generate(target);
    cache.set(target, paths);
  }
  return paths;
}
