// The live feed: one WebSocket to the gateway, subscribed to sensors, cameras and model updates, records batched by
// the server every BATCH_MS. It reconnects by itself with backoff (after a gateway restart, a network change, a
// laptop waking up); the token goes in a subprotocol, never in the URL.
import { getToken } from './api.ts';
import { Backoff } from './backoff.ts';
import { wsUrl } from './base.ts';

export const BATCH_MS = 250;
export const TOPICS = ['sensors/+', 'cameras/#', 'ota/#'];
const PROTOCOL = 'edgeloop';
const TOKEN_PROTOCOL_PREFIX = 'edgeloop.token.';

export type LiveState = { kind: 'connecting' } | { kind: 'open'; since: number } | { kind: 'waiting'; retryAt: number };

export interface LiveRecord {
  topic: string;
  record: Record<string, unknown>;
  retained?: boolean;
}

function base64url(text: string): string {
  let bin = '';
  for (const b of new TextEncoder().encode(text)) bin += String.fromCharCode(b);
  return btoa(bin).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

export class LiveSocket {
  #ws: WebSocket | undefined;
  #backoff = new Backoff();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = true;
  readonly #onRecords: (records: LiveRecord[]) => void;
  readonly #onState: (s: LiveState) => void;

  constructor(onRecords: (records: LiveRecord[]) => void, onState: (s: LiveState) => void) {
    this.#onRecords = onRecords;
    this.#onState = onState;
    // Back on the network, or back in front of the user: try now instead of waiting out the backoff.
    addEventListener('online', () => this.#retryNow());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') this.#retryNow();
    });
  }

  start(): void {
    this.#stopped = false;
    this.#backoff.reset();
    this.#connect();
  }

  /** Closes and reconnects at once, e.g. with a new token. */
  restart(): void {
    this.stop();
    this.start();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    const ws = this.#ws;
    this.#ws = undefined;
    if (ws) {
      ws.onclose = null;
      ws.close(1000);
    }
  }

  #retryNow(): void {
    if (this.#stopped || this.#ws !== undefined) return;
    clearTimeout(this.#timer);
    this.#connect();
  }

  #connect(): void {
    this.#timer = undefined;
    this.#onState({ kind: 'connecting' });
    const token = getToken();
    const ws = new WebSocket(wsUrl(location), token === undefined ? [PROTOCOL] : [PROTOCOL, TOKEN_PROTOCOL_PREFIX + base64url(token)]);
    this.#ws = ws;
    ws.onopen = () => {
      this.#backoff.reset();
      this.#onState({ kind: 'open', since: Date.now() });
      ws.send(JSON.stringify({ subscribe: TOPICS, batch_ms: BATCH_MS }));
    };
    ws.onmessage = (ev: MessageEvent<string>) => {
      const msg = JSON.parse(ev.data) as { type: string; records?: LiveRecord[] } & LiveRecord;
      if (msg.type === 'records' && msg.records) this.#onRecords(msg.records);
      else if (msg.type === 'record') this.#onRecords([msg]);
    };
    ws.onclose = () => {
      this.#ws = undefined;
      if (this.#stopped) return;
      const delay = this.#backoff.next();
      this.#onState({ kind: 'waiting', retryAt: Date.now() + delay });
      this.#timer = setTimeout(() => this.#connect(), delay);
    };
  }
}
