// The SensorDriver seam: a driver turns one configured channel into numbers. A new driver is one file in drivers/
// plus one line in registry.ts; test/sensors/driver-suite.ts tells its author whether it behaves.
import type { TObject } from '@sinclair/typebox';
import type { KeyIssue } from '../config/validate.ts';

export interface SensorDriver {
  /** Reads one value. Must honour `signal` (the sampler aborts a read that outlives its timeout). */
  read(signal: AbortSignal): Promise<number>;
  /** Releases handles (files, child processes). */
  close(): Promise<void>;
}

/** What a driver may know about the world: no config globals, only this. */
export interface DriverContext {
  /** Root of the sysfs tree (`/sys` on a device, a temp dir in tests). */
  sysfsRoot: string;
}

export interface DriverDefinition<Options = Record<string, unknown>> {
  /**
   * TypeBox schema of the driver's own keys, written inline on its `sensors[]` entries. The config checks each entry
   * against the keys every sensor has plus these, so `check` and `run` name a bad option by its path
   * (`sensors[2].device_id: …`).
   */
  options: TObject;
  /** What the schema cannot say (a regular expression that does not compile, …): problems by option key. */
  check?(options: Options): KeyIssue[];
  create(options: Options, context: DriverContext): SensorDriver;
}
