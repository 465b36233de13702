/** Small builder for ONNX models made in tests (onnx-proto), so fixtures come from code, not downloads. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';

/** A dim for {@link valueInfo}: number = fixed, string = symbolic, null = unknown. */
export type Dim = number | string | null;

/** A typed value_info (elemType 1 = float, 7 = int64…). */
export function valueInfo(name: string, dims: readonly Dim[] | undefined, elemType = 1): onnx.ValueInfoProto {
  const tensorType: onnx.TypeProto.ITensor = { elemType };
  if (dims)
    tensorType.shape = {
      dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : typeof d === 'string' ? { dimParam: d } : {})),
    };
  return onnx.ValueInfoProto.create({ name, type: { tensorType } });
}

/** A float32 tensor (initializer or Constant value). */
export function floatTensor(name: string, dims: readonly number[], values: ArrayLike<number>): onnx.TensorProto {
  const data = Float32Array.from(values as ArrayLike<number>);
  return onnx.TensorProto.create({ name, dims: [...dims], dataType: 1, rawData: new Uint8Array(data.buffer) });
}

/** An int64 tensor. */
export function int64Tensor(name: string, dims: readonly number[], values: readonly number[]): onnx.TensorProto {
  return onnx.TensorProto.create({ name, dims: [...dims], dataType: 7, int64Data: [...values] });
}

/** Attribute helpers. */
export const attr = {
  int: (name: string, i: number): onnx.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INT, i }),
  float: (name: string, f: number): onnx.IAttributeProto => ({
    name,
    type: onnx.AttributeProto.AttributeType.FLOAT,
    f,
  }),
  ints: (name: string, ints: number[]): onnx.IAttributeProto => ({
    name,
    type: onnx.AttributeProto.AttributeType.INTS,
    ints,
  }),
  tensor: (name: string, t: onnx.ITensorProto): onnx.IAttributeProto => ({
    name,
    type: onnx.AttributeProto.AttributeType.TENSOR,
    t,
  }),
};

/** A node. */
export function node(
  opType: string,
  inputs: string[],
  outputs: string[],
  attributes: onnx.IAttributeProto[] = [],
  name?: string,
  domain?: string,
): onnx.NodeProto {
  return onnx.NodeProto.create({
    opType,
    input: inputs,
    output: outputs,
    attribute: attributes,
    name: name ?? outputs[0],
    domain: domain ?? '',
  });
}

/** A Constant node holding `t`. */
export function constantNode(output: string, t: onnx.TensorProto): onnx.NodeProto {
  return node('Constant', [], [output], [attr.tensor('value', t)]);
}

/** Everything a test model needs. */
export interface ModelSpec {
  nodes: onnx.NodeProto[];
  inputs: onnx.ValueInfoProto[];
  outputs: onnx.ValueInfoProto[];
  initializers?: onnx.TensorProto[];
  valueInfo?: onnx.ValueInfoProto[];
  opset?: number;
  extraOpsets?: { domain: string; version: number }[];
}

/** Builds a ModelProto (IR 8, default opset 13). */
export function buildModel(spec: ModelSpec): onnx.ModelProto {
  return onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'trt-calibrator-tests',
    opsetImport: [{ domain: '', version: spec.opset ?? 13 }, ...(spec.extraOpsets ?? [])],
    graph: {
      name: 'test',
      node: spec.nodes,
      input: spec.inputs,
      output: spec.outputs,
      initializer: spec.initializers ?? [],
      valueInfo: spec.valueInfo ?? [],
    },
  });
}

/** Encodes a model. */
export function encodeModel(model: onnx.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

/** Writes a model to `file`. */
export function saveModel(model: onnx.IModelProto, file: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, encodeModel(model));
  return file;
}

/**
 * Saves `model` with every initializer moved to the external file `dataFile` (relative to the model's
 * directory), the way onnx.save_model(..., save_as_external_data=True) does: each tensor's bytes at an
 * offset, `location`/`offset`/`length` in external_data, data_location EXTERNAL.
 */
export function saveModelWithExternalData(model: onnx.ModelProto, file: string, dataFile: string): string {
  const copy = onnx.ModelProto.decode(encodeModel(model));
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const t of copy.graph?.initializer ?? []) {
    const raw = Buffer.from(t.rawData ?? new Uint8Array(0));
    // Keep offsets 64-byte aligned like onnx does, to exercise non-zero offsets with padding.
    const pad = (64 - (offset % 64)) % 64;
    if (pad) chunks.push(Buffer.alloc(pad));
    offset += pad;
    chunks.push(raw);
    t.externalData = [
      { key: 'location', value: dataFile },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(raw.length) },
    ];
    t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    t.rawData = new Uint8Array(0);
    offset += raw.length;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(path.join(path.dirname(file), dataFile), Buffer.concat(chunks));
  fs.writeFileSync(file, encodeModel(copy));
  return file;
}

/**
 * A small deterministic pseudo-random generator (32-bit LCG, Numerical Recipes constants) for weights and noise.
 * No Math.* calls: those are slow inside jest's vm context.
 */
export function rng(seed: number): () => number {
  let a = (seed * 2654435761) >>> 0;
  return () => {
    a = (a * 1664525 + 1013904223) >>> 0;
    return a / 4294967296;
  };
}

/** `n` values uniform in [-scale, scale). */
export function randomValues(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
}

/**
 * A two-input detector-like model: image [N,3,H,W] (symbolic) and im_info [N,3] (fixed 3).
 * image → Conv(3→4, 3×3, pad 1; weight initializer) → Relu → GlobalAveragePool → Flatten → MatMul(w [4,2]) → Add(im_info slice)…
 * kept simple: out = Flatten(GAP(Relu(Conv(image)))) [N,4]; info_out = Mul(im_info, 2) [N,3]; a Shape node gives an int64 tensor.
 */
export function twoInputModel(): onnx.ModelProto {
  return buildModel({
    inputs: [valueInfo('image', ['N', 3, 'H', 'W']), valueInfo('im_info', ['N', 3])],
    outputs: [valueInfo('features', ['N', 4]), valueInfo('info_scaled', ['N', 3])],
    initializers: [
      floatTensor('conv.w', [4, 3, 3, 3], randomValues(108, 1, 0.5)),
      floatTensor('conv.b', [4], [0.1, -0.1, 0.2, 0]),
    ],
    nodes: [
      node('Conv', ['image', 'conv.w', 'conv.b'], ['conv_out'], [attr.ints('pads', [1, 1, 1, 1])]),
      node('Relu', ['conv_out'], ['relu_out']),
      node('GlobalAveragePool', ['relu_out'], ['gap_out']),
      node('Flatten', ['gap_out'], ['features']),
      constantNode('two', floatTensor('two', [], [2])),
      node('Mul', ['im_info', 'two'], ['info_scaled']),
      node('Shape', ['image'], ['image_shape']),
    ],
  });
}
