// BlazeFace (MediaPipe face_detection_short_range.tflite): 896 anchors on a 128×128 input (strides 8, 16, 16, 16,
// all 1×1), 16 regressions per anchor (box centre/size then 6 keypoints, in input pixels), one logit each.
import { decodeRawSsd } from './anchors.ts';
import type { AnchorSpec } from './anchors.ts';
import type { PostProcessor } from './types.ts';

export const BLAZEFACE_ANCHORS: AnchorSpec = {
  minScale: 0.1484375,
  maxScale: 0.75,
  strides: [8, 16, 16, 16],
  aspectRatios: [1],
  reduceBoxesInLowestLayer: false,
  interpolatedScaleAspectRatio: 1,
  fixedAnchorSize: true,
};

export const decodeBlazeface: PostProcessor = (outputs, ctx) =>
  decodeRawSsd(outputs, ctx, {
    anchors: BLAZEFACE_ANCHORS,
    boxScale: [ctx.inputWidth, ctx.inputHeight, ctx.inputWidth, ctx.inputHeight],
    order: 'xy',
    exponential: false,
    ignoreClasses: [],
  });
