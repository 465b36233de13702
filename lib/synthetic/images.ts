/**
 * Synthetic calibration images made in code, so examples, tests and benchmarks need no downloads:
 * rendered text crops (for text-orientation classifiers such as PaddleOCR's, upright or turned 180°) and
 * scenes with text lines, shapes and noise (for text detectors). Deterministic for a given seed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { invalidOption } from '../errors';
import { seededRandom } from '../util/random';

/** What to draw. */
export type SyntheticKind = 'text-crops' | 'scenes';

/** Options of {@link makeSyntheticImages}. */
export interface SyntheticImageOptions {
  /** What to draw. Defaults to 'text-crops'. */
  kind?: SyntheticKind;
  /** Number of images. Defaults to 64. */
  count?: number;
  /** Seed of the pseudo-random generator. Defaults to 1. */
  seed?: number;
  /** Output format. Defaults to 'jpeg'. */
  format?: 'jpeg' | 'png';
  /** Size [width, height]. Defaults to [192, 48] for text crops and [640, 480] for scenes. */
  size?: readonly [number, number];
}

/** One written image: its path and, for text crops, whether the text is turned 180° (label 1). */
export interface SyntheticImage {
  /** The image file written. */
  file: string;
  /** Text crops: the text is turned 180° (label 1 of an orientation classifier). */
  rotated180: boolean;
}

const WORDS = [
  'calibrate',
  'TensorRT',
  'INT8',
  'Jetson',
  'entropy',
  'scale',
  'batch',
  'tensor',
  'invoice',
  'total',
  'price',
  'street',
  'model',
  'ONNX',
  'range',
  'kernel',
  'DATE',
  '2026-11-25',
  'No. 42',
  '$19.99',
  'Hello',
  'world',
  'quantize',
  'layer',
  'output',
  'FP16',
  'engine',
  'cache',
  'depth',
  'width',
  'height',
  'node',
  'graph',
];
const FONTS = ['DejaVu Sans', 'DejaVu Serif', 'DejaVu Sans Mono', 'sans-serif', 'serif'];

/** Re-exported: the generator behind every synthetic image. */
export { seededRandom };

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)];
}

function color(rand: () => number, lo: number, hi: number): string {
  const c = () => Math.round(lo + rand() * (hi - lo));
  return `rgb(${c()},${c()},${c()})`;
}

function textCropSvg(rand: () => number, w: number, h: number): string {
  const words = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => pick(rand, WORDS)).join(' ');
  const size = Math.round(h * (0.4 + rand() * 0.2));
  const x = Math.round(rand() * w * 0.08);
  const y = Math.round(h * 0.5 + size * 0.35 + (rand() - 0.5) * h * 0.1);
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">` +
    `<rect width="100%" height="100%" fill="${color(rand, 170, 255)}"/>` +
    `<text x="${x}" y="${y}" font-size="${size}" font-family="${pick(rand, FONTS)}" fill="${color(rand, 0, 90)}"` +
    ` textLength="${Math.round(w * (0.6 + rand() * 0.35))}" lengthAdjust="spacingAndGlyphs">${escapeXml(words)}</text></svg>`
  );
}

function sceneSvg(rand: () => number, w: number, h: number): string {
  const parts: string[] = [`<rect width="100%" height="100%" fill="${color(rand, 120, 255)}"/>`];
  for (let i = 0; i < 6; i++) {
    const cx = rand() * w;
    const cy = rand() * h;
    const r = 10 + rand() * w * 0.15;
    parts.push(
      rand() < 0.5
        ? `<circle cx="${cx.toFixed(1)}" cy="${cy.toFixed(1)}" r="${r.toFixed(1)}" fill="${color(rand, 60, 250)}" opacity="0.6"/>`
        : `<rect x="${cx.toFixed(1)}" y="${cy.toFixed(1)}" width="${(r * 1.5).toFixed(1)}" height="${r.toFixed(1)}" fill="${color(rand, 60, 250)}" opacity="0.6"/>`,
    );
  }
  const lines = 2 + Math.floor(rand() * 5);
  for (let i = 0; i < lines; i++) {
    const words = Array.from({ length: 1 + Math.floor(rand() * 4) }, () => pick(rand, WORDS)).join(' ');
    const size = Math.round(14 + rand() * h * 0.08);
    const x = Math.round(rand() * w * 0.4);
    const y = Math.round(size + rand() * (h - size * 1.5));
    parts.push(
      `<text x="${x}" y="${y}" font-size="${size}" font-family="${pick(rand, FONTS)}" fill="${color(rand, 0, 80)}">${escapeXml(words)}</text>`,
    );
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">${parts.join('')}</svg>`;
}

/** Adds mild Gaussian-like pixel noise (sum of uniforms) to raw RGB data, deterministically. */
function addNoise(data: Buffer, rand: () => number, amplitude: number): void {
  // Plain comparisons instead of Math.* calls: the same values, and fast inside jest's sandbox as well.
  for (let i = 0; i < data.length; i++) {
    const v = data[i] + (rand() + rand() + rand() - 1.5) * amplitude + 0.5;
    data[i] = v < 0 ? 0 : v >= 255 ? 255 : v | 0;
  }
}

/**
 * Writes `count` synthetic images into `dir` (created if needed), named `<kind>-0000.<ext>`…, and returns them.
 * Text crops are turned 180° for every other image on average (seeded), as the PaddleOCR orientation
 * classifier's two classes.
 */
export async function makeSyntheticImages(dir: string, options: SyntheticImageOptions = {}): Promise<SyntheticImage[]> {
  const kind = options.kind ?? 'text-crops';
  if (kind !== 'text-crops' && kind !== 'scenes')
    throw invalidOption('kind', "'text-crops' or 'scenes'", kind, 'range');
  const count = options.count ?? 64;
  if (!Number.isInteger(count) || count < 1) throw invalidOption('count', 'a positive integer', count, 'range');
  const format = options.format ?? 'jpeg';
  if (format !== 'jpeg' && format !== 'png') throw invalidOption('format', "'jpeg' or 'png'", format, 'range');
  const [w, h] = options.size ?? (kind === 'text-crops' ? [192, 48] : [640, 480]);
  const rand = seededRandom(options.seed ?? 1);
  await fs.promises.mkdir(dir, { recursive: true });
  const out: SyntheticImage[] = [];
  for (let i = 0; i < count; i++) {
    const svg = kind === 'text-crops' ? textCropSvg(rand, w, h) : sceneSvg(rand, w, h);
    const rotated180 = kind === 'text-crops' && rand() < 0.5;
    const { data, info } = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    addNoise(data, rand, kind === 'text-crops' ? 6 : 10);
    let img = sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } });
    if (rotated180) img = img.rotate(180);
    const file = path.join(dir, `${kind}-${String(i).padStart(4, '0')}.${format === 'jpeg' ? 'jpg' : 'png'}`);
    await (format === 'jpeg' ? img.jpeg({ quality: 92 }) : img.png()).toFile(file);
    out.push({ file, rotated180 });
  }
  return out;
}
