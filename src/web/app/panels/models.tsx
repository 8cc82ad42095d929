// Models: installed and active versions per model, the update history with outcomes, and live OTA progress from the
// feed. Shown only when the gateway takes model updates.
import { clock, dash, num } from '../format.ts';
import { usePoll } from '../poll.ts';
import { useStore } from '../store.ts';
import type { Json } from '../types.ts';
import { Badge, Card } from '../ui.tsx';

const MODELS_POLL_MS = 10_000;
const DONE = new Set(['active', 'failed', 'rolled_back']);

const str = (x: unknown) => (x === undefined || x === null ? dash : typeof x === 'object' ? JSON.stringify(x) : String(x));
const versionOf = (v: unknown) => (typeof v === 'object' && v !== null ? str((v as Json).label ?? (v as Json).version) : str(v));

export function Models({ stale }: { stale: boolean }) {
  const { ota } = useStore();
  const data = usePoll<{ models: Json[]; history?: Json[] }>('api/v1/models', MODELS_POLL_MS, 'models');
  const models = data?.models ?? [];
  const history: Json[] = data?.history ?? models.flatMap((m) => ((m.history as Json[] | undefined) ?? []).map((h): Json => ({ name: m.name, ...h })));
  const stage = typeof ota?.stage === 'string' ? ota.stage : typeof ota?.state === 'string' ? ota.state : undefined;
  const percent = typeof ota?.percent === 'number' ? ota.percent : undefined;
  return (
    <div class="grid">
      {ota && stage && (
        <Card title="Model update" class="wide" stale={stale}>
          <p>
            <b>{str(ota.name)}</b> {versionOf(ota.version)} <Badge state={stage} />
            {ota.reason !== undefined && <span class="error small"> {str(ota.reason)}</span>}
          </p>
          {!DONE.has(stage) && <progress max={100} value={percent} aria-label="update progress" />}
          {percent !== undefined && <span class="small muted"> {num(percent)} %</span>}
        </Card>
      )}
      <Card title="Installed models" class="wide" stale={stale}>
        {models.length === 0 ? <p class="muted">{data ? 'No model installed.' : 'Waiting for the gateway…'}</p> : (
          <div class="table-wrap">
            <table>
              <thead><tr><th>model</th><th>active</th><th>installed versions</th></tr></thead>
              <tbody>
                {models.map((m) => (
                  <tr key={str(m.name)}>
                    <td><b>{str(m.name)}</b></td>
                    <td>{versionOf(m.active)}</td>
                    <td class="small">{((m.installed ?? m.versions) as unknown[] | undefined)?.map(versionOf).join(', ') ?? dash}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
      <Card title="Update history" class="wide" stale={stale}>
        {history.length === 0 ? <p class="muted">No update yet.</p> : (
          <div class="table-wrap">
            <table>
              <thead><tr><th>when</th><th>model</th><th>version</th><th>outcome</th><th>reason</th></tr></thead>
              <tbody>
                {history.slice(0, 50).map((h, i) => (
                  <tr key={i}>
                    <td>{clock((h.ts ?? h.at ?? h.finished_at) as string | undefined)}</td>
                    <td>{str(h.name)}</td>
                    <td>{versionOf(h.version)}</td>
                    <td><Badge state={str(h.outcome ?? h.state)} /></td>
                    <td class="small"><code>{h.reason === undefined ? dash : str(h.reason)}</code></td>
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
