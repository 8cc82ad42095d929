// The core sections of the configuration and the building blocks the option schemas of drivers and adapters use.
// The full schema (core + `sensors[]` with each driver's options + one key per kind of upstream) is composed in
// app/config.ts. Key names are a public contract.
import { Type, type Static } from '@sinclair/typebox';

export const Str = (opts: { default?: string; minLength?: number; maxLength?: number; description?: string } = {}) => Type.String(opts);
export const Int = (min: number, max: number, def?: number) =>
  Type.Integer(def === undefined ? { minimum: min, maximum: max } : { minimum: min, maximum: max, default: def });

/** The longest delay a Node.js timer holds (2^31 - 1 ms, about 24.8 days); longer ones fire at once. */
export const TIMER_MAX_MS = 2 ** 31 - 1;

/** Why `id` cannot be one level of an MQTT topic, or undefined when it can. */
export function topicLevelProblem(id: string): string | undefined {
  if (id === '') return 'must not be empty';
  // eslint-disable-next-line no-control-regex -- control characters are what it looks for
  const bad = /[+#/\u0000-\u001f\u007f-\u009f]/u.exec(id);
  if (!bad) return undefined;
  const what = bad[0] === '+' || bad[0] === '#' || bad[0] === '/' ? bad[0] : `control character U+${(bad[0].codePointAt(0) ?? 0).toString(16).padStart(4, '0').toUpperCase()}`;
  return `must not contain ${what}: it becomes a level of MQTT topics`;
}

/** An id that ends up as a level of an MQTT topic (`edgeloop/<device>/sensors/<id>`). */
export const TopicLevel = (opts: { maxLength?: number } = {}) =>
  Type.String({ maxLength: opts.maxLength ?? 128, refine: topicLevelProblem });

/** Why `text` is not a URL with one of `schemes`, a host and a port in range, or undefined when it is. */
export function urlProblem(text: string, schemes: readonly string[]): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    const port = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?(?:\[[^\]]*\]|[^:/?#]*):(\d+)/i.exec(text)?.[1];
    if (port !== undefined && Number(port) > 65_535) return `has port ${port}: give a port between 1 and 65535`;
    return `is not a URL (expected ${schemes.map((s) => `${s}://host[:port]`).join(', ')})`;
  }
  const scheme = url.protocol.slice(0, -1);
  if (!schemes.includes(scheme)) return `has the scheme ${scheme}: use one of ${schemes.join(', ')}`;
  if (url.hostname === '') return 'has no host';
  if (url.port === '0') return 'has port 0: give a port between 1 and 65535';
  return undefined;
}

/** A URL with one of `schemes`, a host, and a port in 1–65535 (the URL parser refuses larger ones). */
export const UrlString = (schemes: readonly string[]) => Type.String({ refine: (v: string) => urlProblem(v, schemes) });

export const QueueSchema = Type.Object(
  {
    capacity: Int(1, 1_000_000, 1024),
    policy: Type.Union([Type.Literal('drop-oldest'), Type.Literal('drop-newest'), Type.Literal('block')], {
      default: 'drop-oldest',
    }),
  },
  { additionalProperties: false, default: {} },
);

export const AggregateStat = Type.Union([
  Type.Literal('min'),
  Type.Literal('max'),
  Type.Literal('mean'),
  Type.Literal('last'),
  Type.Literal('count'),
]);

export const AggregateSchema = Type.Union(
  [
    Type.Literal('none'),
    Type.Object(
      {
        window_ms: Int(1, 86_400_000),
        stats: Type.Array(AggregateStat, { minItems: 1, default: ['min', 'max', 'mean', 'last', 'count'] }),
      },
      { additionalProperties: false },
    ),
  ],
  { default: 'none' },
);

/** Report by exception: a reading goes out only when it moved far enough from the last one reported. */
export const DeadbandSchema = Type.Union([
  Type.Number({ minimum: 0 }),
  Type.Object(
    {
      absolute: Type.Optional(Type.Number({ minimum: 0 })),
      percent: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
      /** Report anyway after this long without a report, so silence still means "alive". */
      max_interval_ms: Type.Optional(Int(1, 86_400_000)),
    },
    { additionalProperties: false },
  ),
]);

export const SensorSchema = Type.Object(
  {
    id: TopicLevel(),
    driver: Str({ minLength: 1 }),
    interval_ms: Int(1, 86_400_000, 50),
    unit: Str({ default: '' }),
    /**
     * Delay of the first read. Channels with the same interval read in step so their records share one commit;
     * an offset spreads the load (and lowers publish latency) at the cost of more commits.
     */
    phase_ms: Type.Optional(Int(0, 86_400_000)),
    /** A read that takes longer is aborted and counted as a timeout. */
    timeout_ms: Type.Optional(Int(1, 600_000)),
    priority: Int(0, 9, 1),
    aggregate: AggregateSchema,
    deadband: Type.Optional(DeadbandSchema),
    queue: QueueSchema,
    /** How Home Assistant discovery shows this sensor (by default: named by its id, classes from its unit). */
    homeassistant: Type.Optional(
      Type.Object(
        {
          /** false: not announced. */
          enabled: Type.Boolean({ default: true }),
          name: Type.Optional(Str({ minLength: 1 })),
          device_class: Type.Optional(Type.String({ pattern: '^[a-z0-9_]+$' })),
          state_class: Type.Optional(
            Type.Union([Type.Literal('measurement'), Type.Literal('total'), Type.Literal('total_increasing')]),
          ),
          icon: Type.Optional(Type.String({ pattern: '^[a-z0-9-]+:[a-z0-9-]+$' })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  // The rest of the keys are the driver's own options, validated against the driver's schema.
  { additionalProperties: true },
);

export const OutboxSchema = Type.Object(
  {
    /** sqlite: `<data_dir>/outbox.db`, survives restarts; memory: nothing survives (no flash writes). */
    store: Type.Union([Type.Literal('sqlite'), Type.Literal('memory')], { default: 'sqlite' }),
    /** batch: fsync per group commit; each: fsync per record; os: leave flushing to the OS. */
    durability: Type.Union([Type.Literal('batch'), Type.Literal('each'), Type.Literal('os')], { default: 'batch' }),
    max_rows: Int(1, 1_000_000_000, 1_000_000),
    max_bytes: Int(1024, Number.MAX_SAFE_INTEGER, 512 * 1024 * 1024),
    /** Unsent records older than this expire (0: never). */
    ttl_s: Int(0, 31_536_000, 7 * 86_400),
    on_full: Type.Union([Type.Literal('drop-oldest'), Type.Literal('reject-new')], { default: 'drop-oldest' }),
    /** Upper bound on records per group commit. */
    batch_max: Int(1, 100_000, 1000),
  },
  { additionalProperties: false, default: {} },
);

/** Home Assistant MQTT discovery, through one of the mqtt routes. */
export const HomeAssistantSchema = Type.Object(
  {
    /** On by default: the entities appear in a Home Assistant that shares an mqtt route's broker. */
    enabled: Type.Boolean({ default: true }),
    /** The discovery prefix; Home Assistant's status (birth) topic is `<prefix>/status`. */
    prefix: Type.String({ pattern: '^[^#+/\\s]+(/[^#+/\\s]+)*$', default: 'homeassistant' }),
    /** The mqtt route the configs go through; default the first. */
    route: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false, default: {} },
);

/** Every top-level section but the ones composed from registries (`sensors`, one key per kind of upstream). */
export const CoreSchema = Type.Object(
  {
    device: Type.Object(
      {
        id: Type.String({
          pattern: '^[A-Za-z0-9_.-]{1,64}$',
          patternMessage: 'must be 1 to 64 letters, digits, _, . or - (it names the device in every MQTT topic)',
          default: 'edgeloop-demo',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    data_dir: Str({ minLength: 1, default: './data' }),
    log_level: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info' },
    ),
    /** Root of sysfs for the sensor drivers (a fake tree in tests). */
    sysfs_root: Str({ minLength: 1, default: '/sys' }),
    broker: Type.Object(
      // Port 0: any free port (tests); the URL the routes use is the one actually bound.
      { host: Str({ minLength: 1, default: '127.0.0.1' }), port: Int(0, 65_535, 1883) },
      { additionalProperties: false, default: {} },
    ),
    api: Type.Object(
      {
        host: Str({ minLength: 1, default: '0.0.0.0' }),
        // Port 0: any free port (tests).
        port: Int(0, 65_535, 8080),
        token: Type.Optional(Str({ minLength: 8 })),
        /** Per WebSocket client: bytes waiting to be sent before it is dropped as too slow. */
        ws_max_buffered_bytes: Int(1024, 1024 * 1024 * 1024, 1024 * 1024),
      },
      { additionalProperties: false, default: {} },
    ),
    outbox: OutboxSchema,
    homeassistant: HomeAssistantSchema,
    /** Extra sensor drivers and kinds of upstream, loaded at start (relative to the config file's directory). */
    plugins_dir: Type.Optional(Str({ minLength: 1 })),
    shutdown_timeout_ms: Int(100, 600_000, 10_000),
  },
  { additionalProperties: false },
);

export type CoreConfig = Static<typeof CoreSchema>;
export type SensorConfig = Static<typeof SensorSchema>;
export type OutboxConfig = Static<typeof OutboxSchema>;
export type AggregateConfig = Static<typeof AggregateSchema>;
export type DeadbandConfig = Static<typeof DeadbandSchema>;
