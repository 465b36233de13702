/**
 * Sample: a two-input network — an image and `im_info` ([resized height, resized width, scale] of each image,
 * as Faster R-CNN-style detectors take it) — calibrated with factories bound by input name. No BatchFactory code:
 * ImageBatchFactory feeds `image`, and `im_info` is derived from each resized image's metadata.
 *
 * The sample writes its own small two-input ONNX model (a convolution on the image, a scaling of im_info) so it
 * runs anywhere; with your model, only the input names and the shape change.
 *
 * Run: node dist-samples/samples/two-input.js [imageDir]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import {
  calibrate,
  combineFactories,
  imInfo,
  ImageBatchFactory,
  makeSyntheticImages,
  type CalibrationResult,
} from 'trt-calibrator';

/** Writes a model with inputs image [N,3,H,W] and im_info [N,3] (opset 13) and returns its path. */
export function writeTwoInputModel(file: string): string {
  const input = (name: string, dims: Array<number | string>) =>
    onnx.ValueInfoProto.create({
      name,
      type: {
        tensorType: {
          elemType: 1,
          shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
        },
      },
    });
  const weights = Float32Array.from({ length: 8 * 3 * 3 * 3 }, (_, i) => Math.sin(i) * 0.3);
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'two-input-sample',
      input: [input('image', ['N', 3, 'H', 'W']), input('im_info', ['N', 3])],
      output: [input('features', ['N', 8]), input('info_scaled', ['N', 3])],
      initializer: [
        { name: 'w', dims: [8, 3, 3, 3], dataType: 1, rawData: new Uint8Array(weights.buffer) },
        { name: 'half', dims: [], dataType: 1, rawData: new Uint8Array(Float32Array.of(0.5).buffer) },
      ],
      node: [
        {
          opType: 'Conv',
          input: ['image', 'w'],
          output: ['conv'],
          name: 'conv',
          attribute: [{ name: 'pads', type: onnx.AttributeProto.AttributeType.INTS, ints: [1, 1, 1, 1] }],
        },
        { opType: 'Relu', input: ['conv'], output: ['relu'], name: 'relu' },
        { opType: 'GlobalAveragePool', input: ['relu'], output: ['pool'], name: 'pool' },
        { opType: 'Flatten', input: ['pool'], output: ['features'], name: 'flatten' },
        { opType: 'Mul', input: ['im_info', 'half'], output: ['info_scaled'], name: 'scale_info' },
      ],
    },
  });
  fs.writeFileSync(file, onnx.ModelProto.encode(model).finish());
  return file;
}

/** Calibrates the two-input model on synthetic scenes (letterboxed to 3x96x128) and returns the result. */
export async function main(imageDir = path.join(os.tmpdir(), 'trtc-sample-scenes')): Promise<CalibrationResult> {
  await makeSyntheticImages(imageDir, { kind: 'scenes', count: 16, size: [320, 240] });
  const model = writeTwoInputModel(path.join(os.tmpdir(), 'trtc-two-input.onnx'));
  const image = new ImageBatchFactory({
    images: imageDir,
    name: 'image',
    shape: [3, 96, 128],
    resize: 'letterbox',
    batchSize: 4,
    scale: 1 / 255,
  });
  const factory = combineFactories([image], {
    derived: [{ name: 'im_info', shape: [3], from: image, compute: imInfo }],
  });
  try {
    const result = await calibrate(
      model,
      { image: factory, im_info: factory },
      { cache: path.join(os.tmpdir(), 'trtc-two-input.cache'), overwrite: true, tensorrt: '8.6' },
    );
    for (const [name, t] of Object.entries(result.tensors)) console.log(`${name.padEnd(12)} amax ${t.amax.toFixed(4)}`);
    return result;
  } finally {
    await factory.close();
  }
}

if (require.main === module) {
  main(process.argv[2]).catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
