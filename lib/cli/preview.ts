/**
 * `trt-calibrator preview <imageDir> --out <dir>`: writes the first batches exactly as the calibrator would
 * receive them (.npy per input and batch) and a PNG contact sheet of the de-normalized images.
 */
import * as path from 'node:path';
import { promises as fsp } from 'node:fs';
import type { Command } from 'commander';
import sharp from 'sharp';
import { combineFactories } from '../batch/combine';
import { elementCount } from '../batch/factory';
import { ImageBatchFactory } from '../batch/image-factory';
import { writeNpy } from '../util/npy';
import { PREVIEW_CLI_OPTIONS, resolveOptions } from '../options';
import { addFlags, commanderOption, readFlags } from '../options/cli';
import { runCommand } from './common';
import { addImageFlags, imageFactoryOptions, readImageFlags, type ImageFlags } from './images';

/** Options of the preview command: its own, and the image flags. */
export interface PreviewOptions {
  /** Output directory. */
  out: string;
  /** Batches to write. */
  batches: number;
  /** The image flags (lib/cli/images.ts). */
  images: ImageFlags;
}

/** Undoes `y = (x*scale - mean)/std` into an RGB(or gray) uint8 image, for the contact sheet. */
function denormalize(f: ImageBatchFactory, tensor: Float32Array, index: number): { data: Buffer; channels: 1 | 3 } {
  const { channels: C, height: H, width: W, scale, mean, std, layout, color } = f.config;
  const out = Buffer.alloc(H * W * C);
  const per = C * H * W;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      for (let c = 0; c < C; c++) {
        const v = tensor[index * per + (layout === 'nchw' ? c * H * W + y * W + x : (y * W + x) * C + c)];
        const px = (v * std[c] + mean[c]) / (scale || 1);
        const dc = color === 'bgr' ? 2 - c : c; // sheet is RGB
        out[(y * W + x) * C + dc] = Math.max(0, Math.min(255, Math.round(px)));
      }
    }
  }
  return { data: out, channels: C };
}

/** Runs the preview; returns the files written. */
export async function preview(imageDir: string, options: PreviewOptions): Promise<string[]> {
  const { batches } = options;
  const factories = imageFactoryOptions(options.images, imageDir).map((o) => new ImageBatchFactory(o));
  const combined = combineFactories(factories);
  const written: string[] = [];
  await fsp.mkdir(options.out, { recursive: true });
  try {
    for (let b = 0; b < batches; b++) {
      const buffers: Record<string, Float32Array | Uint16Array> = {};
      for (const spec of combined.inputs) buffers[spec.name] = new Float32Array(elementCount(spec.shape));
      if (!(await combined.fill(buffers, b))) break;
      for (const f of factories) {
        const spec = f.inputs[0];
        const file = path.join(options.out, `${spec.name}-batch${b}.npy`);
        await writeNpy(file, buffers[spec.name], spec.shape);
        written.push(file);
        const { height: H, width: W } = f.config;
        const n = f.batchSize;
        const cols = Math.ceil(Math.sqrt(n));
        const tiles = [];
        for (let i = 0; i < n; i++) {
          const { data, channels } = denormalize(f, buffers[spec.name] as Float32Array, i);
          tiles.push({
            input: await sharp(data, { raw: { width: W, height: H, channels } })
              .png()
              .toBuffer(),
            left: (i % cols) * (W + 2),
            top: Math.floor(i / cols) * (H + 2),
          });
        }
        const sheet = path.join(options.out, `${spec.name}-batch${b}.png`);
        const rows = Math.ceil(n / cols);
        await sharp({
          create: {
            width: cols * (W + 2) - 2,
            height: rows * (H + 2) - 2,
            channels: 3,
            background: { r: 40, g: 40, b: 40 },
          },
        })
          .composite(tiles)
          .png()
          .toFile(sheet);
        written.push(sheet);
      }
    }
    for (const f of factories) {
      const s = f.stats;
      process.stdout.write(
        `${f.inputs[0].name} [${f.inputs[0].shape.join(', ')}] ${f.inputs[0].dtype}: ${s.used} images in ${s.batches} batch(es), ${s.skipped.length} skipped\n`,
      );
      for (const k of s.skipped) process.stdout.write(`  skipped ${k.file}: ${k.reason}\n`);
    }
  } finally {
    await combined.close();
  }
  for (const w of written) process.stdout.write(`wrote ${w}\n`);
  return written;
}

/** Registers `preview` on the program. */
export function registerPreview(program: Command): void {
  const cmd = program
    .command('preview')
    .description('write the first batches as .npy files and a PNG contact sheet of what the calibrator will see')
    .argument('<imageDir>', 'directory of calibration images');
  cmd.addOption(commanderOption(PREVIEW_CLI_OPTIONS.out).makeOptionMandatory());
  addFlags(cmd, PREVIEW_CLI_OPTIONS, ['batches']);
  addImageFlags(cmd).action((imageDir: string, parsed: Record<string, unknown>) =>
    runCommand(async () => {
      const own = resolveOptions(PREVIEW_CLI_OPTIONS, readFlags(PREVIEW_CLI_OPTIONS, parsed), 'preview');
      await preview(imageDir, { out: own.out as string, batches: own.batches, images: readImageFlags(parsed) });
    }),
  );
}
