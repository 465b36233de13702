/**
 * @jest-environment ./test/helpers/ort-environment.js
 *
 * The addon's C++ ONNX Runtime sessions (native/builtin/ort_session.cc through lib/backends/builtin/native-ort.ts): loading the
 * library onnxruntime-node ships, session outputs and fetch lists, and a calibration whose every activation
 * is known, run on the builder thread with the pipelined histograms. `npm test` also runs this suite against
 * the node-gyp and AddressSanitizer builds of the addon.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BatchFactory, type BatchBuffers, type InputSpec } from '../../lib/batch/factory';
import { nativeOnnxRuntime, openOrtSession } from '../../lib/backends/builtin/native-ort';
import { calibrate } from '../../lib/calibrate';
import { liveNativeAllocations } from '../../lib/calibrator/run';
import { FixedBatchFactory } from '../helpers/calibrator';
import { buildModel, encodeModel, floatTensor, int64Tensor, node, saveModel, valueInfo } from '../helpers/onnx-builder';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-ort-session-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** x [N, 4] -> relu -> *2 -> y; plus an int64 Shape output that is never fetched. */
function model() {
  return buildModel({
    inputs: [valueInfo('x', ['N', 4])],
    outputs: [valueInfo('y', ['N', 4]), valueInfo('shape', [2], 7)],
    initializers: [floatTensor('two', [], [2]), int64Tensor('unused', [1], [0])],
    nodes: [node('Relu', ['x'], ['r']), node('Mul', ['r', 'two'], ['y']), node('Shape', ['x'], ['shape'])],
  });
}

describe('C++ ONNX Runtime sessions', () => {
  it('load the library, list inputs and typed outputs, fetch float outputs only', async () => {
    expect(nativeOnnxRuntime().available).toBe(true);
    const m = model();
    const session = await openOrtSession(encodeModel(m), { fetch: [], source: 'relu.onnx', proto: m });
    expect(session.inputs).toEqual(['x']);
    expect(session.outputs).toEqual([
      { name: 'y', type: 'float32' },
      { name: 'shape', type: 'int64' },
    ]);
    expect(session.fetched).toEqual(['y']);
    expect(session.setFetch(['shape', 'y'])).toEqual(['y']);
    expect(session.setFetch([])).toEqual([]);
    expect(() => session.setFetch(['r'])).toThrow('the model has no output named "r"');
    session.close();
    expect(() => session.setFetch(['y'])).toThrow('the session is closed');
  });

  it('calibrates on the builder thread: every amax is the true max|x| (minmax), whole batches and sub-batches', async () => {
    const file = saveModel(model(), path.join(dir, 'relu.onnx'));
    class Ramp extends BatchFactory {
      readonly inputs: InputSpec[] = [{ name: 'x', shape: [4, 4], dtype: 'float32' }];
      n = 0;
      fill(buffers: BatchBuffers): boolean {
        const x = buffers.x as Float32Array;
        for (let i = 0; i < x.length; i++) x[i] = (i - 6) * (this.n + 1); // batch k: (i - 6)(k + 1)
        return this.n++ < 3;
      }
    }
    // max|x| = 9 * 3 = 27 (i = 15, batch 2); relu max = 27; y = 54.
    for (const maxActivationBytes of [0, 1]) {
      const result = await calibrate(file, new Ramp(), {
        cache: path.join(dir, `relu-${maxActivationBytes}.cache`),
        algorithm: 'minmax',
        tensorrt: '10.3',
        inference: 'native',
        maxActivationBytes,
      });
      expect(result.inference).toBe('native');
      expect(result.images.used).toBe(12);
      // The cache holds float32 scales: amax / 127 rounded to float32.
      const scales = Object.fromEntries(Object.entries(result.tensors).map(([k, v]) => [k, v.scale]));
      expect(scales).toEqual({ x: Math.fround(27 / 127), r: Math.fround(27 / 127), y: Math.fround(54 / 127) });
    }
    expect(liveNativeAllocations().runs).toBe(0);
  }, 60000);

  it('a model without float activations calibrates its float input only, native and worker (no ONNX Runtime run is needed)', async () => {
    const file = saveModel(
      buildModel({
        inputs: [valueInfo('x', ['N', 4])],
        outputs: [valueInfo('shape', [2], 7)],
        nodes: [node('Shape', ['x'], ['shape'])],
      }),
      path.join(dir, 'shape.onnx'),
    );
    for (const inference of ['native', 'worker'] as const) {
      const result = await calibrate(file, new FixedBatchFactory('x', [2, 4], [1, -2, 3, -4, 5, -6, 7, -8], 2), {
        cache: path.join(dir, `shape-${inference}.cache`),
        algorithm: 'minmax',
        tensorrt: '10.3',
        inference,
      });
      expect(Object.keys(result.tensors)).toEqual(['x']);
      expect(result.tensors.x.scale).toBe(Math.fround(8 / 127));
    }
  }, 60000);
});
