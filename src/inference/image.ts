// PNG/JPEG file → RGB24 frame, through sharp (loaded on first use: a native addon the gateway can run without).
import { EdgeloopError, messageOf } from '../errors.ts';
import type { Frame } from './preprocess.ts';
import type Sharp from 'sharp';

export async function decodeImage(file: string): Promise<Frame> {
  let sharp: typeof Sharp;
  try {
    sharp = (await import('sharp')).default;
  } catch (err) {
    throw new EdgeloopError('ENGINE_UNAVAILABLE', `sharp (the image decoder) cannot be loaded: ${messageOf(err)}`, { cause: err });
  }
  try {
    const { data, info } = await sharp(file).rotate().removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
  } catch (err) {
    throw new EdgeloopError('IMAGE_INVALID', `cannot decode ${file}: ${messageOf(err)}`, { cause: err });
  }
}
