// YOLO heads: v5 [1, N, 5 + classes] (cx, cy, w, h, objectness, class scores) and v8 [1, 4 + classes, N]
// (cx, cy, w, h, class scores; no objectness, transposed). Coordinates in input pixels; NMS per class.
import { nms } from './nms.ts';
import type { Candidate } from './nms.ts';
import { labelOf, realOutput, toFrameBox } from './types.ts';
import type { PostProcessor } from './types.ts';

export const decodeYolo: PostProcessor = (outputs, ctx) => {
  const data = realOutput(outputs, ctx, 0);
  const shape = ctx.outputs[0]?.shape ?? [];
  const [d1, d2] = [shape[1] ?? 0, shape[2] ?? 0];
  // Without a stated version: v8 exports put the (small) attribute axis first.
  const v8 = ctx.yoloVersion ? ctx.yoloVersion === 'v8' : d1 < d2;
  const anchors = v8 ? d2 : d1;
  const attrs = v8 ? d1 : d2;
  const classes = attrs - (v8 ? 4 : 5);
  const at = v8 ? (a: number, k: number) => data[k * anchors + a]! : (a: number, k: number) => data[a * attrs + k]!;
  const candidates: Candidate[] = [];
  for (let a = 0; a < anchors; a++) {
    const objectness = v8 ? 1 : at(a, 4);
    if (objectness < ctx.scoreThreshold) continue;
    let best = 0;
    let bestScore = -Infinity;
    for (let c = 0; c < classes; c++) {
      const s = at(a, (v8 ? 4 : 5) + c);
      if (s > bestScore) {
        bestScore = s;
        best = c;
      }
    }
    const score = objectness * bestScore;
    if (score < ctx.scoreThreshold) continue;
    const w = at(a, 2) / ctx.inputWidth;
    const h = at(a, 3) / ctx.inputHeight;
    candidates.push({ x: at(a, 0) / ctx.inputWidth - w / 2, y: at(a, 1) / ctx.inputHeight - h / 2, w, h, score, classIndex: best });
  }
  return nms(candidates, ctx.iouThreshold, ctx.maxDetections).map((c) => ({
    label: labelOf(ctx, c.classIndex),
    score: c.score,
    box: toFrameBox(c.x, c.y, c.w, c.h, ctx),
  }));
};
