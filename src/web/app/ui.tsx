// Small building blocks shared by the panels.
import type { ComponentChildren } from 'preact';
import { dash, label } from './format.ts';

export function Card({ title, children, class: cls, stale, id }: { title?: ComponentChildren; children: ComponentChildren; class?: string; stale?: boolean; id?: string }) {
  return (
    <section class={`card${cls ? ` ${cls}` : ''}${stale ? ' stale' : ''}`} id={id}>
      {title !== undefined && <h2>{title}</h2>}
      {children}
    </section>
  );
}

/** A figure with its caption: `<Stat label="rows" value="12" />`. */
export function Stat({ label: caption, value, id, warn }: { label: string; value: ComponentChildren; id?: string; warn?: boolean }) {
  return (
    <div class={`stat${warn ? ' warn' : ''}`}>
      <span class="stat-value" id={id}>{value}</span>
      <span class="stat-label">{caption}</span>
    </div>
  );
}

const GOOD = new Set(['connected', 'running', 'active', 'ok', 'online']);
const BAD = new Set(['disconnected', 'error', 'stalled', 'failed', 'rolled_back', 'offline', 'stopped']);

/** A state word with a colour: green when well, red when not, amber in between. */
export function Badge({ state }: { state: string | null | undefined }) {
  const s = state ?? dash;
  const tone = GOOD.has(s) ? 'good' : BAD.has(s) ? 'bad' : 'mid';
  return <span class={`badge ${tone}`}>{label(s)}</span>;
}

/** A `{reason: count}` map as a short list, or "none". */
export function Counts({ counts }: { counts: Record<string, unknown> | undefined }) {
  const entries = Object.entries(counts ?? {}).filter(([, v]) => typeof v === 'number' && v > 0);
  if (entries.length === 0) return <span class="muted">none</span>;
  return (
    <span class="counts">
      {entries.map(([k, v]) => (
        <span key={k}>
          {label(k)} <b>{String(v)}</b>
        </span>
      ))}
    </span>
  );
}
