// Sensors: a live chart per channel from the WebSocket feed, its last value, rate, errors and drops.
import { Chart } from '../chart.tsx';
import { ago, num, value } from '../format.ts';
import { useStore } from '../store.ts';
import { Card, Stat } from '../ui.tsx';

/** A reading is stale after this many missed intervals (and never sooner than STALE_MIN_MS). */
const STALE_INTERVALS = 3;
const STALE_MIN_MS = 5000;

export function Sensors({ now, offline, theme }: { now: number; offline: boolean; theme: string }) {
  const { status, sensors } = useStore();
  const list = status?.sensors ?? [...sensors.keys()].map((id) => ({ id, unit: '', interval_ms: 1000 }) as const);
  if (list.length === 0) return <Card title="Sensors"><p class="muted">No sensor configured.</p></Card>;
  return (
    <div class="grid sensors">
      {list.map((cfg) => {
        const live = sensors.get(cfg.id);
        const full = status?.sensors.find((x) => x.id === cfg.id);
        const age = live ? now - live.ts : Infinity;
        const stale = offline || age > Math.max(STALE_MIN_MS, STALE_INTERVALS * cfg.interval_ms);
        return (
          <Card key={cfg.id} class="sensor" stale={stale} title={<>{cfg.id} <span class="muted small">{full?.driver}</span></>}>
            <div class="reading" data-sensor={cfg.id}>
              <span class="value">{value(live?.value)}</span> <span class="unit">{cfg.unit}</span>
              {stale && <span class="stale-tag" title="no new reading">stale · {live ? ago(live.ts, now) : 'no reading yet'}</span>}
            </div>
            {live && <Chart series={live.series} theme={theme} />}
            {full && (
              <div class="stats small-stats">
                <Stat label="rate" value={`${num(full.rate_hz, 1)} Hz`} />
                <Stat label="errors" value={num(full.errors + full.timeouts)} warn={full.errors + full.timeouts > 0} />
                <Stat label="drops" value={num(full.drops)} warn={full.drops > 0} />
                <Stat label="queue" value={num(full.queue_depth)} />
              </div>
            )}
            {full?.last_error && <p class="error small">{full.last_error}</p>}
          </Card>
        );
      })}
    </div>
  );
}
