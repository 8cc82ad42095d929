// Models: installed and active versions per model, the update history with outcomes, and the progress of an update
// from the live feed (`ota/status`). Shown only when the gateway takes model updates.
import { bytes, clock, dash, num } from '../format.ts';
import { usePoll } from '../poll.ts';
import { useStore } from '../store.ts';
import { Badge, Card } from '../ui.tsx';

const MODELS_POLL_MS = 10_000;
/** States after which an update is over. */
const DONE = new Set(['active', 'failed', 'rolled_back']);

/** `GET /api/v1/models` (the fields the panel shows). */
interface ModelVersion {
  version: number;
  label: string;
  source: string;
  installed_at: string | null;
}
interface Model {
  name: string;
  /** The committed version; `active` differs from it during a health window. */
  current: number;
  active: number;
  versions: ModelVersion[];
}
export interface UpdateStatus {
  update_id: string;
  name: string | null;
  version: number | null;
  label: string | null;
  state: string;
  bytes: number | null;
  total: number | null;
  percent: number | null;
  error: string | null;
  reason: string | null;
}
interface HistoryEntry extends UpdateStatus {
  from_version: number;
  finished_at: string;
}

const labelOf = (m: Model, version: number) => {
  const v = m.versions.find((x) => x.version === version);
  return v ? `${v.label} (v${version})` : `v${version}`;
};

export function Models({ stale }: { stale: boolean }) {
  const { ota } = useStore();
  const data = usePoll<{ models: Model[]; history: HistoryEntry[]; update: UpdateStatus | null }>('api/v1/models', MODELS_POLL_MS, 'models');
  const models = data?.models ?? [];
  // The live feed is newer than the last poll when it speaks of the same update.
  const update = (ota as UpdateStatus | undefined) ?? data?.update ?? undefined;
  return (
    <div class="grid">
      {update && (
        <Card title="Model update" class="wide" stale={stale} id="ota">
          <p>
            <b>{update.name ?? dash}</b> {update.label ?? (update.version === null ? '' : `v${update.version}`)} <Badge state={update.state} />
            {update.error && <> <code class="error small">{update.error}</code></>}
          </p>
          {update.reason && <p class="small">{update.reason}</p>}
          {!DONE.has(update.state) && (
            <>
              <progress max={100} value={update.percent ?? undefined} aria-label="update progress" />
              <span class="small muted">
                {update.percent === null ? '' : `${num(update.percent)} %`}
                {update.bytes === null ? '' : ` · ${bytes(update.bytes)}${update.total === null ? '' : ` of ${bytes(update.total)}`}`}
              </span>
            </>
          )}
        </Card>
      )}
      <Card title="Installed models" class="wide" stale={stale}>
        {models.length === 0 ? <p class="muted">{data ? 'No model installed.' : 'Waiting for the gateway…'}</p> : (
          <div class="table-wrap">
            <table>
              <thead><tr><th>model</th><th>serving</th><th>committed</th><th>installed versions</th></tr></thead>
              <tbody>
                {models.map((m) => (
                  <tr key={m.name} data-model={m.name}>
                    <td><b>{m.name}</b></td>
                    <td>{labelOf(m, m.active)}</td>
                    <td>{labelOf(m, m.current)}</td>
                    <td class="small wrap">{m.versions.map((v) => `${v.label} (v${v.version}${v.source === 'package' ? ', shipped' : ''})`).join(', ')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
      <Card title="Update history" class="wide" stale={stale}>
        {(data?.history ?? []).length === 0 ? <p class="muted">No update yet.</p> : (
          <div class="table-wrap">
            <table>
              <thead><tr><th>finished</th><th>outcome</th><th>model</th><th>version</th><th>reason</th></tr></thead>
              <tbody>
                {(data?.history ?? []).slice(0, 50).map((h) => (
                  <tr key={h.update_id}>
                    <td>{clock(h.finished_at)}</td>
                    <td><Badge state={h.state} /></td>
                    <td>{h.name}</td>
                    <td>{h.label ?? dash} (v{h.from_version} → v{h.version})</td>
                    <td class="small wrap">{h.error && <code>{h.error}</code>} {h.reason ?? (h.error ? '' : dash)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </div>
  );
}
