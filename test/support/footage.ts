// Real footage for tests: OpenCV's vtest.avi (pedestrians and parked cars, 768×576, 10 fps; from Debian's
// opencv-doc, fetched once by test/fixtures/fetch-footage.sh, never committed), frames decoded by ffmpeg, and
// scenes of its people and cars slid over a grey background.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { frameBytes } from '../../src/inference/preprocess.ts';
import type { Crop, Frame } from '../../src/inference/preprocess.ts';
import { GENERATED_DIR } from '../fixtures/generate.ts';

const run = promisify(execFile);

export const VTEST = path.join(GENERATED_DIR, 'vtest.avi');
export const VTEST_SIZE = { width: 768, height: 576 };

/** vtest.avi's path, fetched first if it is not there yet. */
export function vtest(): string {
  if (!existsSync(VTEST)) execFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'fetch-footage.sh'), { stdio: 'inherit' });
  return VTEST;
}

/** The frame of vtest.avi at `seconds`, as RGB24. */
export async function vtestFrame(seconds: number): Promise<Frame> {
  const { stdout } = await run('ffmpeg', ['-loglevel', 'error', '-ss', String(seconds), '-i', vtest(), '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], {
    encoding: 'buffer',
    maxBuffer: 1 << 24,
  });
  return { ...VTEST_SIZE, format: 'rgb24', data: new Uint8Array(stdout) };
}

/** An RGB24 frame converted to yuv420p by ffmpeg, as a camera's frames arrive. */
export async function toYuv420p(frame: Frame): Promise<Frame> {
  const child = execFile('ffmpeg', ['-loglevel', 'error', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${frame.width}x${frame.height}`, '-i', 'pipe:0', '-f', 'rawvideo', '-pix_fmt', 'yuv420p', 'pipe:1'], {
    encoding: 'buffer',
    maxBuffer: 1 << 24,
  });
  const chunks: Buffer[] = [];
  child.stdout!.on('data', (c: Buffer) => chunks.push(c));
  child.stdin!.end(frame.data);
  await new Promise<void>((resolve, reject) => child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited with ${code}`)))));
  const data = new Uint8Array(Buffer.concat(chunks));
  if (data.length !== frameBytes(frame.width, frame.height, 'yuv420p')) throw new Error(`ffmpeg gave ${data.length} bytes`);
  return { width: frame.width, height: frame.height, format: 'yuv420p', data };
}

/**
 * People and cars of vtest.avi's first frame, in its pixels: the two people walking and the two parked cars; `source`
 * is the patch cut out (with some of their surroundings), `box` the object itself.
 */
export const VTEST_OBJECTS: readonly { label: 'person' | 'car'; source: Crop; box: Crop }[] = [
  { label: 'person', source: { x: 243, y: 209, w: 51, h: 106 }, box: { x: 253, y: 218, w: 28, h: 86 } },
  { label: 'person', source: { x: 635, y: 232, w: 66, h: 101 }, box: { x: 644, y: 239, w: 44, h: 82 } },
  { label: 'car', source: { x: 640, y: 36, w: 92, h: 68 }, box: { x: 648, y: 40, w: 74, h: 60 } },
  { label: 'car', source: { x: 726, y: 40, w: 42, h: 58 }, box: { x: 732, y: 49, w: 36, h: 47 } },
];

/** Where the objects sit on the 640×480 grey scene at shift 0. */
const PLACES = [
  { x: 40, y: 120 },
  { x: 200, y: 300 },
  { x: 380, y: 60 },
  { x: 60, y: 10 },
];

export interface Scene {
  frame: Frame;
  objects: { label: 'person' | 'car'; box: Crop }[];
}

/** vtest.avi's people and cars cut out of `source` (its first frame) and pasted on grey, moved right by `shift` px; each object's box is where it lands. */
export function slideScene(source: Frame, shift: number, width = 640, height = 480): Scene {
  const data = new Uint8Array(frameBytes(width, height)).fill(128);
  const objects = VTEST_OBJECTS.map((o, i) => {
    const at = { x: PLACES[i]!.x + shift, y: PLACES[i]!.y };
    const w = Math.min(o.source.w, width - at.x);
    for (let y = 0; y < o.source.h; y++) {
      const from = ((o.source.y + y) * source.width + o.source.x) * 3;
      data.set(source.data.subarray(from, from + w * 3), ((at.y + y) * width + at.x) * 3);
    }
    return { label: o.label, box: { x: at.x + o.box.x - o.source.x, y: at.y + o.box.y - o.source.y, w: o.box.w, h: o.box.h } };
  });
  return { frame: { width, height, format: 'rgb24', data }, objects };
}

/** A square region of `size` px centred on `box`, kept inside the frame (how a camera pipeline asks). */
export function regionAround(box: Crop, size: number, frame: { width: number; height: number }): Crop {
  const x = Math.min(Math.max(Math.round(box.x + box.w / 2 - size / 2), 0), frame.width - size);
  const y = Math.min(Math.max(Math.round(box.y + box.h / 2 - size / 2), 0), frame.height - size);
  return { x, y, w: size, h: size };
}
