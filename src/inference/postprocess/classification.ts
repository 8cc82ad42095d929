// Classification: the top-k classes above the threshold, each with a box covering the whole frame.
import { labelOf, realOutput } from './types.ts';
import type { Detection, PostProcessor } from './types.ts';

/** Scores that already look like probabilities (in [0, 1], summing to ~1) are left as they are in 'auto'. */
function isDistribution(values: Float32Array): boolean {
  let sum = 0;
  for (const v of values) {
    if (v < 0 || v > 1) return false;
    sum += v;
  }
  return Math.abs(sum - 1) < 1e-3;
}

export function softmax(values: Float32Array): Float32Array {
  let max = -Infinity;
  for (const v of values) max = Math.max(max, v);
  const out = new Float32Array(values.length);
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    out[i] = Math.exp(values[i]! - max);
    sum += out[i]!;
  }
  for (let i = 0; i < out.length; i++) out[i] = out[i]! / sum;
  return out;
}

export const classify: PostProcessor = (outputs, ctx) => {
  const raw = realOutput(outputs, ctx, 0);
  const apply = ctx.softmax === 'auto' ? !isDistribution(raw) : ctx.softmax;
  const scores = apply ? softmax(raw) : raw;
  const order = Array.from(scores.keys()).sort((a, b) => scores[b]! - scores[a]!);
  const result: Detection[] = [];
  for (const i of order.slice(0, ctx.topK)) {
    if (scores[i]! < ctx.scoreThreshold) break;
    result.push({ label: labelOf(ctx, i), score: scores[i]!, box: { x: 0, y: 0, w: 1, h: 1 } });
  }
  return result;
};
