/**
 * The float part of a Q/DQ model in float16, for TensorRT 11's strongly typed networks (no kFP16 builder flag: a
 * layer runs in the type its tensors have, so every layer without Q/DQ would otherwise run in FP32).
 *
 * What {@link convertToFloat16} does to a model that has its Q/DQ pairs already:
 * - the default opset goes to 19, the first whose QuantizeLinear/DequantizeLinear take float16 scales (Reduce*
 *   ops get their `axes` attribute as an input, Split gets `num_outputs`, RoiAlign keeps its old coordinate mode);
 * - every float32 tensor becomes float16: initializers and Constant values, Cast-to-float, ConstantOfShape and
 *   `dtype` attributes, and the Q/DQ scales (rounded UP to the next float16, and at least the smallest positive
 *   float16, so that no weight is clipped by the rounding and no scale is 0);
 * - a node with a constant input beyond float16's ±65504 (a BatchNormalization variance of 1e7, say) keeps float32
 *   between Casts instead of computing with a clamped constant; only Clip bounds are clamped, which changes nothing
 *   a float16 input can hold;
 * - the graph inputs and outputs stay float32, with a Cast at each boundary, so callers feed and read what the
 *   FP32 model takes and returns;
 * - inputs that ONNX allows only in float32 (Resize's roi and scales) and operators without float16 (Celu,
 *   NonMaxSuppression, DynamicQuantizeLinear) keep float32, with Casts around them.
 * Element types come from ONNX Runtime (every node output probed once), not from guessing per operator. Models
 * with subgraphs (If/Loop/Scan) are refused: their inner tensors cannot be probed.
 */
import { onnx } from 'onnx-proto';
import { TrtCalibratorError } from '../errors';
import { defaultOpsetVersion, floatValues, int64ToNumber, uniqueNamer } from './model';

/** The opset whose Q/DQ accept float16 scales. */
export const FLOAT16_QDQ_OPSET = 19;

/** What {@link convertToFloat16} did. */
export interface Float16Conversion {
  /** Default-domain opset before and after. */
  readonly opset: {
    /** The opset before. */
    readonly from: number;
    /** The opset after (19 at least: float16 Q/DQ scales). */
    readonly to: number;
  };
  /** Initializers and Constant values converted to float16. */
  readonly constants: number;
  /** Values beyond ±65504 clamped to ±65504 while converting constants (Clip bounds). */
  readonly clampedValues: number;
  /** Nodes kept in float32 between Casts (`Op "name"`): no float16 version, or a constant beyond float16's range. */
  readonly float32Nodes: readonly string[];
  /** Cast nodes added at the graph boundaries and around float32-only inputs and operators. */
  readonly castsAdded: number;
  /** One line per node rewritten for the opset upgrade. */
  readonly rewritten: readonly string[];
}

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const FLOAT16 = onnx.TensorProto.DataType.FLOAT16;
const INT64 = onnx.TensorProto.DataType.INT64;
const MAX_HALF = 65504;

/** Operators that have no float16 version: they run in float32 between Casts. */
const FLOAT32_ONLY_OPS = new Set(['Celu', 'NonMaxSuppression', 'DynamicQuantizeLinear']);
/** Inputs that must stay float32 by their operator's definition (Resize: roi and scales). */
const FLOAT32_ONLY_INPUTS: Readonly<Record<string, readonly number[]>> = { Resize: [1, 2] };
/** Reduce operators whose `axes` attribute became an input in opset 18. */
const REDUCE_AXES_18 = new Set([
  'ReduceL1',
  'ReduceL2',
  'ReduceLogSum',
  'ReduceLogSumExp',
  'ReduceMax',
  'ReduceMean',
  'ReduceMin',
  'ReduceProd',
  'ReduceSumSquare',
]);

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

/** IEEE binary16 bits of `value` (rounded to nearest, ties to even; overflow gives ±inf). */
export function toFloat16Bits(value: number): number {
  scratch[0] = value;
  const x = scratchBits[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    const shift = 14 - e;
    if (shift > 24) return sign;
    const m = mant | 0x800000;
    let h = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rest > half || (rest === half && (h & 1) === 1)) h++;
    return sign | h;
  }
  let h = sign | (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h++;
  return h;
}

/** The number IEEE binary16 bits `bits` stand for. */
export function fromFloat16Bits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Float16 bits of a positive scale, rounded up and at least the smallest positive float16. */
function scaleBits(value: number): number {
  let bits = toFloat16Bits(value);
  if (fromFloat16Bits(bits) < value) bits++;
  return bits === 0 ? 1 : bits;
}

/** The values of a float16 tensor (raw_data or int32_data), as numbers. */
export function float16Values(t: onnx.ITensorProto): Float64Array {
  if (t.rawData && t.rawData.length > 0) {
    const view = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
    return Float64Array.from({ length: t.rawData.byteLength / 2 }, (_, i) =>
      fromFloat16Bits(view.getUint16(2 * i, true)),
    );
  }
  return Float64Array.from(t.int32Data ?? [], (b) => fromFloat16Bits(b));
}

/** A float16 tensor with `values` (clamped to ±65504 unless `scale`; scales round up), and how many were clamped. */
function toFloat16Tensor(
  name: string,
  dims: readonly (number | Long)[],
  values: ArrayLike<number>,
  scale: boolean,
): { tensor: onnx.TensorProto; clamped: number } {
  const raw = new Uint8Array(values.length * 2);
  const view = new DataView(raw.buffer);
  let clamped = 0;
  for (let i = 0; i < values.length; i++) {
    let v = values[i];
    if (scale) {
      view.setUint16(2 * i, scaleBits(v), true);
      continue;
    }
    if (v > MAX_HALF || v < -MAX_HALF) {
      v = v > 0 ? MAX_HALF : -MAX_HALF;
      clamped++;
    }
    view.setUint16(2 * i, toFloat16Bits(v), true);
  }
  return { tensor: onnx.TensorProto.create({ name, dims: [...dims], dataType: FLOAT16, rawData: raw }), clamped };
}

function isDefaultDomain(node: onnx.INodeProto): boolean {
  return !node.domain || node.domain === 'ai.onnx';
}

function label(node: onnx.INodeProto): string {
  return `${node.opType} "${node.name || (node.output ?? [])[0] || '?'}"`;
}

function refuse(message: string, node?: onnx.INodeProto): TrtCalibratorError {
  return new TrtCalibratorError('ERR_MODEL', `Cannot convert the model to float16: ${message}`, {
    details: node ? { nodeName: node.name ?? '', opType: node.opType ?? '' } : {},
  });
}

/** Raises the default opset from 13…18 to 19 in place, rewriting what changed; returns one line per rewrite. */
function upgradeTo19(proto: onnx.ModelProto, newNames: (base: string) => string): string[] {
  const graph = proto.graph as onnx.GraphProto;
  const from = defaultOpsetVersion(proto) ?? 0;
  const rewritten: string[] = [];
  if (from >= FLOAT16_QDQ_OPSET) return rewritten;
  if (from < 13) throw refuse(`the model has opset ${from}; it must be at opset 13 or later first`);
  for (const node of graph.node) {
    if (!isDefaultDomain(node)) continue;
    const op = node.opType ?? '';
    const attrs = node.attribute ?? (node.attribute = []);
    if (REDUCE_AXES_18.has(op) && from < 18) {
      const i = attrs.findIndex((a) => a.name === 'axes');
      if (i >= 0) {
        const axes = (attrs[i].ints ?? []).map((v) => int64ToNumber(v));
        attrs.splice(i, 1);
        const name = newNames(`${(node.output ?? [])[0] ?? op}_axes`);
        graph.initializer.push(
          onnx.TensorProto.create({ name, dataType: INT64, dims: [axes.length], int64Data: axes }),
        );
        node.input = [(node.input ?? [])[0], name];
        rewritten.push(`${label(node)}: axes attribute → input`);
      }
    } else if (op === 'Split' && from < 18) {
      if (!(node.input ?? [])[1] && !attrs.some((a) => a.name === 'num_outputs')) {
        attrs.push({
          name: 'num_outputs',
          type: onnx.AttributeProto.AttributeType.INT,
          i: (node.output ?? []).length,
        });
        rewritten.push(`${label(node)}: equal split → num_outputs ${(node.output ?? []).length}`);
      }
    } else if (op === 'RoiAlign' && from < 16) {
      if (!attrs.some((a) => a.name === 'coordinate_transformation_mode')) {
        attrs.push({
          name: 'coordinate_transformation_mode',
          type: onnx.AttributeProto.AttributeType.STRING,
          s: new TextEncoder().encode('output_half_pixel'),
        });
        rewritten.push(`${label(node)}: coordinate_transformation_mode output_half_pixel kept`);
      }
    } else if (op === 'BatchNormalization' && (node.output ?? []).filter(Boolean).length > 1) {
      throw refuse(`${label(node)} has training outputs`, node);
    }
  }
  for (const entry of proto.opsetImport)
    if (!entry.domain || entry.domain === 'ai.onnx') entry.version = FLOAT16_QDQ_OPSET;
  // Opset 19 needs IR version 9.
  if (int64ToNumber(proto.irVersion) < 9) proto.irVersion = 9;
  return rewritten;
}

/**
 * Converts the float32 part of `proto` (a model with its Q/DQ pairs inserted) to float16 in place: see the module
 * comment. `types` gives the element type ONNX Runtime infers for every node output ('float32', 'int64', …).
 * Throws ERR_MODEL for models with subgraphs or training-mode BatchNormalization.
 */
export function convertToFloat16(proto: onnx.ModelProto, types: ReadonlyMap<string, string>): Float16Conversion {
  const graph = proto.graph as onnx.GraphProto;
  for (const node of graph.node) {
    if ((node.attribute ?? []).some((a) => a.g || (a.graphs ?? []).length > 0))
      throw refuse(`${label(node)} has a subgraph, whose tensors cannot be typed here`, node);
  }
  const unique = uniqueNamer(graph);

  const from = defaultOpsetVersion(proto) ?? 0;
  const rewritten = upgradeTo19(proto, unique);

  const initializers = new Map(graph.initializer.map((t) => [t.name ?? '', t]));
  const graphInputs = new Set(graph.input.map((v) => v.name ?? ''));
  const producers = new Map<string, onnx.INodeProto>();
  for (const node of graph.node) for (const o of node.output ?? []) if (o) producers.set(o, node);
  const constantValue = (name: string): onnx.ITensorProto | undefined => {
    if (initializers.has(name) && !graphInputs.has(name)) return initializers.get(name);
    const p = producers.get(name);
    if (p && p.opType === 'Constant') return (p.attribute ?? []).find((a) => a.name === 'value')?.t ?? undefined;
    return undefined;
  };
  const isFloat32 = (name: string): boolean => {
    if (!name) return false;
    const c = constantValue(name);
    if (c) return c.dataType === FLOAT;
    const p = producers.get(name);
    if (p && p.opType === 'Constant') {
      return (p.attribute ?? []).some((a) => a.name === 'value_float' || a.name === 'value_floats');
    }
    if (graphInputs.has(name)) {
      const v = graph.input.find((i) => i.name === name);
      return v?.type?.tensorType?.elemType === FLOAT;
    }
    return types.get(name) === 'float32';
  };
  // Float32 islands: operators without float16, and nodes whose constants do not fit float16 (Clip's bounds may be
  // clamped: a float16 input cannot exceed them anyway).
  const outOfRange = (name: string): boolean => {
    const c = constantValue(name);
    if (!c || c.dataType !== FLOAT) return false;
    const values = floatValues(c);
    for (let i = 0; i < values.length; i++) if (values[i] > MAX_HALF || values[i] < -MAX_HALF) return true;
    return false;
  };
  const islands = new Set<onnx.INodeProto>();
  for (const node of graph.node) {
    if (!isDefaultDomain(node) || node.opType === 'Constant') continue;
    if (FLOAT32_ONLY_OPS.has(node.opType ?? '')) islands.add(node);
    else if (node.opType !== 'Clip' && (node.input ?? []).some(outOfRange)) islands.add(node);
  }
  const float32Only = (node: onnx.INodeProto, i: number): boolean =>
    islands.has(node) || (FLOAT32_ONLY_INPUTS[node.opType ?? ''] ?? []).includes(i);
  const scaleInputs = new Set<string>();
  for (const node of graph.node)
    if (node.opType === 'QuantizeLinear' || node.opType === 'DequantizeLinear') scaleInputs.add((node.input ?? [])[1]);

  // Where each float32 tensor is read in float16 and where in float32.
  const uses16 = new Map<string, { node: onnx.INodeProto; index: number }[]>();
  const uses32 = new Map<string, { node: onnx.INodeProto; index: number }[]>();
  for (const node of graph.node) {
    (node.input ?? []).forEach((input, index) => {
      if (!isFloat32(input)) return;
      const map = float32Only(node, index) ? uses32 : uses16;
      const list = map.get(input);
      if (list) list.push({ node, index });
      else map.set(input, [{ node, index }]);
    });
  }

  let constants = 0;
  let clampedValues = 0;
  let castsAdded = 0;
  const before: onnx.INodeProto[] = []; // Casts of graph inputs, first in the graph
  const after = new Map<onnx.INodeProto, onnx.INodeProto[]>(); // nodes to emit right after a node
  const emitAfter = (node: onnx.INodeProto, added: onnx.INodeProto): void => {
    after.set(node, [...(after.get(node) ?? []), added]);
  };
  const cast = (input: string, output: string, to: number): onnx.INodeProto => {
    castsAdded++;
    return onnx.NodeProto.create({
      opType: 'Cast',
      name: unique(`${output}_Cast`),
      input: [input],
      output: [output],
      attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: to }],
    });
  };
  const redirect = (uses: { node: onnx.INodeProto; index: number }[] | undefined, name: string): void => {
    for (const u of uses ?? []) (u.node.input as string[])[u.index] = name;
  };
  const convertTensor = (t: onnx.ITensorProto, name: string): onnx.TensorProto => {
    const converted = toFloat16Tensor(name, t.dims ?? [], floatValues(t), scaleInputs.has(t.name ?? name));
    clampedValues += converted.clamped;
    constants++;
    return converted.tensor;
  };

  // Initializers.
  const newInitializers: onnx.ITensorProto[] = [];
  for (const t of graph.initializer) {
    const name = t.name ?? '';
    if (t.dataType !== FLOAT || graphInputs.has(name)) {
      newInitializers.push(t);
      continue;
    }
    const u16 = uses16.get(name);
    const u32 = uses32.get(name);
    if (!u16) newInitializers.push(t);
    else if (!u32) newInitializers.push(convertTensor(t, name));
    else {
      const name16 = unique(`${name}_fp16`);
      newInitializers.push(t, convertTensor(t, name16));
      redirect(u16, name16);
    }
  }
  graph.initializer = newInitializers as onnx.TensorProto[];

  const graphOutputs = new Set(graph.output.map((v) => v.name ?? ''));
  for (const node of [...graph.node]) {
    if (!isDefaultDomain(node)) continue;
    const op = node.opType ?? '';
    const attrs = node.attribute ?? (node.attribute = []);
    if (op === 'Constant') {
      const out = (node.output ?? [])[0] ?? '';
      if (!isFloat32(out) || !uses16.has(out)) continue;
      if (uses32.has(out)) {
        const name16 = unique(`${out}_fp16`);
        emitAfter(node, cast(out, name16, FLOAT16));
        redirect(uses16.get(out), name16);
        continue;
      }
      const valueAttr = attrs.find((a) => a.name === 'value');
      if (valueAttr?.t) valueAttr.t = convertTensor(valueAttr.t, valueAttr.t.name ?? '');
      else {
        const f = attrs.find((a) => a.name === 'value_float' || a.name === 'value_floats');
        const values = f?.name === 'value_float' ? [f.f ?? 0] : (f?.floats ?? []);
        const dims = f?.name === 'value_float' ? [] : [values.length];
        const converted = toFloat16Tensor('', dims, values, false);
        clampedValues += converted.clamped;
        constants++;
        node.attribute = [{ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: converted.tensor }];
      }
      continue;
    }
    if (islands.has(node)) {
      // Float32 island: float16 inputs cast up, float32 outputs cast down.
      (node.input ?? []).forEach((input, index) => {
        if (!isFloat32(input) || constantValue(input) || graphInputs.has(input)) return;
        const name32 = unique(`${input}_fp32`);
        const producer = producers.get(input);
        const c = cast(input, name32, FLOAT);
        if (producer) emitAfter(producer, c);
        else before.push(c);
        (node.input as string[])[index] = name32;
      });
      (node.output ?? []).forEach((out, index) => {
        if (!isFloat32(out) || graphOutputs.has(out)) return;
        const name32 = unique(`${out}_fp32`);
        (node.output as string[])[index] = name32;
        emitAfter(node, cast(name32, out, FLOAT16));
      });
      continue;
    }
    // Float32-only inputs fed by a computed (now float16) tensor get a Cast up.
    (node.input ?? []).forEach((input, index) => {
      if (!float32Only(node, index) || !isFloat32(input) || constantValue(input) || graphInputs.has(input)) return;
      const name32 = unique(`${input}_fp32`);
      const producer = producers.get(input);
      const c = cast(input, name32, FLOAT);
      if (producer) emitAfter(producer, c);
      else before.push(c);
      (node.input as string[])[index] = name32;
    });
    if (op === 'Cast') {
      const to = attrs.find((a) => a.name === 'to');
      if (to && int64ToNumber(to.i) === FLOAT) to.i = FLOAT16;
    } else if (op === 'ConstantOfShape') {
      const value = attrs.find((a) => a.name === 'value');
      if (!value) {
        attrs.push({
          name: 'value',
          type: onnx.AttributeProto.AttributeType.TENSOR,
          t: toFloat16Tensor('', [1], [0], false).tensor,
        });
      } else if (value.t && value.t.dataType === FLOAT) value.t = convertTensor(value.t, value.t.name ?? '');
    }
    const dtype = attrs.find((a) => a.name === 'dtype');
    if (dtype && int64ToNumber(dtype.i) === FLOAT) dtype.i = FLOAT16;
  }

  // Graph inputs: cast down once at the start.
  for (const input of graph.input) {
    const name = input.name ?? '';
    if (input.type?.tensorType?.elemType !== FLOAT || !uses16.has(name)) continue;
    const name16 = unique(`${name}_fp16`);
    before.push(cast(name, name16, FLOAT16));
    redirect(uses16.get(name), name16);
  }

  // Graph outputs: the producer writes float16 under a new name, a Cast gives the float32 output its old name.
  const tail: onnx.INodeProto[] = [];
  for (const output of graph.output) {
    const name = output.name ?? '';
    if (output.type?.tensorType?.elemType !== FLOAT && !isFloat32(name)) continue;
    const producer = producers.get(name);
    if (!producer || graphInputs.has(name)) continue;
    if (islands.has(producer)) continue;
    const name16 = unique(`${name}_fp16`);
    (producer.output as string[])[(producer.output ?? []).indexOf(name)] = name16;
    for (const node of graph.node)
      (node.input ?? []).forEach((input, i) => {
        if (input === name) (node.input as string[])[i] = name16;
      });
    tail.push(cast(name16, name, FLOAT));
  }

  const ordered: onnx.INodeProto[] = [...before];
  for (const node of graph.node) ordered.push(node, ...(after.get(node) ?? []));
  graph.node = [...ordered, ...tail] as onnx.NodeProto[];
  // Declared types of inner tensors are stale now: ONNX Runtime and TensorRT infer them again.
  graph.valueInfo = graph.valueInfo.filter((v) => v.type?.tensorType?.elemType !== FLOAT);
  return {
    opset: { from, to: Math.max(from, FLOAT16_QDQ_OPSET) },
    constants,
    clampedValues,
    castsAdded,
    float32Nodes: [...islands].map(label),
    rewritten,
  };
}
