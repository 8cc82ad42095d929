// The one error catalogue. Every error a user can meet carries a stable code `EDGELOOP_ERR_<NAME>`, an HTTP status
// for the API, and a message that says what to do. Codes are a public contract: add, never rename.

export const ERRORS = {
  // configuration and CLI
  CONFIG_INVALID: { status: 400, hint: 'fix the listed keys (run `edgeloop check -c FILE`)' },
  CONFIG_READ: { status: 500, hint: 'check the path given with -c and its permissions' },
  USAGE: { status: 400, hint: 'run `edgeloop --help`' },
  PLUGIN_INVALID: { status: 500, hint: 'fix or remove the plugin file (docs/plugins.md); the gateway runs without it' },
  // sensors
  SENSOR_READ: { status: 502, hint: 'check the sensor wiring, driver options and the sysfs path' },
  SENSOR_TIMEOUT: { status: 504, hint: 'raise timeout_ms or fix the slow source' },
  SENSOR_CRC: { status: 502, hint: 'the 1-Wire bus returned a bad checksum; check wiring and pull-up' },
  // transport
  BROKER_PORT_IN_USE: { status: 500, hint: 'choose another broker.port, or set mqtt.url to use the broker already there' },
  MQTT_CONNECT: { status: 502, hint: 'check mqtt.url, credentials and that the broker is reachable' },
  MQTT_TLS: { status: 502, hint: 'check mqtt.tls.ca / cert / key and mqtt.tls.min_version against the broker' },
  MQTT_REFUSED: { status: 502, hint: 'the broker refused the message; it was moved to the dead-letter table' },
  MQTT_SUBSCRIBE: { status: 502, hint: 'the broker refused a command subscription: allow edgeloop/<device>/# for this client in its ACL' },
  HTTP_UPSTREAM: { status: 502, hint: 'check http[].url, headers, tls.ca and that the endpoint answers' },
  NATS_UPSTREAM: { status: 502, hint: 'check nats[].url, credentials, that JetStream is enabled and a stream captures the subjects' },
  COAP_UPSTREAM: { status: 502, hint: 'check coap[].url and that the CoAP server answers on that UDP port' },
  // outbox
  OUTBOX_FULL: { status: 507, hint: 'raise outbox.max_rows / max_bytes or restore the upstream connection' },
  OUTBOX_CORRUPT: { status: 500, hint: 'the file was moved aside; inspect it or delete it' },
  OUTBOX_CLOSED: { status: 503, hint: 'the gateway is shutting down' },
  // API
  UNAUTHORIZED: { status: 401, hint: 'send `Authorization: Bearer <api.token>` (WebSocket: that header, the subprotocol edgeloop.token.<base64url(token)>, or ?token=)' },
  BAD_REQUEST: { status: 400, hint: 'see the message for the field at fault' },
  NOT_FOUND: { status: 404, hint: 'see GET /api/v1 routes in the README' },
  API_PORT_IN_USE: { status: 500, hint: 'choose another api.port' },
  // inference
  MODEL_NOT_FOUND: { status: 404, hint: 'check the model path or the sidecar `model` field' },
  MODEL_INVALID: { status: 422, hint: 'the model file is corrupt, truncated or not of the expected format' },
  MODEL_INPUT: { status: 400, hint: 'the input does not match the model (see its inputs: name, shape, dtype)' },
  SIDECAR_INVALID: { status: 422, hint: 'fix the listed keys of the model sidecar' },
  ENGINE_UNAVAILABLE: { status: 501, hint: 'the inference runtime is not installed for this platform' },
  IMAGE_INVALID: { status: 422, hint: 'give a readable PNG or JPEG file' },
  INFERENCE_SKIPPED: { status: 503, hint: 'the inference pool did not run the request (the reason is counted); raise workers, queue_size or the budget if it happens often' },
  // lifecycle
  SHUTDOWN_TIMEOUT: { status: 500, hint: 'a component did not stop in time; see the log for which' },
  INTERNAL: { status: 500, hint: 'an unexpected fault: the gateway log has the details; please report it' },
} as const satisfies Record<string, { status: number; hint: string }>;

export type ErrorName = keyof typeof ERRORS;
export type ErrorCode = `EDGELOOP_ERR_${ErrorName}`;

/** The stable code of a catalogue entry, for logs and payloads that carry a code without an error object. */
export function errorCode(name: ErrorName): ErrorCode {
  return `EDGELOOP_ERR_${name}`;
}

export class EdgeloopError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly hint: string;
  /** Machine-readable particulars (e.g. the list of config errors). */
  readonly details: unknown;

  constructor(name: ErrorName, message: string, options: { cause?: unknown; details?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'EdgeloopError';
    this.code = errorCode(name);
    this.statusCode = ERRORS[name].status;
    this.hint = ERRORS[name].hint;
    this.details = options.details;
  }

  /** One line for a terminal or a log: code, message and what to do. */
  describe(): string {
    return `${this.code}: ${this.message} (${this.hint})`;
  }
}

export function isEdgeloopError(err: unknown, name?: ErrorName): err is EdgeloopError {
  return err instanceof EdgeloopError && (name === undefined || err.code === errorCode(name));
}

/** A message for any thrown value, so logs never print `[object Object]`. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
