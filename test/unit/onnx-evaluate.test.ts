/**
 * @jest-environment ./test/helpers/ort-environment.js
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BatchFactory, type BatchBuffers, type InputSpec } from '../../lib/batch/factory';
import {
  evaluateQdq,
  evaluateQdqModels,
  evaluationGuide,
  formatColumns,
  formatEvaluation,
  type Evaluation,
} from '../../lib/onnx/evaluate';
import { makeSyntheticImages } from '../../lib/synthetic/images';
import { attr, buildModel, floatTensor, node, randomValues, saveModel, valueInfo } from '../helpers/onnx-builder';

/** Random batches of x [4,3,8,8]. */
class RandomBatches extends BatchFactory {
  readonly inputs: InputSpec[];
  constructor(
    private readonly count: number,
    name = 'x',
  ) {
    super();
    this.inputs = [{ name, shape: [4, 3, 8, 8], dtype: 'float32' }];
  }
  fill(buffers: BatchBuffers, index: number): boolean {
    if (index >= this.count) return false;
    (buffers[this.inputs[0].name] as Float32Array).set(randomValues(4 * 3 * 64, 100 + index));
    return true;
  }
}

let dir: string;
let model: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-eval-'));
  // x → Conv → Relu → GlobalAveragePool → Flatten → Gemm → Softmax: a tiny 5-class classifier.
  model = saveModel(
    buildModel({
      inputs: [valueInfo('x', ['N', 3, 8, 8])],
      outputs: [valueInfo('probs', ['N', 5])],
      initializers: [
        floatTensor('w', [8, 3, 3, 3], randomValues(216, 1)),
        floatTensor('fc.w', [5, 8], randomValues(40, 2, 2)),
        floatTensor('fc.b', [5], [0, 0.1, 0.2, 0.3, 0.4]),
      ],
      nodes: [
        node('Conv', ['x', 'w'], ['conv'], [attr.ints('pads', [1, 1, 1, 1])]),
        node('Relu', ['conv'], ['relu']),
        node('GlobalAveragePool', ['relu'], ['gap']),
        node('Flatten', ['gap'], ['flat']),
        node('Gemm', ['flat', 'fc.w', 'fc.b'], ['logits'], [attr.int('transB', 1)]),
        node('Softmax', ['logits'], ['probs'], [attr.int('axis', -1)]),
      ],
    }),
    path.join(dir, 'tiny.onnx'),
  );
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const scales = { x: 1 / 127, relu: 3 / 127, flat: 1.5 / 127 };

/**
 * Cells of a table line: runs of text separated by two or more spaces (cells such as "97.50 % (195/200)" hold
 * single spaces), with the column where each starts and ends.
 */
function cells(line: string): Array<{ text: string; start: number; end: number }> {
  const out: Array<{ text: string; start: number; end: number }> = [];
  for (const m of line.matchAll(/\S+(?: \S+)*/g)) out.push({ text: m[0], start: m.index, end: m.index + m[0].length });
  return out;
}

/**
 * Checks every table of a printed evaluation: the line after each header ("output …", "tensor …") and those after it
 * up to the next line that is not a row have their first column starting where the header's does and every other
 * column ending where the header's does (numbers right-aligned under their heading).
 */
function expectAlignedTables(text: string): void {
  const lines = text.split('\n');
  let tables = 0;
  for (let i = 0; i < lines.length; i++) {
    if (!/^ +(output|tensor) {2}/.test(lines[i])) continue;
    tables++;
    const head = cells(lines[i]);
    let rows = 0;
    for (
      let j = i + 1;
      j < lines.length &&
      cells(lines[j]).length === head.length &&
      lines[j].startsWith(' '.repeat(head[0].start)) &&
      lines[j][head[0].start] !== ' ';
      j++
    ) {
      const row = cells(lines[j]);
      expect(row[0].start).toBe(head[0].start);
      for (let c = 1; c < head.length; c++)
        expect({ line: lines[j], end: row[c].end }).toEqual({ line: lines[j], end: head[c].end });
      rows++;
    }
    expect(rows).toBeGreaterThan(0);
  }
  expect(tables).toBeGreaterThan(0);
}

describe('evaluateQdq', () => {
  it('reports perfect agreement when the "Q/DQ" model is the FP32 model itself', async () => {
    const e = await evaluateQdq(model, new RandomBatches(3), { qdqModel: model });
    expect(e.batches).toBe(3);
    expect(e.outputs).toEqual([
      {
        name: 'probs',
        elements: 60,
        cosine: expect.closeTo(1, 6),
        maxAbsError: 0,
        meanAbsError: 0,
        maxAbsReference: expect.any(Number),
        top1Agreement: 1,
        samples: 12,
      },
    ]);
    expect(e.samples).toBe(12);
    expect(e.worstTensors).toEqual([]); // the FP32 model has no Q/DQ pairs
  });

  it('measures the INT8 error of a Q/DQ model built from scales', async () => {
    const progress: number[] = [];
    // Pooling left out (placement is tested in onnx-qdq-placement.test.ts): two quantized tensors, x and flat.
    const e = await evaluateQdq(model, new RandomBatches(4), {
      scales,
      qdqOptions: { quantizePooling: 'none' },
      onProgress: (n) => progress.push(n),
    });
    expect(progress).toEqual([1, 2, 3, 4]);
    expect(e.qdq?.activations.map((a) => a.name)).toEqual(['x', 'flat']);
    const probs = e.outputs[0];
    expect(probs.samples).toBe(16);
    expect(probs.cosine).toBeGreaterThan(0.99);
    expect(probs.cosine).toBeLessThan(1);
    expect(probs.maxAbsError).toBeGreaterThan(0);
    expect(probs.meanAbsError).toBeLessThan(0.05);
    // Both quantized tensors are measured; x is a graph input, so its error is only its own Q/DQ round trip, and
    // x (random values in ±1 at amax 1) is clipped nowhere while flat carries the error of the layers before it.
    const worst = new Map((e.worstTensors ?? []).map((t) => [t.name, t]));
    expect([...worst.keys()].sort()).toEqual(['flat', 'x']);
    expect(worst.get('x')?.error).toBeCloseTo(worst.get('x')?.ownError ?? -1, 12);
    expect(worst.get('x')?.error).toBeGreaterThan(0);
    expect(worst.get('x')?.error).toBeLessThan(0.01);
    expect(worst.get('flat')?.error).toBeGreaterThan(0);
  });

  it('evaluates several Q/DQ models in one pass and counts label accuracy only with an image factory', async () => {
    const coarse = { x: 4 / 127, relu: 3 / 127, flat: 8 / 127 };
    const [fine, rough] = await evaluateQdqModels(
      model,
      new RandomBatches(3),
      [
        { label: 'fine', scales },
        { label: 'rough', scales: coarse },
      ],
      { worstTensors: 1 },
    );
    expect(fine.batches).toBe(3);
    expect(rough.outputs[0].meanAbsError).toBeGreaterThan(fine.outputs[0].meanAbsError);
    expect(fine.worstTensors).toHaveLength(1);
    await expect(
      evaluateQdqModels(model, new RandomBatches(1), [{ label: 'a', scales }], { labels: new Map([['f', 0]]) }),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    await expect(evaluateQdqModels(model, new RandomBatches(1), [], {})).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTION',
    });
  });

  it('names a data input the model does not have, and refuses ambiguous options', async () => {
    await expect(evaluateQdq(model, new RandomBatches(1, 'image'), { scales })).rejects.toMatchObject({
      code: 'ERR_INPUT_NAME',
      message: expect.stringContaining('no input "x"'),
    });
    await expect(evaluateQdq(model, new RandomBatches(1), { scales, qdqModel: model })).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTION',
    });
    await expect(evaluateQdq(model, new RandomBatches(0), { qdqModel: model })).rejects.toMatchObject({
      code: 'ERR_NO_DATA',
    });
    const controller = new AbortController();
    controller.abort();
    await expect(
      evaluateQdq(model, new RandomBatches(2), { qdqModel: model, signal: controller.signal }),
    ).rejects.toMatchObject({ code: 'ERR_ABORTED' });
  });

  it('trt-calibrator evaluate --cache prints the table for an image folder', async () => {
    const images = path.join(dir, 'images');
    await makeSyntheticImages(images, { count: 6, seed: 3, format: 'png', size: [32, 32] });
    const cache = path.join(dir, 'tiny.json');
    fs.writeFileSync(
      cache,
      JSON.stringify({ tensors: Object.fromEntries(Object.entries(scales).map(([k, v]) => [k, { scale: v }])) }),
    );
    const r = spawnSync(
      process.execPath,
      [
        path.join(__dirname, '../../dist/cli.js'),
        'evaluate',
        model,
        images,
        '--cache',
        cache,
        '--shape',
        '3x8x8',
        '--scale',
        String(1 / 255),
        '--batch',
        '4',
      ],
      { encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/FP32 vs INT8 \(Q\/DQ\) on 6 samples in 2 batches/);
    expect(r.stdout).toMatch(/\n +output +top-1 agreement +cosine +max abs err +max \|FP32\| +mean abs err\n/);
    expect(r.stdout).toMatch(/\n +probs +\d+\.\d\d % \(\d+\/6\) +\d\.\d{6} /);
    expect(r.stdout).toMatch(
      /quantized tensors furthest from FP32 on the first 6 samples[^\n]*\n +tensor +error +own +clipped\n +(x|flat|relu|gap) +\d+\.\d{4} +\d+\.\d{4} +\d+\.\d\d %/,
    );
    expect(r.stdout).toContain('images: 6 (skipped 0)');
    // The guide follows the table, every line of it.
    const printed = r.stdout.slice(r.stdout.indexOf('images: 6'));
    for (const line of evaluationGuide()) expect(printed).toContain(line);
    expectAlignedTables(r.stdout);
    // Without --shape the model's fixed C,H,W are used; --cache and --qdq together are a usage error.
    const fromModel = spawnSync(
      process.execPath,
      [path.join(__dirname, '../../dist/cli.js'), 'evaluate', model, images, '--cache', cache, '--json'],
      { encoding: 'utf8' },
    );
    expect(fromModel.status).toBe(0);
    expect(JSON.parse(fromModel.stdout)).toMatchObject({
      batches: 1,
      samples: 6,
      images: 6,
      outputs: [{ name: 'probs', samples: 6 }],
    });
    const both = spawnSync(
      process.execPath,
      [path.join(__dirname, '../../dist/cli.js'), 'evaluate', model, images, '--cache', cache, '--qdq', model],
      { encoding: 'utf8' },
    );
    expect(both.status).toBe(2);
    expect(both.stderr).toContain('exactly one of --cache, --qdq and --compare');
  });
});

describe('formatEvaluation', () => {
  const evaluation = (names: string[], errors: number[], clipped: number[]): Evaluation => ({
    outputs: [
      {
        name: 'probs',
        elements: 1000,
        cosine: 0.999912,
        maxAbsError: 0.25,
        meanAbsError: 0.0123,
        maxAbsReference: 1,
        top1Agreement: 195 / 200,
        samples: 200,
      },
      {
        name: 'a_much_longer_output_name_of_a_detection_head',
        elements: 5,
        cosine: -0.5,
        maxAbsError: 12345.678,
        meanAbsError: 1e-9,
        maxAbsReference: 98765.4,
      },
    ],
    batches: 25,
    samples: 200,
    worstTensors: names.map((name, i) => ({ name, error: errors[i], ownError: errors[i] / 3, clipped: clipped[i] })),
    worstTensorSamples: 16,
    ms: 1234,
  });

  it('lines up the columns of both tables whatever the names and values', () => {
    const text = formatEvaluation(
      evaluation(
        ['x', 'a.very.long.tensor.name/with/a/path/that/goes/on/and/on/past/fifty/characters', 'p2o.Add.15'],
        [12.3456, 0.0001, 1],
        [1, 0, 0.0039],
      ),
    );
    expectAlignedTables(text);
    // A name longer than any former cut-off is printed whole, and the columns still line up.
    expect(text).toContain('a.very.long.tensor.name/with/a/path/that/goes/on/and/on/past/fifty/characters  ');
    expect(text).toMatch(/\n +x +12\.3456 +4\.1152 +100\.00 %\n/);
    // An output without top-1 agreement shows "-" in that column.
    expect(text).toMatch(
      /\n +a_much_longer_output_name_of_a_detection_head +- +-0\.500000 +1\.235e\+4 +9\.877e\+4 +1\.000e-9\n/,
    );
    expect(text).toContain('on the first 16 samples');
  });

  it('ends with the guide unless asked not to, and the guide leaves out what the evaluation lacks', () => {
    const text = formatEvaluation(evaluation(['x'], [0.1], [0]));
    for (const line of evaluationGuide()) expect(text).toContain(line);
    expect(formatEvaluation(evaluation(['x'], [0.1], [0]), { guide: false })).not.toContain('rules of thumb');
    const noTop1 = evaluationGuide({ top1: false, tensors: false, compare: false }).join('\n');
    expect(noTop1).toContain('cosine');
    expect(noTop1).not.toMatch(/top-1|--compare|clipped/);
  });

  it('formatColumns pads by code points and leaves no trailing spaces', () => {
    expect(
      formatColumns(
        [
          ['name', 'value'],
          ['±amax', '1'],
          ['x', '100.5'],
        ],
        ['left', 'right'],
        '  ',
      ),
    ).toEqual(['  name   value', '  ±amax      1', '  x      100.5']);
  });

  it('the README says the same guide in its evaluate part', () => {
    const readme = fs.readFileSync(path.join(__dirname, '../../README.md'), 'utf8');
    for (const line of evaluationGuide()) expect(readme).toContain(line);
  });
});
