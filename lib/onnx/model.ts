/**
 * Reading ONNX models: decode the protobuf (onnx-proto, protobufjs static code), inline external data, list
 * the graph inputs with their shapes, and encode an edited model back to bytes for ONNX Runtime.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import type { DType } from '../batch/factory';
import { TrtCalibratorError } from '../errors';
import { readFileOrThrow } from '../util/fs';
import { decodeModelProto } from './protobuf';

/** A decoded ONNX model (onnx-proto's generated class). */
export type OnnxModelProto = onnx.ModelProto;

/** A decoded model plus where it came from. */
export interface OnnxModel {
  /** The decoded model; external data is already inlined (no tensor refers to another file). */
  readonly proto: onnx.ModelProto;
  /** Absolute path of the .onnx file, or undefined for a model decoded from bytes. */
  readonly path?: string;
  /** Files of external data that were inlined, absolute paths. Empty for self-contained models. */
  readonly externalDataFiles: readonly string[];
  /**
   * The bytes `proto` was decoded from, when they encode it exactly (no external data was inlined); undefined
   * otherwise. Keeping them costs no memory: the decoded tensors' raw data are views into them. They let an edited
   * copy of the model be spliced together without encoding it again (calibration-model.ts); nothing may modify
   * them or `proto`.
   */
  readonly bytes?: Uint8Array;
}

/** One dimension of an ONNX shape: a number (fixed), a string (symbolic `dim_param`) or null (unknown). */
export type OnnxDim = number | string | null;

/** A graph input that is fed at run time (initializers listed in `graph.input` are excluded). */
export interface ModelInput {
  /** The input's ONNX name. */
  readonly name: string;
  /** ONNX element type name (`float`, `int64`, `double`…), as in onnx.proto's TensorProto.DataType. */
  readonly elemType: string;
  /** The element type as a {@link DType} a BatchFactory can fill, or undefined when it cannot (double, string…). */
  readonly dtype: DType | undefined;
  /**
   * The declared shape: fixed dims as numbers, symbolic dims (`dim_param`) as strings, unknown dims as null.
   * Undefined when the model declares no shape at all (not even the rank).
   */
  readonly dims: readonly OnnxDim[] | undefined;
}

const ELEM_TYPE_NAMES: Readonly<Record<number, string>> = {
  0: 'undefined',
  1: 'float',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'double',
  12: 'uint32',
  13: 'uint64',
  14: 'complex64',
  15: 'complex128',
  16: 'bfloat16',
};

const ELEM_TYPE_DTYPES: Readonly<Record<number, DType>> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  6: 'int32',
  7: 'int64',
  9: 'bool',
  10: 'float16',
};

/** The name of an ONNX TensorProto.DataType value (`1` → `float`). */
export function elemTypeName(elemType: number): string {
  return ELEM_TYPE_NAMES[elemType] ?? `type ${elemType}`;
}

/** The {@link DType} of an ONNX TensorProto.DataType value, or undefined when calibration cannot feed it. */
export function elemTypeToDType(elemType: number): DType | undefined {
  return ELEM_TYPE_DTYPES[elemType];
}

/** A protobuf int64 (number or Long) as a JS number. */
export function int64ToNumber(value: number | { toNumber(): number } | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : value.toNumber();
}

/**
 * Loads an ONNX model from a file. External data files (`data_location: EXTERNAL`) are resolved relative to the
 * model's directory and inlined into the tensors, so the model can be handed to ONNX Runtime as bytes.
 *
 * Throws ERR_IO when the file (or an external data file) cannot be read, ERR_MODEL when it is not an ONNX model.
 */
export async function loadOnnxModel(file: string): Promise<OnnxModel> {
  if (typeof file !== 'string' || file.length === 0) {
    throw new TrtCalibratorError(
      'ERR_INVALID_OPTION',
      `Expected a path to an .onnx file but received ${JSON.stringify(file)}`,
    );
  }
  const absolute = path.resolve(file);
  const bytes = await readFileOrThrow(absolute, 'ONNX model');
  return decodeOnnxModel(bytes, { path: absolute });
}

/**
 * Decodes an ONNX model from bytes, the graph's nodes and initializers in slices between which the event loop runs
 * (protobuf.ts). Give `path` (the .onnx file's path) when the model may use external data: `location` entries are
 * resolved relative to its directory. Throws ERR_MODEL for bytes that are not an ONNX model.
 */
export async function decodeOnnxModel(bytes: Uint8Array, options: { path?: string } = {}): Promise<OnnxModel> {
  const where = options.path ?? 'the model bytes';
  let proto: onnx.ModelProto;
  try {
    proto = await decodeModelProto(bytes);
  } catch (err) {
    throw new TrtCalibratorError(
      'ERR_MODEL',
      `${where} is not an ONNX model: the protobuf could not be decoded (${(err as Error).message})`,
      {
        cause: err,
        details: { file: options.path },
      },
    );
  }
  const graph = proto.graph;
  if (!graph || int64ToNumber(proto.irVersion) <= 0 || (graph.node ?? []).length === 0) {
    const why = !graph
      ? 'it has no graph'
      : int64ToNumber(proto.irVersion) <= 0
        ? 'it has no ir_version'
        : 'its graph has no nodes';
    throw new TrtCalibratorError(
      'ERR_MODEL',
      `${where} is not an ONNX model (${why}); the file may be corrupt or of another format`,
      {
        details: { file: options.path },
      },
    );
  }
  const externalDataFiles = await inlineExternalData(proto, options.path);
  return { proto, path: options.path, externalDataFiles, ...(externalDataFiles.length === 0 ? { bytes } : {}) };
}

/** Serializes a model to bytes (for ONNX Runtime or a file). Throws ERR_MODEL past protobuf's 2 GiB limit. */
export function encodeOnnxModel(proto: onnx.ModelProto): Uint8Array {
  try {
    return onnx.ModelProto.encode(proto).finish();
  } catch (err) {
    throw new TrtCalibratorError('ERR_MODEL', `Could not serialize the ONNX model: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** A deep copy of a model proto (edits on the copy leave the original alone). */
export function cloneModelProto(proto: onnx.ModelProto): onnx.ModelProto {
  return onnx.ModelProto.decode(encodeOnnxModel(proto));
}

/** The graph inputs fed at run time, in graph order (inputs that are also initializers are constants, not inputs). */
export function modelInputs(proto: onnx.ModelProto): ModelInput[] {
  const graph = proto.graph as onnx.GraphProto;
  const initializers = new Set(graph.initializer.map((t) => t.name));
  const result: ModelInput[] = [];
  for (const input of graph.input) {
    if (initializers.has(input.name)) continue;
    const tensorType = input.type?.tensorType;
    const elemType = tensorType?.elemType ?? 0;
    const dims = tensorType?.shape ? (tensorType.shape.dim ?? []).map(dimOf) : undefined;
    result.push({ name: input.name ?? '', elemType: elemTypeName(elemType), dtype: elemTypeToDType(elemType), dims });
  }
  return result;
}

function dimOf(dim: onnx.TensorShapeProto.IDimension): OnnxDim {
  // Decoded messages say which member of the oneof is set; a default dim_value of 0 would otherwise look fixed.
  const which = (dim as { value?: string }).value;
  const hasValue =
    which === 'dimValue' ||
    (which === undefined && Object.prototype.hasOwnProperty.call(dim, 'dimValue') && dim.dimValue !== null);
  if (hasValue) return int64ToNumber(dim.dimValue);
  if (dim.dimParam) return dim.dimParam;
  return null;
}

/** The version of the default ("" or "ai.onnx") operator set the model imports, or undefined when it has none. */
export function defaultOpsetVersion(proto: onnx.ModelProto): number | undefined {
  const entry = proto.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx');
  return entry ? int64ToNumber(entry.version) : undefined;
}

/** The float32 values of a tensor (raw_data little-endian or float_data). */
export function floatValues(t: onnx.ITensorProto): Float32Array {
  const count = (t.dims ?? []).reduce<number>((a, d) => a * int64ToNumber(d), 1);
  if (t.rawData && t.rawData.length > 0) {
    if (t.rawData.length !== count * 4)
      throw new TrtCalibratorError(
        'ERR_MODEL',
        `Tensor "${t.name}" has ${t.rawData.length} bytes of data for ${count} floats`,
      );
    const copy = new Uint8Array(t.rawData); // aligned copy: protobuf slices may start at odd offsets
    return new Float32Array(copy.buffer, copy.byteOffset, count);
  }
  const data = t.floatData ?? [];
  if (data.length !== count)
    throw new TrtCalibratorError(
      'ERR_MODEL',
      `Tensor "${t.name}" has ${data.length} values for shape [${(t.dims ?? []).join(', ')}]`,
    );
  return Float32Array.from(data);
}

/** Formats dims for messages: `[N, 3, 48, 192]`, unknown dims as `?`. */
export function formatDims(dims: readonly OnnxDim[] | undefined): string {
  if (!dims) return '(no shape)';
  return `[${dims.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}

/**
 * Every TensorProto in the model: initializers and Constant/attribute tensors, in subgraphs too. A plain loop: the
 * generator it was took milliseconds of the JS thread for the PaddleOCR detector's 672 nodes (2-6 ms).
 */
function allTensors(graph: onnx.IGraphProto, into: onnx.ITensorProto[] = []): onnx.ITensorProto[] {
  for (const t of graph.initializer ?? []) into.push(t);
  for (const node of graph.node ?? []) {
    for (const attr of node.attribute ?? []) {
      if (attr.t) into.push(attr.t);
      for (const t of attr.tensors ?? []) into.push(t);
      if (attr.g) allTensors(attr.g, into);
      for (const g of attr.graphs ?? []) allTensors(g, into);
    }
  }
  return into;
}

/**
 * Replaces every external-data reference by the bytes it points to (raw_data), so the model is self-contained.
 * onnxruntime-node creates sessions from a buffer without a model path, so external files would not be found.
 */
async function inlineExternalData(proto: onnx.ModelProto, modelPath: string | undefined): Promise<string[]> {
  const external = allTensors(proto.graph as onnx.IGraphProto).filter(
    (t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL,
  );
  if (external.length === 0) return [];
  if (!modelPath) {
    throw new TrtCalibratorError(
      'ERR_MODEL',
      'The model uses external data files but was given as bytes without its path; load it with loadOnnxModel(path)',
    );
  }
  const dir = path.dirname(modelPath);
  const handles = new Map<string, fs.promises.FileHandle>();
  try {
    for (const tensor of external) {
      const info = new Map((tensor.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
      const location = info.get('location');
      if (!location) {
        throw new TrtCalibratorError(
          'ERR_MODEL',
          `${modelPath}: tensor "${tensor.name}" has external data without a location`,
          { details: { file: modelPath } },
        );
      }
      // ONNX resolves locations relative to the model's directory; absolute paths and ".." are not allowed there.
      if (path.isAbsolute(location) || location.split(/[\\/]/).includes('..')) {
        throw new TrtCalibratorError(
          'ERR_MODEL',
          `${modelPath}: tensor "${tensor.name}" has external data location "${location}" outside the model's directory`,
          {
            details: { file: modelPath },
          },
        );
      }
      const file = path.join(dir, location);
      let handle = handles.get(file);
      if (!handle) {
        try {
          handle = await fs.promises.open(file, 'r');
        } catch (err) {
          throw new TrtCalibratorError(
            'ERR_IO',
            `Could not read external data file ${file} of tensor "${tensor.name}" (model ${modelPath}): ${(err as Error).message}`,
            {
              cause: err,
              details: { file },
            },
          );
        }
        handles.set(file, handle);
      }
      const offset = Number(info.get('offset') ?? '0');
      const size = (await handle.stat()).size;
      const length = info.has('length') ? Number(info.get('length')) : size - offset;
      if (
        !Number.isSafeInteger(offset) ||
        !Number.isSafeInteger(length) ||
        offset < 0 ||
        length < 0 ||
        offset + length > size
      ) {
        throw new TrtCalibratorError(
          'ERR_MODEL',
          `${modelPath}: tensor "${tensor.name}" asks for bytes ${offset}..${offset + length} of ${file}, which has ${size} bytes`,
          {
            details: { file },
          },
        );
      }
      const data = Buffer.alloc(length);
      const { bytesRead } = await handle.read(data, 0, length, offset);
      if (bytesRead !== length)
        throw new TrtCalibratorError('ERR_IO', `Short read of ${file}: ${bytesRead} of ${length} bytes`, {
          details: { file },
        });
      tensor.rawData = data;
      tensor.externalData = [];
      tensor.dataLocation = onnx.TensorProto.DataLocation.DEFAULT;
    }
  } finally {
    for (const handle of handles.values()) await handle.close().catch(() => undefined);
  }
  return [...handles.keys()];
}

/**
 * A generator of names not yet used in `graph` (by a tensor, a value info or a node): `base`, else `base_1`, `base_2`…;
 * each name it returns is taken from then on.
 */
export function uniqueNamer(graph: onnx.IGraphProto): (base: string) => string {
  const names = new Set<string>();
  for (const t of graph.initializer ?? []) names.add(t.name ?? '');
  for (const v of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])])
    names.add(v.name ?? '');
  for (const n of graph.node ?? [])
    for (const v of [...(n.input ?? []), ...(n.output ?? []), n.name ?? '']) names.add(v);
  return (base: string): string => {
    let name = base;
    for (let i = 1; names.has(name); i++) name = `${base}_${i}`;
    names.add(name);
    return name;
  };
}
