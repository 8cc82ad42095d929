// The post-processor for each task, one line each.
import type { Task } from '../sidecar.ts';
import { decodeSsdAnchors } from './anchors.ts';
import { decodeBlazeface } from './blazeface.ts';
import { classify } from './classification.ts';
import { decodeSsd } from './ssd.ts';
import type { PostProcessor } from './types.ts';
import { decodeYolo } from './yolo.ts';

export const POSTPROCESSORS: Readonly<Record<Task, PostProcessor>> = {
  classification: classify,
  'detection-ssd': decodeSsd,
  'detection-ssd-anchors': decodeSsdAnchors,
  'detection-yolo': decodeYolo,
  'detection-blazeface': decodeBlazeface,
};
