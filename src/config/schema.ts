// The configuration schema: one TypeBox schema, one TypeScript type. Key names are a public contract.
import { Type, type Static } from '@sinclair/typebox';

const Str = (opts: { default?: string; minLength?: number; description?: string } = {}) => Type.String(opts);
const Int = (min: number, max: number, def?: number) =>
  Type.Integer(def === undefined ? { minimum: min, maximum: max } : { minimum: min, maximum: max, default: def });

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
    id: Str({ minLength: 1 }),
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
  },
  // The rest of the keys are the driver's own options, validated against the driver's schema.
  { additionalProperties: true },
);

const TlsSchema = Type.Object(
  {
    ca: Type.Optional(Str({ description: 'path to a PEM CA bundle' })),
    cert: Type.Optional(Str({ description: 'path to the PEM client certificate (mTLS)' })),
    key: Type.Optional(Str({ description: 'path to the PEM client key (mTLS)' })),
    min_version: Type.Union([Type.Literal('TLSv1.2'), Type.Literal('TLSv1.3')], { default: 'TLSv1.2' }),
    ciphers: Type.Optional(Str()),
    reject_unauthorized: Type.Boolean({ default: true }),
    servername: Type.Optional(Str()),
  },
  { additionalProperties: false, default: {} },
);

/** Names logs, metrics and the outbox cursor of a route, whatever its kind. */
const RouteNameSchema = Type.String({ pattern: '^[A-Za-z0-9_-]{1,32}$' });

/** Topic filters (below `edgeloop/<device>/`) a route carries; default all. */
const TopicsSchema = Type.Array(Str({ minLength: 1 }), { minItems: 1, default: ['#'] });

/** Backoff between connection attempts, for every kind of route. */
const ReconnectSchema = Type.Object(
  {
    min_ms: Int(10, 3_600_000, 1000),
    max_ms: Int(10, 3_600_000, 30_000),
    /** A connection that stayed up this long resets the backoff. */
    stable_ms: Int(0, 3_600_000, 10_000),
  },
  { additionalProperties: false, default: {} },
);

export const MqttRouteSchema = Type.Object(
  {
    /** A name for logs, metrics and the outbox cursor; defaults to `default`, `route1`, … */
    name: Type.Optional(RouteNameSchema),
    /** Absent: the embedded broker. */
    url: Type.Optional(Type.String({ pattern: '^(mqtts?|wss?|tcp|tls)://' })),
    /** Default: 5, or 4 with the embedded broker (which speaks MQTT 3.1.1). */
    protocol_version: Type.Optional(Type.Union([Type.Literal(4), Type.Literal(5)])),
    qos: Type.Union([Type.Literal(0), Type.Literal(1), Type.Literal(2)], { default: 1 }),
    client_id: Type.Optional(Str({ minLength: 1 })),
    username: Type.Optional(Str()),
    password: Type.Optional(Str()),
    keepalive_s: Int(0, 65_535, 30),
    connect_timeout_ms: Int(100, 600_000, 10_000),
    /** false: a persistent session (the broker keeps our subscriptions and queued messages). */
    clean: Type.Boolean({ default: true }),
    session_expiry_s: Int(0, 4_294_967_295, 0),
    /** In-flight window: unacknowledged publishes at once (capped by the broker's Receive Maximum). */
    window: Int(1, 65_535, 100),
    reconnect: ReconnectSchema,
    topics: TopicsSchema,
    tls: TlsSchema,
  },
  { additionalProperties: false, default: {} },
);

/** A webhook: each record is POSTed as JSON to `url`. */
export const HttpRouteSchema = Type.Object(
  {
    name: RouteNameSchema,
    url: Type.String({ pattern: '^https?://' }),
    topics: TopicsSchema,
    /** Sent with every request, e.g. `authorization: Bearer …` (values are hidden in the API's config view). */
    headers: Type.Record(Type.String(), Type.String({ pattern: '^[^\\r\\n]*$' }), { default: {} }),
    /** A request not answered within this is a lost connection: the record is sent again after the backoff. */
    timeout_ms: Int(100, 600_000, 5000),
    /** Requests in flight at once, each on its own keep-alive connection. */
    window: Int(1, 1024, 8),
    reconnect: ReconnectSchema,
    tls: Type.Optional(
      Type.Object(
        {
          ca: Type.Optional(Str({ description: 'path to a PEM CA bundle' })),
          reject_unauthorized: Type.Boolean({ default: true }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
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

export const ConfigSchema = Type.Object(
  {
    device: Type.Object(
      { id: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$', default: 'edgeloop-demo' }) },
      { additionalProperties: false, default: {} },
    ),
    data_dir: Str({ minLength: 1, default: './data' }),
    log_level: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info' },
    ),
    /** Root of sysfs for the sensor drivers (a fake tree in tests). */
    sysfs_root: Str({ minLength: 1, default: '/sys' }),
    mqtt: Type.Union([MqttRouteSchema, Type.Array(MqttRouteSchema, { minItems: 1 })], { default: {} }),
    http: Type.Array(HttpRouteSchema, { default: [] }),
    broker: Type.Object(
      { host: Str({ default: '127.0.0.1' }), port: Int(0, 65_535, 1883) },
      { additionalProperties: false, default: {} },
    ),
    api: Type.Object(
      {
        host: Str({ default: '0.0.0.0' }),
        port: Int(0, 65_535, 8080),
        token: Type.Optional(Str({ minLength: 8 })),
        /** Per WebSocket client: bytes waiting to be sent before it is dropped as too slow. */
        ws_max_buffered_bytes: Int(1024, 1024 * 1024 * 1024, 1024 * 1024),
      },
      { additionalProperties: false, default: {} },
    ),
    outbox: OutboxSchema,
    shutdown_timeout_ms: Int(100, 600_000, 10_000),
    sensors: Type.Array(SensorSchema, { default: [] }),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;
export type SensorConfig = Static<typeof SensorSchema>;
export type MqttRouteConfig = Static<typeof MqttRouteSchema>;
export type HttpRouteConfig = Static<typeof HttpRouteSchema>;
export type OutboxConfig = Static<typeof OutboxSchema>;
export type AggregateConfig = Static<typeof AggregateSchema>;
export type DeadbandConfig = Static<typeof DeadbandSchema>;
