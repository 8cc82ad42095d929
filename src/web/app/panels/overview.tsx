// Overview: the device, its upstream routes, the outbox (with purge), drops and the process's own load.
import { useRef, useState } from 'preact/hooks';
import { postJson } from '../api.ts';
import { ago, bytes, dash, duration, label, num } from '../format.ts';
import { changed, state, useStore } from '../store.ts';
import { Badge, Card, Stat } from '../ui.tsx';

export function Overview({ now, stale }: { now: number; stale: boolean }) {
  const { status: s } = useStore();
  if (!s) return <Card title="Overview"><p class="muted">Waiting for the gateway…</p></Card>;
  const routes = Object.values(s.routes).flat();
  const p = s.process;
  return (
    <div class="grid">
      <Card title="Device" stale={stale}>
        <div class="stats">
          <Stat label="device" value={s.device} />
          <Stat label="version" value={s.version} />
          <Stat label="uptime" value={duration(s.uptime_s)} />
          <Stat label="config" value={<span class="small">{s.config_source}</span>} />
        </div>
      </Card>
      <Card title="Process" stale={stale}>
        <div class="stats">
          <Stat label="CPU (one core)" value={p ? `${num(p.cpu_percent, 1)} %` : dash} />
          <Stat label="memory (RSS)" value={bytes(p?.rss_bytes)} />
          <Stat label="heap" value={bytes(p?.heap_used_bytes)} />
          <Stat label="event-loop lag p99" value={p ? `${num(p.event_loop_lag_ms.p99, 1)} ms` : dash} warn={(p?.event_loop_lag_ms.p99 ?? 0) > 50} />
        </div>
      </Card>
      <Card title="Upstream routes" class="wide" stale={stale}>
        {routes.length === 0 ? <p class="muted">No upstream route configured.</p> : (
          <div class="table-wrap">
            <table>
              <thead><tr><th>route</th><th>state</th><th>connected</th><th class="num">in flight</th><th class="num">published</th><th class="num">dead letters</th><th>last error</th></tr></thead>
              <tbody>
                {routes.map((r) => (
                  <tr key={r.name} data-route={r.name}>
                    <td><b>{r.name}</b><div class="muted small">{r.kind} · {r.url}</div></td>
                    <td><Badge state={r.state} /></td>
                    <td>{r.state === 'connected' && r.connected_since ? ago(r.connected_since, now) : dash}</td>
                    <td class="num">{num(r.inflight)}</td>
                    <td class="num">{num(r.published)}</td>
                    <td class="num">{num(r.dead_lettered)}</td>
                    <td class="small wrap">{r.last_error ?? dash}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
      <Outbox stale={stale} />
      <Card title="Drops" stale={stale}>
        {(s.drops ?? []).length === 0 ? <p class="muted">Nothing dropped.</p> : (
          <table>
            <thead><tr><th>stage</th><th>reason</th><th class="num">records</th></tr></thead>
            <tbody>
              {(s.drops ?? []).map((d) => (
                <tr key={`${d.stage}/${d.reason}`}><td>{d.stage}</td><td>{label(d.reason)}</td><td class="num">{num(d.count)}</td></tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
    </div>
  );
}

function Outbox({ stale }: { stale: boolean }) {
  const o = state.status?.outbox;
  const dialog = useRef<HTMLDialogElement>(null);
  const [result, setResult] = useState<string | undefined>();
  if (!o) return null;
  const purge = async () => {
    dialog.current?.close();
    try {
      const r = await postJson<{ purged: number }>('api/v1/outbox/purge', { confirm: true });
      setResult(`Purged ${num(r.purged)} records.`);
    } catch (err) {
      setResult(`Purge failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    changed();
  };
  return (
    <Card title="Outbox" stale={stale} id="outbox">
      <div class="stats">
        <Stat label="waiting records" value={num(o.rows)} id="outbox-rows" />
        <Stat label="bytes" value={bytes(o.bytes)} />
        <Stat label="oldest" value={o.oldest_age_s === null || o.oldest_age_s === undefined ? dash : duration(o.oldest_age_s)} />
        <Stat label="dead letters" value={num(o.dead_letters)} warn={o.dead_letters > 0} />
      </div>
      <div class="actions">
        <button type="button" class="danger" id="purge" disabled={o.rows === 0} onClick={() => dialog.current?.showModal()}>Purge outbox…</button>
        {result && <span class="muted small" role="status">{result}</span>}
      </div>
      <dialog ref={dialog} id="purge-dialog">
        <form method="dialog">
          <h3>Purge the outbox?</h3>
          <p>This deletes the {num(o.rows)} records waiting to be sent ({bytes(o.bytes)}). They will never reach the upstream. This cannot be undone.</p>
          <div class="actions">
            <button type="submit" value="cancel" autofocus>Cancel</button>
            <button type="button" class="danger" id="purge-confirm" onClick={() => void purge()}>Delete {num(o.rows)} records</button>
          </div>
        </form>
      </dialog>
    </Card>
  );
}
