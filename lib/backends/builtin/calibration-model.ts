/**
 * The calibration model: the FP32 model with every float activation exposed as a graph output, so one
 * ONNX Runtime run per batch yields all the tensors TensorRT would calibrate, under the names TensorRT's ONNX
 * parser gives them.
 *
 * Which tensors get calibrated (what TensorRT 8.6–10.x does with an ONNX network):
 * - The parser names each network tensor after the ONNX value that a node produces, and the calibration cache
 *   holds one entry per float activation tensor plus the network inputs. So: every float32 output of every
 *   top-level node, in graph order, plus the float32 graph inputs (listed in `inputs`, not in
 *   `calibrationTensors`).
 * - Outputs of `Constant` nodes and initializers are weights, not activations: the parser turns them into
 *   weights (ShapedWeights) that feed layers directly. Where a layer needs a constant as a tensor, TensorRT adds
 *   an IConstantLayer whose output is named `(Unnamed Layer* N) [Constant]_output`, a name that depends on
 *   TensorRT's layer numbering and cannot be predicted here; those tensors get no entry from us and TensorRT runs
 *   them in higher precision ("Missing scale and zero-point"), which costs nothing measurable: they are constants.
 * - Tensors inside subgraphs (If/Loop/Scan bodies) cannot be graph outputs and are not calibrated.
 * - Non-float outputs (Shape, Cast to int64, masks) are never quantized and are left out; float16/double
 *   activations are left out too (FP32 exports have none; they are listed in `skippedTensors`).
 *
 * Which of them ONNX Runtime outputs: all but the derived ones (derived.ts: a few element-wise steps from
 * another activation, computed by the histogram pass instead), unless `derive: false`.
 */
import type { onnx as OnnxNs } from 'onnx-proto';
import type { InputSpec } from '../../batch/factory';
import { invalidOption, TrtCalibratorError } from '../../errors';
import { findDerivedTensors, type DerivedTensor } from './derived';
import { concatBytes, modelLayout, withGraphOutputs } from './model-bytes';
import { loadNativeOnnxRuntime, openOrtSession } from './native-ort';
import {
  formatDims,
  loadOnnxModel,
  modelInputs,
  type ModelInput,
  type OnnxDim,
  type OnnxModel,
} from '../../onnx/model';
import { createCpuSession } from '../../onnx/session';
import { ownTurn } from '../../util/event-loop';

/** Options of {@link prepareCalibrationModel}. */
export interface CalibrationModelOptions {
  /**
   * Full shapes (batch dimension first) by input name, for inputs whose declared shape has symbolic
   * (`dim_param`) or unknown dims. A given shape must agree with the fixed dims the model declares.
   * Defaults to {} (every input must then have a fully fixed shape, or rely on `batchSize`).
   */
  shapes?: Readonly<Record<string, readonly number[]>>;
  /**
   * Used for a symbolic or unknown FIRST dimension of an input that has no entry in `shapes` (its other dims
   * must be fixed). Defaults to undefined (no such substitution).
   */
  batchSize?: number;
  /** The model already loaded from `modelPath` (loadOnnxModel), to avoid decoding it twice. Defaults to loading it. */
  loaded?: OnnxModel;
  /**
   * Leave the activations that are element-wise steps from another one (derived.ts) out of the model's outputs,
   * to be computed by the histogram pass (listed in `derivedTensors`). Defaults to true; false makes every
   * calibration tensor an output of `modelBytes`.
   */
  derive?: boolean;
  /**
   * Creates the ONNX Runtime session that tells the element type of every candidate tensor (the model with all of
   * them but the derived ones as outputs) and returns those types by output name; it may keep the session for the
   * calibration pass.
   * Rejects with ERR_MODEL when ONNX Runtime cannot load the model. Defaults to a C++ session (native-ort.ts,
   * created and destroyed off the JS thread), or where ONNX Runtime's C API is unavailable an onnxruntime-node
   * session (which is created on the JS thread); either is released at once.
   */
  probe?: OutputTypeProbe;
}

/**
 * See {@link CalibrationModelOptions.probe}. `probeBytes` is the model in pieces whose concatenation is the model
 * (model-bytes.ts): `openOrtSession` takes them as they are.
 */
export type OutputTypeProbe = (
  probeBytes: readonly Uint8Array[],
  proto: OnnxNs.IModelProto,
) => Promise<ReadonlyMap<string, string>>;

/** The default probe: a C++ session's outputs, or an onnxruntime-node session's output metadata. */
async function defaultProbe(
  pieces: readonly Uint8Array[],
  proto: OnnxNs.IModelProto,
  source: string,
): Promise<Map<string, string>> {
  if ((await loadNativeOnnxRuntime()).available) {
    const session = await openOrtSession(pieces, { fetch: [], threads: 1, source, proto });
    try {
      return new Map(session.outputs.map((o) => [o.name, o.type]));
    } finally {
      session.close();
    }
  }
  const session = await createCpuSession(concatBytes(pieces), { proto, source });
  const types = new Map<string, string>();
  try {
    for (const meta of session.outputMetadata) types.set(meta.name, meta.isTensor ? meta.type : 'non-tensor');
  } finally {
    await session.release();
  }
  return types;
}

/** One network input of the calibration model: an {@link InputSpec} plus what the model declares. */
export interface CalibrationInput extends InputSpec {
  /** The declared dims (symbolic as strings, unknown as null), before `shapes` resolved them. */
  readonly dims: readonly OnnxDim[] | undefined;
  /** ONNX element type name (`float`, `int64`…). */
  readonly elemType: string;
}

/** A tensor left out of calibration, with the reason. */
export interface SkippedTensor {
  /** ONNX value name. */
  readonly name: string;
  /** Why it is not calibrated, e.g. `int64 tensor` or `float16 tensor`. */
  readonly reason: string;
}

/** What {@link prepareCalibrationModel} returns. */
export interface CalibrationModel {
  /**
   * The edited model (the float activations but the derived ones added as outputs, external data inlined), for ONNX
   * Runtime. Put together from pieces on first use (the native pass never uses it).
   */
  readonly modelBytes: Uint8Array;
  /** The network inputs with resolved shapes, in graph order. Float inputs also get cache entries. */
  readonly inputs: readonly CalibrationInput[];
  /**
   * Float32 tensors produced by nodes, in graph order, under their ONNX value names: the activations to
   * calibrate (graph outputs included). Every one is an output of `modelBytes` or in `derivedTensors`.
   */
  readonly calibrationTensors: readonly string[];
  /** The calibration tensors computed from another one rather than output by `modelBytes` (derived.ts), in graph order. */
  readonly derivedTensors: readonly DerivedTensor[];
  /**
   * `calibrationTensors` with each derived one as its {@link DerivedTensor}: what the histogram pass fetches
   * (the names) and computes (the objects), in graph order; the form the native session's `setFetch` and
   * `HistogramSet.addAll` take.
   */
  readonly fetchPlan: ReadonlyArray<string | DerivedTensor>;
  /** Outputs of Constant nodes: weights, not calibrated (see the module comment). */
  readonly constantTensors: readonly string[];
  /** Node outputs that are not float32 and are therefore not calibrated. */
  readonly skippedTensors: readonly SkippedTensor[];
  /** The model's original graph output names. */
  readonly modelOutputs: readonly string[];
  /** The loaded (unedited) model. */
  readonly model: OnnxModel;
}

/**
 * Loads `modelPath` and prepares it for the builtin calibration pass: resolves input shapes, finds every float
 * activation (asking ONNX Runtime for the types of tensors the model does not annotate), and returns the model
 * bytes with those activations as outputs. The model is not copied or encoded again where its file's bytes are at
 * hand (model-bytes.ts): the JS thread does little more than walk the graph.
 *
 * Errors: ERR_IO (file missing), ERR_MODEL (not ONNX, or ONNX Runtime cannot run it: names node and op),
 * ERR_INPUT_NAME (a `shapes` key that is not an input; the message lists the model's inputs), ERR_INPUT_SHAPE
 * (dynamic dims without a shape, or a shape that contradicts the model), ERR_INPUT_DTYPE (an input type a
 * BatchFactory cannot feed), ERR_INVALID_OPTION.
 */
export async function prepareCalibrationModel(
  modelPath: string,
  options: CalibrationModelOptions = {},
): Promise<CalibrationModel> {
  validateOptions(options);
  const model = options.loaded ?? (await loadOnnxModel(modelPath));
  const inputs = resolveInputs(modelInputs(model.proto), options, modelPath);
  // Read only: the outputs are added to the model's bytes, not to its proto.
  const proto = model.proto;
  const graph = proto.graph as OnnxNs.GraphProto;
  const modelOutputs = graph.output.map((o) => o.name ?? '');

  const constantTensors: string[] = [];
  const candidates: string[] = [];
  const seen = new Set<string>(graph.input.map((i) => i.name ?? ''));
  for (const node of graph.node) {
    const isConstant = node.opType === 'Constant' && (!node.domain || node.domain === 'ai.onnx');
    for (const out of node.output ?? []) {
      if (!out || seen.has(out)) continue;
      seen.add(out);
      (isConstant ? constantTensors : candidates).push(out);
    }
  }

  // Walking the graph and putting the model's bytes together take a few ms each on the JS thread (the first call
  // in a process most): each gets a turn of the event loop of its own, so that several calibrations starting at
  // once interleave these steps instead of running them back to back.
  await ownTurn();
  // Ask ONNX Runtime for the element type of every candidate but the derived ones: add each as an output with
  // just a name (ORT infers type and shape), create a session, read outputMetadata. This also proves ORT can run
  // the model. A derived tensor has its root's type.
  const derivable = options.derive === false ? [] : findDerivedTensors(proto, candidates);
  const derivedByName = new Map(derivable.map((d) => [d.name, d]));
  const existing = new Set(modelOutputs);
  const added = candidates.filter((name) => !existing.has(name) && !derivedByName.has(name));
  await ownTurn();
  const layout = await modelLayout(model);
  const probeBytes = withGraphOutputs(layout, added);
  const types = options.probe
    ? await options.probe(probeBytes, proto)
    : await defaultProbe(probeBytes, proto, modelPath);
  const declared = declaredTypes(graph);
  const typeOf = (name: string) => types.get(name) ?? declared.get(name) ?? 'unknown type';

  const calibrationTensors: string[] = [];
  const derivedTensors: DerivedTensor[] = [];
  const fetchPlan: Array<string | DerivedTensor> = [];
  const skippedTensors: SkippedTensor[] = [];
  for (const name of candidates) {
    const d = derivedByName.get(name);
    const type = typeOf(d ? d.root : name);
    if (type !== 'float32') {
      skippedTensors.push({ name, reason: `${type} tensor` });
      continue;
    }
    calibrationTensors.push(name);
    if (d) derivedTensors.push(d);
    fetchPlan.push(d ?? name);
  }

  // The calibration model: original outputs first, then the fetched float activations; non-float extras are dropped.
  const calibrated = new Set(calibrationTensors);
  const kept = added.filter((name) => calibrated.has(name));
  const modelPieces = kept.length === added.length ? probeBytes : withGraphOutputs(layout, kept);
  let modelBytes: Uint8Array | undefined;
  return {
    get modelBytes() {
      modelBytes ??= concatBytes(modelPieces);
      return modelBytes;
    },
    inputs,
    calibrationTensors,
    derivedTensors,
    fetchPlan,
    constantTensors,
    skippedTensors,
    modelOutputs,
    model,
  };
}

function declaredTypes(graph: OnnxNs.GraphProto): Map<string, string> {
  const names: Record<number, string> = {
    1: 'float32',
    10: 'float16',
    11: 'float64',
    7: 'int64',
    6: 'int32',
    9: 'bool',
  };
  const result = new Map<string, string>();
  for (const vi of [...graph.valueInfo, ...graph.output]) {
    const elemType = vi.type?.tensorType?.elemType;
    if (elemType && vi.name) result.set(vi.name, names[elemType] ?? `ONNX type ${elemType}`);
  }
  return result;
}

function validateOptions(options: CalibrationModelOptions): void {
  if (options === null || typeof options !== 'object') throw invalidOption('options', 'an object', options);
  const { shapes, batchSize, derive } = options;
  if (derive !== undefined && typeof derive !== 'boolean') throw invalidOption('derive', 'a boolean', derive);
  if (shapes !== undefined) {
    if (shapes === null || typeof shapes !== 'object' || Array.isArray(shapes))
      throw invalidOption('shapes', 'an object of input name to shape', shapes);
    for (const [name, shape] of Object.entries(shapes)) {
      if (!Array.isArray(shape) || shape.length === 0)
        throw invalidOption(`shapes.${name}`, 'a non-empty array of positive integers', shape);
      if (!shape.every((d) => Number.isSafeInteger(d) && d > 0))
        throw invalidOption(`shapes.${name}`, 'a non-empty array of positive integers', shape, 'range');
    }
  }
  if (batchSize !== undefined) {
    if (typeof batchSize !== 'number') throw invalidOption('batchSize', 'a positive integer', batchSize);
    if (!Number.isSafeInteger(batchSize) || batchSize <= 0)
      throw invalidOption('batchSize', 'a positive integer', batchSize, 'range');
  }
}

/** Resolves every input's shape from the model, `shapes` and `batchSize` (exported for the CLI and tests). */
export function resolveInputs(
  declared: readonly ModelInput[],
  options: CalibrationModelOptions,
  source: string,
): CalibrationInput[] {
  const shapes = options.shapes ?? {};
  const names = declared.map((i) => i.name);
  for (const key of Object.keys(shapes)) {
    if (!names.includes(key)) {
      throw new TrtCalibratorError(
        'ERR_INPUT_NAME',
        `shapes names input "${key}", which ${source} does not have; its inputs are: ${names.map((n) => `"${n}"`).join(', ')}`,
        {
          details: { input: key, inputs: names },
        },
      );
    }
  }
  return declared.map((input) => {
    if (input.dtype === undefined) {
      throw new TrtCalibratorError(
        'ERR_INPUT_DTYPE',
        `Input "${input.name}" of ${source} has element type ${input.elemType}, which calibration cannot feed`,
        {
          details: { input: input.name, elemType: input.elemType },
        },
      );
    }
    const given = shapes[input.name];
    const dims = input.dims;
    let shape: number[];
    if (given) {
      if (dims && dims.length !== given.length) {
        throw new TrtCalibratorError(
          'ERR_INPUT_SHAPE',
          `Shape [${given.join(', ')}] for input "${input.name}" has rank ${given.length} but the model declares ${formatDims(dims)}`,
          {
            details: { input: input.name, expected: dims, given },
          },
        );
      }
      dims?.forEach((d, i) => {
        if (typeof d === 'number' && d > 0 && d !== given[i]) {
          throw new TrtCalibratorError(
            'ERR_INPUT_SHAPE',
            `Shape [${given.join(', ')}] for input "${input.name}" disagrees with the model's ${formatDims(dims)} at dim ${i}`,
            {
              details: { input: input.name, expected: dims, given },
            },
          );
        }
      });
      shape = [...given];
    } else {
      const fixed = dims?.map((d, i) =>
        typeof d === 'number' && d > 0 ? d : i === 0 && options.batchSize !== undefined ? options.batchSize : undefined,
      );
      if (!fixed || fixed.some((d) => d === undefined)) {
        const example = dims
          ? `[${dims.map((d, i) => (typeof d === 'number' && d > 0 ? d : i === 0 ? (options.batchSize ?? 1) : typeof d === 'string' ? d : '?')).join(', ')}]`
          : '[…]';
        throw new TrtCalibratorError(
          'ERR_INPUT_SHAPE',
          `Input "${input.name}" of ${source} has ${dims ? `dynamic dims ${formatDims(dims)}` : 'no declared shape'}; give its full shape, e.g. shapes: { ${JSON.stringify(input.name)}: ${example} } with numbers`,
          { details: { input: input.name, dims } },
        );
      }
      shape = fixed as number[];
    }
    return { name: input.name, dtype: input.dtype, shape, dims, elemType: input.elemType };
  });
}
