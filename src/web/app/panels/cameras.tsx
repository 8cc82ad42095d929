// Cameras: the latest annotated frame of each camera, its rates, inference time, skips and state; the recent events
// with their snapshots, filterable by camera and label. Shown only when the gateway has cameras.
import { useEffect, useState } from 'preact/hooks';
import { getImageUrl } from '../api.ts';
import { clock, dash, label, num } from '../format.ts';
import { usePoll } from '../poll.ts';
import { objectKey, state, useStore } from '../store.ts';
import type { Json } from '../types.ts';
import { Badge, Card, Counts, Stat } from '../ui.tsx';

const CAMERAS_POLL_MS = 2000;
const FRAME_REFRESH_MS = 2000;
/** The live feed brings new events at once; the list is re-read now and then for what happened before. */
const EVENTS_POLL_MS = 10_000;
const EVENTS_REFRESH_MS = 1000;
/** Snapshot thumbnails kept as object URLs; the oldest are released past this. */
const MAX_THUMBS = 60;

/** `GET /api/v1/cameras`, one camera (the fields the panel shows). */
interface CameraStatus {
  id: string;
  state: string;
  last_error: string | null;
  fps_in: number;
  fps_detect: number;
  frames: { in: number; processed: number; skipped: Record<string, number> };
  restarts: number;
  last_frame: string | null;
  inference_ms_last: number | null;
}

/** A tracked object as the events list shows it. */
interface CameraEvent {
  /** The object's id: also its snapshot's name. */
  key: string;
  camera: string;
  label: string;
  score: number | undefined;
  ts: string | number | undefined;
  type: string | undefined;
  hasSnapshot: boolean;
}

/** An entry of `GET /api/v1/events`, or an event record from the live feed (`{camera, type, after: {…}}`). */
function toEvent(e: Json): CameraEvent {
  const o = (e.after ?? e) as Json;
  const n = (x: unknown) => (typeof x === 'number' ? x : undefined);
  return {
    key: objectKey(e),
    camera: String(e.camera ?? dash),
    label: String(o.label ?? dash),
    score: n(o.top_score) ?? n(o.score),
    ts: (o.last_seen ?? e.ts) as string | number | undefined,
    type: typeof e.type === 'string' ? e.type : e.active === false ? 'end' : undefined,
    hasSnapshot: e.has_snapshot === true,
  };
}

/** An authenticated image: fetched with the token, shown as an object URL, refreshed every `refreshMs` if given. */
function AuthImage({ path, alt, refreshMs, class: cls }: { path: string; alt: string; refreshMs?: number; class?: string }) {
  const [src, setSrc] = useState<string | undefined>(() => thumbs.get(path));
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let current: string | undefined;
    const load = async () => {
      if (refreshMs === undefined && thumbs.has(path)) return setSrc(thumbs.get(path));
      if (document.visibilityState === 'visible' && state.live.kind === 'open') {
        try {
          const url = await getImageUrl(path);
          if (!live) return URL.revokeObjectURL(url);
          if (refreshMs === undefined) keepThumb(path, url);
          else if (current) URL.revokeObjectURL(current);
          current = url;
          setSrc(url);
          setFailed(false);
        } catch {
          setFailed(true);
        }
      }
      if (live && refreshMs !== undefined) timer = setTimeout(() => void load(), refreshMs);
    };
    void load();
    return () => {
      live = false;
      clearTimeout(timer);
      if (refreshMs !== undefined && current) URL.revokeObjectURL(current);
    };
  }, [path, refreshMs]);
  if (failed && !src) return <div class={`img-missing ${cls ?? ''}`}>no image</div>;
  return src ? <img class={cls} src={src} alt={alt} /> : <div class={`img-missing ${cls ?? ''}`}>…</div>;
}

const thumbs = new Map<string, string>();
function keepThumb(path: string, url: string): void {
  thumbs.set(path, url);
  for (const [k, v] of thumbs) {
    if (thumbs.size <= MAX_THUMBS) break;
    URL.revokeObjectURL(v);
    thumbs.delete(k);
  }
}

export function Cameras({ stale }: { stale: boolean }) {
  const { cameraEvents } = useStore();
  const data = usePoll<{ cameras: CameraStatus[] }>('api/v1/cameras', CAMERAS_POLL_MS, 'cameras');
  const [camera, setCamera] = useState('');
  const [labelFilter, setLabelFilter] = useState('');
  // A live event is shown at once; the list (which knows whether its snapshot is saved) is read again a moment later.
  const [refresh, setRefresh] = useState(0);
  useEffect(() => {
    if (cameraEvents.length === 0) return;
    const t = setTimeout(() => setRefresh((n) => n + 1), EVENTS_REFRESH_MS);
    return () => clearTimeout(t);
  }, [cameraEvents[0]]);
  const query = new URLSearchParams({ ...(camera ? { camera } : {}), ...(labelFilter ? { label: labelFilter } : {}) }).toString();
  const listed = usePoll<{ events: Json[] }>(`api/v1/events${query ? `?${query}` : ''}`, EVENTS_POLL_MS, 'cameras', refresh);
  const cameras = data?.cameras ?? [];
  const saved = new Map((listed?.events ?? []).map((e) => [objectKey(e), e.has_snapshot === true]));
  const byKey = new Map<string, CameraEvent>();
  for (const e of [...cameraEvents, ...(listed?.events ?? [])].map(toEvent)) {
    if (!byKey.has(e.key)) byKey.set(e.key, { ...e, hasSnapshot: saved.get(e.key) ?? e.hasSnapshot });
  }
  const events = [...byKey.values()].filter((e) => (!camera || e.camera === camera) && (!labelFilter || e.label === labelFilter));
  const labels = [...new Set([...byKey.values()].map((e) => e.label))].sort();
  return (
    <div class="grid">
      {cameras.length === 0 && <Card title="Cameras"><p class="muted">{data ? 'No camera configured.' : 'Waiting for the gateway…'}</p></Card>}
      {cameras.map((c) => (
        <Card key={c.id} class="camera" stale={stale || c.state !== 'online'} title={<>{c.id} <Badge state={c.state} /></>}>
          {c.last_frame === null ? <div class="img-missing frame">no frame yet</div> : (
            <AuthImage class="frame" path={`api/v1/cameras/${encodeURIComponent(c.id)}/latest.jpg`} alt={`latest frame of ${c.id}`} refreshMs={FRAME_REFRESH_MS} />
          )}
          <div class="stats small-stats">
            <Stat label="fps in" value={num(c.fps_in, 1)} />
            <Stat label="detect fps" value={num(c.fps_detect, 1)} />
            <Stat label="inference" value={c.inference_ms_last === null ? dash : `${num(c.inference_ms_last, 1)} ms`} />
            <Stat label="restarts" value={num(c.restarts)} warn={c.restarts > 0} />
          </div>
          <p class="small">skipped: <Counts counts={c.frames?.skipped} /></p>
          {c.last_error && <p class="error small">{c.last_error}</p>}
        </Card>
      ))}
      <Card title="Recent events" class="wide" stale={stale}>
        <div class="filters">
          <label>camera <select value={camera} onChange={(e) => setCamera(e.currentTarget.value)}>
            <option value="">all</option>
            {cameras.map((c) => <option key={c.id} value={c.id}>{c.id}</option>)}
          </select></label>
          <label>label <select value={labelFilter} onChange={(e) => setLabelFilter(e.currentTarget.value)}>
            <option value="">all</option>
            {labels.map((l) => <option key={l} value={l}>{l}</option>)}
          </select></label>
        </div>
        {events.length === 0 ? <p class="muted">No event yet.</p> : (
          <ul class="events">
            {events.slice(0, 50).map((e) => (
              <li key={e.key} class="event" data-label={e.label}>
                {e.hasSnapshot
                  ? <AuthImage class="thumb" path={`api/v1/events/${encodeURIComponent(e.key)}/snapshot.jpg`} alt={`${e.label} on ${e.camera}`} />
                  : <div class="img-missing thumb">…</div>}
                <div>
                  <b>{label(e.label)}</b> <span class="muted">{e.score === undefined ? '' : `${num(e.score * 100)} %`}</span>
                  <div class="small muted">{e.camera} · {clock(e.ts)}{e.type ? ` · ${e.type}` : ''}</div>
                </div>
              </li>
            ))}
          </ul>
        )}
      </Card>
    </div>
  );
}
