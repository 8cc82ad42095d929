// Wall-clock time in epoch milliseconds with sub-millisecond resolution. It follows Date.now() (so a device whose
// clock is set by NTP after boot gets right timestamps), and adds performance.now()'s resolution so latencies below
// a millisecond can be measured.
let anchor = Date.now() - performance.now();

export function nowMs(): number {
  const t = anchor + performance.now();
  const wall = Date.now();
  // Date.now() is whole milliseconds: more than 1 ms apart means the wall clock was set; follow it.
  if (t < wall - 1 || t > wall + 1) {
    anchor = wall - performance.now();
    return wall;
  }
  return t;
}
