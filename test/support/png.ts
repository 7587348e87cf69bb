import { Resvg } from '@resvg/resvg-js';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Checks the PNG signature and returns the IHDR dimensions; throws on anything that is not a PNG. */
export function pngSize(png: Buffer): { width: number; height: number } {
  if (png.length < 24 || !png.subarray(0, 8).equals(SIGNATURE) || png.subarray(12, 16).toString('latin1') !== 'IHDR') {
    throw new Error('not a PNG');
  }
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

/** Decodes a PNG to RGBA pixels by embedding it in an SVG that resvg renders at its own size. */
function pngPixels(png: Buffer): { width: number; height: number; rgba: Buffer } {
  const { width, height } = pngSize(png);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `<image width="${width}" height="${height}" href="data:image/png;base64,${png.toString('base64')}"/></svg>`;
  const image = new Resvg(svg).render();
  return { width: image.width, height: image.height, rgba: Buffer.from(image.pixels) };
}

/** Counts pixels darker than mid-grey (text and lines on a white background). */
export function darkPixels(png: Buffer): number {
  const { rgba } = pngPixels(png);
  let dark = 0;
  for (let i = 0; i < rgba.length; i += 4) {
    if (rgba[i + 3]! > 128 && rgba[i]! + rgba[i + 1]! + rgba[i + 2]! < 3 * 128) dark += 1;
  }
  return dark;
}
