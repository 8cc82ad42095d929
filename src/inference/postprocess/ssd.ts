// SSD models exported with TFLite's detection post-process op: outputs boxes [1, N, 4] as (ymin, xmin, ymax,
// xmax) input fractions, classes [1, N], scores [1, N] and count [1], in that order (TF1 export).
import { labelOf, realOutput, toFrameBox } from './types.ts';
import type { Detection, PostProcessor } from './types.ts';

export const decodeSsd: PostProcessor = (outputs, ctx) => {
  const boxes = realOutput(outputs, ctx, 0);
  const classes = realOutput(outputs, ctx, 1);
  const scores = realOutput(outputs, ctx, 2);
  const count = Math.min(Math.round(realOutput(outputs, ctx, 3)[0] ?? 0), scores.length, boxes.length / 4);
  const result: Detection[] = [];
  for (let i = 0; i < count; i++) {
    const score = scores[i]!;
    if (score < ctx.scoreThreshold) continue;
    const [ymin, xmin, ymax, xmax] = [boxes[i * 4]!, boxes[i * 4 + 1]!, boxes[i * 4 + 2]!, boxes[i * 4 + 3]!];
    result.push({ label: labelOf(ctx, Math.round(classes[i]!)), score, box: toFrameBox(xmin, ymin, xmax - xmin, ymax - ymin, ctx) });
  }
  return result.sort((a, b) => b.score - a.score).slice(0, ctx.maxDetections);
};
