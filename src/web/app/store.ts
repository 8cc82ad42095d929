// The page's state and what changes it: the live feed, the status poll and the login. Components read `state` and
// re-render (at most once a frame) when `changed()` is called.
import { useEffect, useState } from 'preact/hooks';
import { HttpError, getJson, setToken, tryToken, whenUnauthorized } from './api.ts';
import { LiveSocket, type LiveRecord, type LiveState } from './live.ts';
import { Series } from './series.ts';
import type { Json, Status } from './types.ts';

/** Status polls: every 2 s on the Overview, where the figures are the point; every 10 s behind the other panels. */
export const STATUS_POLL_MS = { overview: 2000, other: 10_000 };
/** The camera events kept in the page for the events list. */
export const MAX_EVENTS = 100;

export interface Boot {
  auth: boolean;
  features: string[];
}

export interface SensorLive {
  value: number | null;
  /** Epoch ms of the reading. */
  ts: number;
  seq: number;
  series: Series;
}

export const state = {
  boot: { auth: false, features: [] } as Boot,
  /** Showing the login form: a token is needed and none (or a wrong one) is held. */
  login: false,
  loginError: undefined as string | undefined,
  live: { kind: 'connecting' } as LiveState,
  status: undefined as Status | undefined,
  /** When the last status arrived (epoch ms); stale after a few missed polls. */
  statusAt: 0,
  pollMs: STATUS_POLL_MS.overview,
  statusError: undefined as string | undefined,
  sensors: new Map<string, SensorLive>(),
  /** Newest first, bounded. */
  cameraEvents: [] as Json[],
  /** The last model-update status record. */
  ota: undefined as Json | undefined,
  /** Optional panels whose API answered 404: hidden. */
  missing: new Set<string>(),
};

const listeners = new Set<() => void>();
let scheduled = false;

export function changed(): void {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    for (const l of listeners) l();
  });
}

/** Re-renders the calling component whenever the state changes. */
export function useStore(): typeof state {
  const [, setTick] = useState(0);
  useEffect(() => {
    const l = () => setTick((n) => n + 1);
    listeners.add(l);
    return () => void listeners.delete(l);
  }, []);
  return state;
}

export function hasFeature(name: string): boolean {
  return state.boot.features.includes(name) && !state.missing.has(name);
}

/** An optional panel's API answered 404 (e.g. after the gateway restarted without cameras): hide the panel. */
export function featureMissing(name: string, err: unknown): boolean {
  if (!(err instanceof HttpError) || err.status !== 404) return false;
  state.missing.add(name);
  changed();
  return true;
}

function onRecords(records: LiveRecord[]): void {
  for (const { topic, record } of records) {
    const [kind] = topic.split('/');
    if (kind === 'sensors') addReading(topic.slice(8), record);
    else if (kind === 'cameras' && topic.endsWith('/events')) addCameraEvent({ camera: topic.split('/')[1], ...record }); else if (kind === 'ota') state.ota = record;
  }
  changed();
}

function addReading(id: string, r: Json): void {
  const ts = Date.parse(String(r.ts));
  const v = typeof r.value === 'number' ? r.value : null;
  let s = state.sensors.get(id);
  if (!s) {
    s = { value: v, ts, seq: 0, series: new Series() };
    state.sensors.set(id, s);
  }
  if (ts >= s.ts || s.series.length === 0) {
    s.value = v;
    s.ts = ts;
    s.seq = typeof r.seq === 'number' ? r.seq : s.seq;
  }
  s.series.add(ts, v);
}

/** One row per tracked object: an `update` or `end` replaces the row its `new` made. */
function addCameraEvent(e: Json): void {
  const key = objectKey(e);
  const i = state.cameraEvents.findIndex((x) => objectKey(x) === key);
  if (i >= 0) state.cameraEvents.splice(i, 1);
  state.cameraEvents.unshift(e);
  if (state.cameraEvents.length > MAX_EVENTS) state.cameraEvents.length = MAX_EVENTS;
}

export function objectKey(e: Json): string {
  const after = e.after as Json | undefined;
  return String(after?.object_id ?? e.object_id ?? e.id);
}

const live = new LiveSocket(onRecords, (ls) => {
  state.live = ls;
  // Open: fresh figures at once, not at the next poll. Waiting: the feed was refused or cut; one request tells why
  // (a 401 brings the login form back; an answer means only the WebSocket is blocked, and polling carries on).
  if (ls.kind !== 'connecting') void pollStatus();
  changed();
});

let pollTimer: ReturnType<typeof setTimeout> | undefined;

async function pollStatus(): Promise<void> {
  clearTimeout(pollTimer);
  try {
    const s = await getJson<Status>('api/v1/status');
    state.status = s;
    state.statusAt = Date.now();
    state.statusError = undefined;
    for (const x of s.sensors) {
      // The status carries each sensor's last reading: a chart is never empty while waiting for the feed.
      if (x.last_ts !== null && !state.sensors.has(x.id)) addReading(x.id, { ts: x.last_ts, value: x.last_value, seq: 0 });
    }
  } catch (err) {
    state.statusError = err instanceof Error ? err.message : String(err);
    if (err instanceof HttpError && err.status === 401) return; // the login form takes over
  } finally {
    changed();
  }
  // While the gateway is unreachable the feed's reconnect brings the next status; polling would only add errors.
  if (!state.login && (state.live.kind === 'open' || state.statusError === undefined)) schedulePoll();
}

function schedulePoll(): void {
  clearTimeout(pollTimer);
  if (document.visibilityState === 'visible') pollTimer = setTimeout(() => void pollStatus(), state.pollMs);
}

/** The panel on screen sets how fresh the status must be. */
export function setPollInterval(ms: number): void {
  if (ms === state.pollMs) return;
  const sooner = ms < state.pollMs;
  state.pollMs = ms;
  if (sooner && !state.login && state.statusError === undefined) void pollStatus();
}

function startSession(): void {
  state.login = false;
  state.loginError = undefined;
  live.restart();
  void pollStatus();
  changed();
}

export async function login(candidate: string): Promise<void> {
  state.loginError = undefined;
  try {
    if (!(await tryToken(candidate))) {
      state.loginError = 'The gateway did not accept this token.';
      changed();
      return;
    }
  } catch (err) {
    state.loginError = `The gateway could not be reached: ${err instanceof Error ? err.message : String(err)}`;
    changed();
    return;
  }
  setToken(candidate);
  startSession();
}

export function logout(): void {
  setToken(undefined);
  live.stop();
  clearTimeout(pollTimer);
  state.login = true;
  state.status = undefined;
  state.sensors.clear();
  state.cameraEvents = [];
  changed();
}

export function start(boot: Boot): void {
  state.boot = boot;
  whenUnauthorized(() => {
    if (state.login) return;
    logout();
    state.loginError = 'The session is no longer accepted: enter the token again.';
  });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && !state.login) void pollStatus();
    else clearTimeout(pollTimer);
  });
  if (boot.auth) {
    state.login = true;
    changed();
  } else {
    startSession();
  }
}
