import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import { scaleToHex } from '../../lib/cache/format';
import { attr, buildModel, floatTensor, node, randomValues, saveModel, valueInfo } from '../helpers/onnx-builder';

const root = path.join(__dirname, '..', '..');
/** Runs the compiled CLI (dist/cli.js; `npm test` builds it first). */
function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(root, 'dist', 'cli.js'), ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

let dir: string;
let model: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-qdq-cli-'));
  model = saveModel(
    buildModel({
      opset: 11,
      inputs: [valueInfo('input', ['N', 3, 8, 8])],
      outputs: [valueInfo('out', ['N', 4, 8, 8])],
      initializers: [
        floatTensor('conv1.w', [4, 3, 3, 3], randomValues(108, 3)),
        floatTensor('conv2.w', [4, 4, 1, 1], randomValues(16, 4)),
      ],
      nodes: [
        node('Conv', ['input', 'conv1.w'], ['/conv1/Conv_output_0'], [attr.ints('pads', [1, 1, 1, 1])]),
        node('Relu', ['/conv1/Conv_output_0'], ['/relu/Relu_output_0']),
        node('Conv', ['/relu/Relu_output_0', 'conv2.w'], ['out']),
      ],
    }),
    path.join(dir, 'net.onnx'),
  );
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const scales = { input: 0.0078759, '/conv1/Conv_output_0': 0.02, '/relu/Relu_output_0': 0.0123, out: 0.03 };

describe('trt-calibrator qdq', () => {
  it('writes a Q/DQ model from a TensorRT cache with the cache scales', () => {
    const cache = path.join(dir, 'net.cache');
    fs.writeFileSync(
      cache,
      `TRT-100300-EntropyCalibration2\n${Object.entries(scales)
        .map(([n, s]) => `${n}: ${scaleToHex(s)}`)
        .join('\n')}\n`,
    );
    const out = path.join(dir, 'net.qdq.onnx');
    const r = cli(['qdq', model, '--cache', cache, '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`Wrote ${out}`);
    expect(r.stdout).toMatch(/activations quantized \(per tensor\): 2 of 4 cache entries/);
    expect(r.stdout).toMatch(/weights quantized: +2 \(2 per channel, 0 per tensor\)/);
    expect(r.stdout).toMatch(/residual Adds quantized: +0 of 0 Adds of two tensors/);
    expect(r.stdout).toMatch(/opset: +11 -> 13/);
    const proto = onnx.ModelProto.decode(fs.readFileSync(out));
    const init = new Map((proto.graph?.initializer ?? []).map((t) => [t.name, t]));
    expect(init.get('/relu/Relu_output_0_scale')?.floatData?.[0]).toBe(Math.fround(0.0123));
    expect(init.get('input_scale')?.floatData?.[0]).toBe(Math.fround(0.0078759));
  });

  it('reads the JSON form and prints a JSON summary', () => {
    const json = path.join(dir, 'net.json');
    fs.writeFileSync(
      json,
      JSON.stringify({ tensors: { input: { scale: 0.01 }, '/relu/Relu_output_0': { amax: 2.54 } } }),
    );
    const out = path.join(dir, 'net-json.qdq.onnx');
    const r = cli(['qdq', model, '--cache', json, '--out', out, '--json']);
    expect(r.status).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.activations).toEqual([
      { name: 'input', scale: Math.fround(0.01) },
      { name: '/relu/Relu_output_0', scale: Math.fround(2.54 / 127) },
    ]);
    expect(summary.weights.map((w: { axis: number }) => w.axis)).toEqual([0, 0]);
  });

  it('exits 4 when the cache belongs to another model or is malformed, 3 for a missing model', () => {
    const other = path.join(dir, 'other.cache');
    fs.writeFileSync(other, `TRT-8601-EntropyCalibration2\nsomething/else: 3c010a14\n`);
    let r = cli(['qdq', model, '--cache', other, '--out', path.join(dir, 'x.onnx')]);
    expect(r.status).toBe(4);
    expect(r.stderr).toContain('ERR_CACHE_MODEL_MISMATCH');
    expect(fs.existsSync(path.join(dir, 'x.onnx'))).toBe(false);

    const bad = path.join(dir, 'bad.cache');
    fs.writeFileSync(bad, 'TRT-8601-EntropyCalibration2\ninput 3c010a14\n');
    r = cli(['qdq', model, '--cache', bad, '--out', path.join(dir, 'x.onnx')]);
    expect(r.status).toBe(4);
    expect(r.stderr).toMatch(/ERR_CACHE_FORMAT.*line 2/);

    r = cli(['qdq', path.join(dir, 'missing.onnx'), '--cache', other, '--out', path.join(dir, 'x.onnx')]);
    expect(r.status).toBe(3);
    expect(r.stderr).toContain('ERR_IO');
  });

  /** x → Conv(w1) → Relu → r; GAP(r) → Conv(w2) → g; y = Add(BN(Conv(w3)(r)), r); MaxPool(r) → m. */
  function placementModel(): string {
    const C = 2;
    return saveModel(
      buildModel({
        inputs: [valueInfo('x', [1, C, 4, 4])],
        outputs: [valueInfo('g', [1, C, 1, 1]), valueInfo('y', [1, C, 4, 4]), valueInfo('m', [1, C, 2, 2])],
        initializers: [
          floatTensor('w1', [C, C, 1, 1], randomValues(4, 1)),
          floatTensor('w2', [C, C, 1, 1], randomValues(4, 2)),
          floatTensor('w3', [C, C, 1, 1], randomValues(4, 3)),
          floatTensor('bn.s', [C], [1, 2]),
          floatTensor('bn.b', [C], [0, 0.1]),
          floatTensor('bn.m', [C], [0, 0]),
          floatTensor('bn.v', [C], [1, 1]),
        ],
        nodes: [
          node('Conv', ['x', 'w1'], ['c'], [], 'conv1'),
          node('Relu', ['c'], ['r']),
          node('GlobalAveragePool', ['r'], ['gap'], [], 'gap'),
          node('Conv', ['gap', 'w2'], ['g'], [], 'conv2'),
          node('Conv', ['r', 'w3'], ['c3'], [], 'conv3'),
          node('BatchNormalization', ['c3', 'bn.s', 'bn.b', 'bn.m', 'bn.v'], ['b3']),
          node('Add', ['b3', 'r'], ['y'], [], 'add'),
          node('MaxPool', ['r'], ['m'], [attr.ints('kernel_shape', [2, 2]), attr.ints('strides', [2, 2])], 'pool'),
        ],
      }),
      path.join(dir, 'placement.onnx'),
    );
  }
  function placementCache(omit: string[] = []): string {
    const file = path.join(dir, `placement-${omit.join('-')}.json`);
    const tensors: Record<string, { scale: number }> = {};
    for (const t of ['x', 'c', 'r', 'gap', 'g', 'c3', 'b3', 'y', 'm'])
      if (!omit.includes(t)) tensors[t] = { scale: 0.01 };
    fs.writeFileSync(file, JSON.stringify({ tensors }));
    return file;
  }
  /** The tensors whose consumer `node` reads them through a DequantizeLinear, by input index. */
  function readsDequantized(file: string, nodeName: string): boolean[] {
    const proto = onnx.ModelProto.decode(fs.readFileSync(file));
    const dq = new Set(
      (proto.graph?.node ?? []).filter((n) => n.opType === 'DequantizeLinear').map((n) => n.output![0]),
    );
    const n = (proto.graph?.node ?? []).find((x) => x.name === nodeName)!;
    return (n.input ?? []).map((i) => dq.has(i));
  }

  it('--pooling picks the pooling rule: neighbors by default, all for the bare flag, none', () => {
    const model = placementModel();
    const cache = placementCache();
    const out = (name: string): string => path.join(dir, `${name}.qdq.onnx`);
    const cases: [string[], boolean, boolean][] = [
      [[], true, false],
      [['--pooling', 'neighbors'], true, false],
      [['--pooling'], true, true],
      [['--pooling', 'all'], true, true],
      [['--pooling', 'none'], false, false],
    ];
    for (const [flags, gap, maxpool] of cases) {
      const file = out(`pool-${flags.join('-') || 'default'}`);
      const r = cli(['qdq', model, '--cache', cache, '--out', file, ...flags]);
      expect({ flags, status: r.status, stderr: r.stderr }).toEqual({ flags, status: 0, stderr: '' });
      expect({ flags, gap: readsDequantized(file, 'gap')[0], maxpool: readsDequantized(file, 'pool')[0] }).toEqual({
        flags,
        gap,
        maxpool,
      });
    }
    const bad = cli(['qdq', model, '--cache', cache, '--out', out('bad'), '--pooling', 'average']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('Expected one of neighbors, all, none for --pooling but received "average"');
  });

  it('--no-residual-add leaves the skip input of a Conv→BatchNormalization→Add plain', () => {
    const model = placementModel();
    const cache = placementCache();
    const on = path.join(dir, 'residual-on.qdq.onnx');
    const off = path.join(dir, 'residual-off.qdq.onnx');
    const r = cli(['qdq', model, '--cache', cache, '--out', on]);
    expect(r.stdout).toMatch(/residual Adds quantized: +1 of 1 Adds of two tensors/);
    expect(readsDequantized(on, 'add')).toEqual([false, true]);
    const s = cli(['qdq', model, '--cache', cache, '--out', off, '--no-residual-add', '--json']);
    expect(s.status).toBe(0);
    expect(JSON.parse(s.stdout).residualAdds).toEqual([
      { node: 'Add "add"', skipped: 'residual Add quantization is off' },
    ]);
    expect(readsDequantized(off, 'add')).toEqual([false, false]);
  });

  it('lists weighted ops left in FP32 and writes a float16 model with --fp16', () => {
    const model = placementModel();
    const file = path.join(dir, 'fp32nodes.qdq.onnx');
    const r = cli(['qdq', model, '--cache', placementCache(['gap']), '--out', file]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('weighted ops left in FP32 (1, no Q/DQ on their inputs or weights):');
    expect(r.stdout).toContain('Conv "conv2": input "gap": no scale in the cache');
    expect(readsDequantized(file, 'conv2')).toEqual([false, false]);

    const f16 = path.join(dir, 'fp16.qdq.onnx');
    const s = cli(['qdq', model, '--cache', placementCache(), '--out', f16, '--fp16']);
    expect(s.stderr).toBe('');
    expect(s.status).toBe(0);
    expect(s.stdout).toMatch(/float16: +\d+ constants, 4 Casts added, opset 13 -> 19/);
    const proto = onnx.ModelProto.decode(fs.readFileSync(f16));
    expect(Number(proto.opsetImport[0].version)).toBe(19);
    expect((proto.graph?.initializer ?? []).find((t) => t.name === 'w1')?.dataType).toBe(10);
  });
});
