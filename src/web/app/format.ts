// How numbers, sizes and times read on the page.

export const dash = '—';

export function num(x: number | null | undefined, digits = 0): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return dash;
  return x.toLocaleString(undefined, { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/** A sensor value: enough digits to see it move, not more. */
export function value(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return dash;
  const a = Math.abs(x);
  return num(x, a >= 1000 ? 0 : a >= 10 ? 2 : 3);
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return dash;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${num(v, i === 0 ? 0 : 1)} ${units[i]}`;
}

/** A duration in seconds as "3 d 4 h", "5 min 2 s", "12 s", "0.4 s". */
export function duration(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return dash;
  if (s < 10) return `${num(s, 1)} s`;
  const parts: [number, string][] = [[86400, 'd'], [3600, 'h'], [60, 'min'], [1, 's']];
  const out: string[] = [];
  let rest = Math.floor(s);
  for (const [size, unit] of parts) {
    if (rest >= size || (out.length > 0 && out.length < 2)) {
      out.push(`${Math.floor(rest / size)} ${unit}`);
      rest %= size;
    }
    if (out.length === 2) break;
  }
  return out.join(' ');
}

/** How long ago an ISO time or epoch ms was, from `now`. */
export function ago(at: string | number | null | undefined, now: number): string {
  if (at === null || at === undefined) return dash;
  const t = typeof at === 'number' ? at : Date.parse(at);
  if (!Number.isFinite(t)) return dash;
  return `${duration(Math.max(0, (now - t) / 1000))} ago`;
}

/** A moment: its time of day if today, date and time otherwise. */
export function clock(at: string | number | null | undefined, now = Date.now()): string {
  if (at === null || at === undefined) return dash;
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return dash;
  return d.toDateString() === new Date(now).toDateString() ? d.toLocaleTimeString() : d.toLocaleString();
}

/** `queue_full` → "queue full". */
export function label(key: string): string {
  return key.replaceAll('_', ' ').replaceAll('-', ' ');
}
