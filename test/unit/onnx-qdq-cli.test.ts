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
    expect(r.stdout).toMatch(/weights quantized \(per channel\): +2/);
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

  it('exits 6 when the cache has none of the model tensors, 4 for a malformed cache, 3 for a missing model', () => {
    const other = path.join(dir, 'other.cache');
    fs.writeFileSync(other, `TRT-8601-EntropyCalibration2\nsomething/else: 3c010a14\n`);
    let r = cli(['qdq', model, '--cache', other, '--out', path.join(dir, 'x.onnx')]);
    expect(r.status).toBe(6);
    expect(r.stderr).toContain('ERR_NO_DATA');
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
});
