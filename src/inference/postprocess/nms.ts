// Non-maximum suppression over candidate boxes (model-input fractions, x/y = top-left).

export interface Candidate {
  x: number;
  y: number;
  w: number;
  h: number;
  score: number;
  classIndex: number;
}

export function iou(a: Candidate, b: Candidate): number {
  const ix = Math.max(0, Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x));
  const iy = Math.max(0, Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y));
  const inter = ix * iy;
  const union = a.w * a.h + b.w * b.h - inter;
  return union > 0 ? inter / union : 0;
}

/** Greedy NMS per class: keep the best, drop same-class boxes overlapping it by more than `threshold`. */
export function nms(candidates: Candidate[], threshold: number, max: number): Candidate[] {
  const sorted = [...candidates].sort((a, b) => b.score - a.score);
  const kept: Candidate[] = [];
  for (const c of sorted) {
    if (kept.length >= max) break;
    if (kept.every((k) => k.classIndex !== c.classIndex || iou(k, c) <= threshold)) kept.push(c);
  }
  return kept;
}

/**
 * Weighted NMS (as MediaPipe does for faces): each kept box is the score-weighted mean of the boxes it
 * suppresses, which steadies a face's box between frames.
 */
export function weightedNms(candidates: Candidate[], threshold: number, max: number): Candidate[] {
  let remaining = [...candidates].sort((a, b) => b.score - a.score);
  const kept: Candidate[] = [];
  while (remaining.length > 0 && kept.length < max) {
    const best = remaining[0]!;
    const cluster = remaining.filter((c) => c.classIndex === best.classIndex && iou(best, c) > threshold);
    remaining = remaining.filter((c) => !cluster.includes(c));
    const total = cluster.reduce((n, c) => n + c.score, 0);
    const mean = (pick: (c: Candidate) => number) => cluster.reduce((n, c) => n + pick(c) * c.score, 0) / total;
    kept.push({ x: mean((c) => c.x), y: mean((c) => c.y), w: mean((c) => c.w), h: mean((c) => c.h), score: best.score, classIndex: best.classIndex });
  }
  return kept;
}
