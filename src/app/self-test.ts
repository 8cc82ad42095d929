// `edgeloop check --test`: beyond the config, reads every sensor once and connects to every upstream once, and says
// what fails (like `telegraf --test`). It may run beside a running gateway: a probe connects under its own client id,
// announces no status and leaves the gateway's session alone.
import { EdgeloopError, isEdgeloopError, messageOf } from '../errors.ts';
import { redact, secretsOf } from '../lib/redact.ts';
import type { SensorDriver } from '../sensors/driver.ts';
import { createDriver } from '../sensors/registry.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Adapter } from '../transport/adapter.ts';
import { routesOf, type Config, type RouteSpec } from './config.ts';

export interface ProbeResult {
  /** `sensor soc (linux-thermal)`, `route default (mqtt mqtts://broker:8883)`. */
  subject: string;
  outcome: 'ok' | 'failed' | 'skipped';
  /** The value read, "connected", or what went wrong with its error code. */
  detail: string;
}

/** Probes run this many at a time: a config with thousands of sensors must not open thousands of files at once. */
const CONCURRENCY = 8;
/** An upstream that neither connects nor fails within this is reported as not answering. */
const CONNECT_BOUND_MS = 15_000;

export async function selfTest(config: Config, log: Logger): Promise<ProbeResult[]> {
  const probes: (() => Promise<ProbeResult>)[] = [
    ...config.sensors.map((sensor) => () => probeSensor(config, sensor)),
    ...routesOf(config).map((spec) => () => probeRoute(config, spec, log)),
  ];
  const results = new Array<ProbeResult>(probes.length);
  let next = 0;
  const worker = async () => {
    while (next < probes.length) {
      const i = next++;
      results[i] = await (probes[i] as () => Promise<ProbeResult>)();
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, probes.length) }, worker));
  // A far end may echo a credential in its error: the report shows none.
  return redact(results, secretsOf(config));
}

function describe(err: unknown): string {
  return isEdgeloopError(err) ? err.describe() : messageOf(err);
}

async function probeSensor(config: Config, sensor: Config['sensors'][number]): Promise<ProbeResult> {
  const subject = `sensor ${sensor.id} (${sensor.driver})`;
  const timeoutMs = sensor.timeout_ms ?? Math.max(sensor.interval_ms, 1000);
  let driver: SensorDriver | undefined;
  try {
    driver = createDriver(sensor, { sysfsRoot: config.sysfs_root });
    const signal = AbortSignal.timeout(timeoutMs);
    // Settles at the deadline even when a driver ignores its signal.
    const value = await new Promise<number>((resolve, reject) => {
      signal.addEventListener('abort', () => reject(new EdgeloopError('SENSOR_TIMEOUT', `no value within ${timeoutMs} ms`)), { once: true });
      (driver as SensorDriver).read(signal).then(resolve, reject);
    });
    if (!Number.isFinite(value)) throw new EdgeloopError('SENSOR_READ', `the driver returned ${value}`);
    return { subject, outcome: 'ok', detail: `${value}${sensor.unit ? ` ${sensor.unit}` : ''}` };
  } catch (err) {
    return { subject, outcome: 'failed', detail: describe(err) };
  } finally {
    await driver?.close().catch(() => undefined);
  }
}

async function probeRoute(config: Config, spec: RouteSpec, log: Logger): Promise<ProbeResult> {
  const url = (spec.options as { url?: unknown }).url;
  const subject = `route ${spec.name} (${spec.kind}${typeof url === 'string' ? ` ${url}` : ''})`;
  if (spec.definition.usesEmbeddedBroker?.(spec.options)) {
    return { subject, outcome: 'skipped', detail: 'uses the embedded broker, which `edgeloop run` starts' };
  }
  let adapter: Adapter | undefined;
  try {
    adapter = spec.definition.create(spec.options, { device: config.device.id, log, probe: true });
    const outcome = await connectOnce(adapter);
    return { subject, outcome: outcome === 'connected' ? 'ok' : 'failed', detail: outcome };
  } catch (err) {
    return { subject, outcome: 'failed', detail: describe(err) };
  } finally {
    await adapter?.stop(1000).catch(() => undefined);
  }
}

/** `connected`, or why not: the first failure the adapter reports, or that nothing answered in time. */
function connectOnce(adapter: Adapter): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const done = (outcome: string) => {
      clearTimeout(timer);
      adapter.off('ready', onReady);
      adapter.off('state', onState);
      resolve(outcome);
    };
    const onReady = () => done('connected');
    const onState = (state: string) => {
      if (state === 'disconnected') done(adapter.info().last_error ?? 'the connection was closed');
    };
    adapter.on('ready', onReady);
    adapter.on('state', onState);
    const timer = setTimeout(() => done(`no answer within ${CONNECT_BOUND_MS / 1000} s`), CONNECT_BOUND_MS);
    try {
      adapter.start();
    } catch (err) {
      clearTimeout(timer);
      reject(err);
    }
  });
}
