// What every adapter does around its connection, whatever the protocol: the state machine, reconnecting with
// backoff and jitter, resetting the backoff once a connection proved stable, rate-limited error logging and the
// figures of `info()`. An adapter extends it and says when it connected, lost its connection or failed.
import { EventEmitter } from 'node:events';
import type { EdgeloopError } from '../errors.ts';
import { RateLimitedLog, type Logger } from '../telemetry/logger.ts';
import { redact } from '../lib/redact.ts';
import { Backoff, type AdapterEvents, type AdapterInfo, type ConnectionState, type Downlink } from './adapter.ts';

export interface LifecycleOptions {
  name: string;
  kind: string;
  url: string;
  reconnect: { min_ms: number; max_ms: number; stable_ms: number };
  log: Logger;
  onState?: (state: ConnectionState) => void;
  onReconnectAttempt?: (delayMs: number) => void;
}

export abstract class ConnectionLifecycle extends EventEmitter<AdapterEvents> {
  readonly name: string;
  protected readonly log: Logger;
  #o: LifecycleOptions;
  #state: ConnectionState = 'disconnected';
  #backoff: Backoff;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #stableTimer: NodeJS.Timeout | undefined;
  #stopping = false;
  #connects = 0;
  #backoffMs = 0;
  #lastError: string | null = null;
  #connectedSince: Date | null = null;
  #errorLog = new RateLimitedLog(5000);

  constructor(o: LifecycleOptions) {
    super();
    this.#o = o;
    this.name = o.name;
    this.log = o.log;
    this.#backoff = new Backoff(o.reconnect.min_ms, o.reconnect.max_ms);
  }

  get state(): ConnectionState {
    return this.#state;
  }

  abstract get window(): number;
  abstract get downlink(): Downlink | null;

  info(): AdapterInfo {
    return {
      name: this.name,
      kind: this.#o.kind,
      url: redact(this.#o.url),
      state: this.#state,
      window: this.window,
      connects: this.#connects,
      reconnect_attempts: this.#backoff.attempt,
      backoff_ms: this.#backoffMs,
      last_error: this.#lastError,
      connected_since: this.#connectedSince?.toISOString() ?? null,
      downlink: this.downlink !== null,
    };
  }

  protected get stopping(): boolean {
    return this.#stopping;
  }

  /** No reconnect from here on. */
  protected beginStop(): void {
    this.#stopping = true;
    clearTimeout(this.#reconnectTimer);
    clearTimeout(this.#stableTimer);
  }

  protected setState(state: ConnectionState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.log.debug({ route: this.name, state }, `${this.#o.kind} state`);
    this.#o.onState?.(state);
    this.emit('state', state);
  }

  /** Connected and able to publish: counts it, and resets the backoff once it has lasted `stable_ms`. */
  protected connected(): void {
    this.#connects++;
    this.#connectedSince = new Date();
    this.#backoffMs = 0;
    clearTimeout(this.#stableTimer);
    this.#stableTimer = setTimeout(() => this.#backoff.reset(), this.#o.reconnect.stable_ms);
    this.#stableTimer.unref();
    this.log.info({ route: this.name, url: redact(this.#o.url), window: this.window }, `${this.#o.kind} connected`);
    this.setState('connected');
    this.emit('ready');
  }

  /**
   * The connection is gone (or never came): `reconnect` runs after the next backoff delay, or after `atLeastMs` when
   * the far end asked for a longer wait (HTTP `Retry-After`), capped at `max_ms`.
   */
  protected lost(reconnect: () => void, atLeastMs = 0): void {
    clearTimeout(this.#stableTimer);
    this.#connectedSince = null;
    if (this.#stopping) return;
    if (this.#state === 'connected') this.log.warn({ route: this.name }, `${this.#o.kind} connection lost`);
    this.setState('disconnected');
    const delay = Math.max(this.#backoff.next(), Math.min(atLeastMs, this.#o.reconnect.max_ms));
    this.#backoffMs = delay;
    this.#o.onReconnectAttempt?.(delay);
    this.log.info({ route: this.name, attempt: this.#backoff.attempt, delay_ms: delay }, `${this.#o.kind} reconnect scheduled`);
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = setTimeout(() => {
      if (!this.#stopping) reconnect();
    }, delay);
  }

  /** Remembered for `info()` and logged at most every few seconds. */
  protected failed(e: EdgeloopError): void {
    this.#lastError = e.describe();
    this.#errorLog.hit((suppressed) => this.log.error({ route: this.name, code: e.code, suppressed }, e.describe()));
  }
}
