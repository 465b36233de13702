/**
 * The optimization profile of the TensorRT build, from the model's declared input shapes and the user's
 * `inputShapes` option. TensorRT calibrates at the profile's OPT shape only (IBuilderConfig::setCalibrationProfile:
 * "MIN and MAX values will be overwritten by kOPT"), so every calibration batch must have exactly the OPT shape.
 */
import { TrtCalibratorError, invalidOption, suggest } from '../../errors';

/** One model input as declared in the ONNX graph: fixed dims as numbers, symbolic as strings, unknown as null/-1. */
export interface DeclaredInput {
  /** The input's ONNX name. */
  readonly name: string;
  /** Declared dims (batch first); undefined when the model declares no shape. */
  readonly dims: readonly (number | string | null)[] | undefined;
}

/** MIN/OPT/MAX of one input, batch dimension included. */
export interface ShapeRange {
  /** Smallest shape the engine accepts. */
  readonly min: readonly number[];
  /** The shape TensorRT optimizes for and calibrates at. */
  readonly opt: readonly number[];
  /** Largest shape the engine accepts. */
  readonly max: readonly number[];
}

/**
 * The values of a shape-tensor input (an INT32/INT64 input whose values set shapes inside the network, e.g. a
 * Reshape's target shape): one list (min = opt = max) or `{ min, opt, max }`, each with as many int32 values as the
 * input has elements. TensorRT calibrates at OPT, so the calibration batches must hold the OPT values.
 */
export type ShapeValuesOption =
  | readonly number[]
  | {
      /** The smallest values the engine accepts, one int32 per element of the input. */
      min: readonly number[];
      /** The values TensorRT optimizes for and calibrates at: the calibration batches must hold exactly these. */
      opt: readonly number[];
      /** The largest values the engine accepts; every value satisfies min ≤ opt ≤ max. */
      max: readonly number[];
    };

/**
 * The `inputShapes` option: per input name, one shape (min = opt = max) or `{ min, opt, max }`, plus `values` for a
 * shape-tensor input (TensorRT's IOptimizationProfile::setShapeValues; the build names an input that needs them).
 * Needed for every input with symbolic or unknown dims. Defaults to none (all inputs fixed).
 */
export type InputShapesOption = Record<
  string,
  | readonly number[]
  | {
      /** The smallest shape the engine accepts, batch dimension included, e.g. [1, 3, 224, 224]. */
      min: readonly number[];
      /**
       * The shape TensorRT optimizes for and calibrates at: every calibration batch of this input must have exactly
       * this shape.
       */
      opt: readonly number[];
      /**
       * The largest shape the engine accepts. min, opt and max have the model's rank, each dimension satisfies
       * min ≤ opt ≤ max, and dimensions the model fixes must equal its value in all three.
       */
      max: readonly number[];
      /** For a shape-tensor input only: the values it holds (see {@link ShapeValuesOption}). Defaults to none. */
      values?: ShapeValuesOption;
    }
>;

/** The profile of one input, as handed to the native builder (native/tensorrt/engine_builder.h InputShapeProfile). */
export interface InputProfile extends ShapeRange {
  /** The input's name. */
  readonly name: string;
  /** True when the model declares runtime (symbolic/unknown) dims for this input. */
  readonly dynamic: boolean;
  /** MIN/OPT/MAX values of a shape-tensor input, when given. */
  readonly values?: ShapeRange;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

function checkValueList(value: unknown, option: string): readonly number[] {
  if (!Array.isArray(value)) throw invalidOption(option, 'an array of int32 values', value);
  if (value.length === 0 || !value.every((v) => Number.isInteger(v) && v >= INT32_MIN && v <= INT32_MAX))
    throw invalidOption(option, 'a non-empty array of int32 values', value, 'range');
  return value as number[];
}

/** Checks `values` of a shape-tensor input against its OPT shape (one value per element, min <= opt <= max). */
function checkShapeValues(name: string, value: unknown, opt: readonly number[]): ShapeRange {
  const option = `inputShapes.${name}.values`;
  let range: ShapeRange;
  if (Array.isArray(value)) {
    const list = checkValueList(value, option);
    range = { min: list, opt: list, max: list };
  } else if (value !== null && typeof value === 'object') {
    const r = value as Record<string, unknown>;
    range = {
      min: checkValueList(r.min, `${option}.min`),
      opt: checkValueList(r.opt, `${option}.opt`),
      max: checkValueList(r.max, `${option}.max`),
    };
  } else {
    throw invalidOption(option, 'an array of int32 values or { min, opt, max }', value);
  }
  const elements = opt.reduce((a, b) => a * b, 1);
  for (const [key, list] of Object.entries(range) as [keyof ShapeRange, readonly number[]][]) {
    if (list.length !== elements) {
      throw new TrtCalibratorError(
        'ERR_INPUT_SHAPE',
        `Input "${name}": ${key} values have ${list.length} element(s) but the input [${opt.join(', ')}] has ${elements}`,
        { details: { input: name, values: range } },
      );
    }
  }
  range.opt.forEach((v, i) => {
    if (!(range.min[i] <= v && v <= range.max[i])) {
      throw new TrtCalibratorError(
        'ERR_INPUT_SHAPE',
        `Input "${name}": value ${i} must satisfy min <= opt <= max (got ${range.min[i]}, ${v}, ${range.max[i]})`,
        { details: { input: name, values: range } },
      );
    }
  });
  return range;
}

function isShape(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((d) => Number.isInteger(d) && (d as number) > 0);
}

function checkShape(value: unknown, option: string): readonly number[] {
  if (!Array.isArray(value)) throw invalidOption(option, 'an array of positive integers', value);
  if (!isShape(value)) throw invalidOption(option, 'an array of positive integers', value, 'range');
  return value;
}

const isDynamicDim = (d: number | string | null): boolean => typeof d !== 'number' || d < 0;

/**
 * Resolves one {@link InputProfile} per model input. Fixed inputs get their declared shape (a user shape for them
 * must equal it); inputs with symbolic/unknown dims need `inputShapes[name]`, whose fixed positions must match
 * the declaration and whose values satisfy min ≤ opt ≤ max. Throws ERR_INPUT_NAME for a shape given for no
 * input (with a spelling hint), ERR_INPUT_SHAPE for missing or inconsistent shapes, ERR_INVALID_OPTION for
 * wrongly typed values.
 */
export function resolveInputProfiles(inputs: readonly DeclaredInput[], inputShapes: unknown = {}): InputProfile[] {
  if (inputShapes === null || typeof inputShapes !== 'object' || Array.isArray(inputShapes)) {
    throw invalidOption('inputShapes', 'an object mapping input names to shapes', inputShapes);
  }
  const given = inputShapes as Record<string, unknown>;
  const names = inputs.map((i) => i.name);
  for (const key of Object.keys(given)) {
    if (!names.includes(key)) {
      throw new TrtCalibratorError(
        'ERR_INPUT_NAME',
        `inputShapes names "${key}", which is not a model input (inputs: ${names.join(', ')})${suggest(key, names)}`,
        {
          details: { input: key, inputs: names },
        },
      );
    }
  }
  return inputs.map((input) => {
    const dims = input.dims;
    const dynamic = dims === undefined || dims.some(isDynamicDim);
    const user = given[input.name];
    if (user === undefined) {
      if (dynamic) {
        throw new TrtCalibratorError(
          'ERR_INPUT_SHAPE',
          `Input "${input.name}" has runtime dimensions ${formatDeclared(dims)}; give its shapes with inputShapes: ` +
            `{ "${input.name}": [ ... ] } or { min, opt, max } (calibration runs at opt)`,
          { details: { input: input.name, declared: dims } },
        );
      }
      const fixed = dims as number[];
      return { name: input.name, dynamic, min: fixed, opt: fixed, max: fixed };
    }
    const option = `inputShapes.${input.name}`;
    let range: ShapeRange;
    let values: ShapeRange | undefined;
    if (Array.isArray(user)) {
      const shape = checkShape(user, option);
      range = { min: shape, opt: shape, max: shape };
    } else if (user !== null && typeof user === 'object') {
      const r = user as Record<string, unknown>;
      const unknown = Object.keys(r).filter((k) => !['min', 'opt', 'max', 'values'].includes(k));
      if (unknown.length > 0)
        throw invalidOption(option, '{ min, opt, max } and, for a shape tensor, values', user, 'range');
      range = {
        min: checkShape(r.min, `${option}.min`),
        opt: checkShape(r.opt, `${option}.opt`),
        max: checkShape(r.max, `${option}.max`),
      };
      if (r.values !== undefined) values = checkShapeValues(input.name, r.values, range.opt);
    } else {
      throw invalidOption(option, 'a shape array or { min, opt, max }', user);
    }
    checkRange(input, range);
    return { name: input.name, dynamic, ...range, ...(values ? { values } : {}) };
  });
}

function checkRange(input: DeclaredInput, range: ShapeRange): void {
  const fail = (message: string): never => {
    throw new TrtCalibratorError('ERR_INPUT_SHAPE', `Input "${input.name}": ${message}`, {
      details: { input: input.name, declared: input.dims, ...range },
    });
  };
  const rank = range.opt.length;
  if (range.min.length !== rank || range.max.length !== rank)
    fail(`min, opt and max must have the same rank (got ${range.min.length}, ${rank}, ${range.max.length})`);
  if (input.dims !== undefined && input.dims.length !== rank) {
    fail(
      `the model declares rank ${input.dims.length} ${formatDeclared(input.dims)} but the given shapes have rank ${rank}`,
    );
  }
  for (let i = 0; i < rank; i++) {
    const declared = input.dims?.[i];
    if (
      typeof declared === 'number' &&
      declared >= 0 &&
      (range.min[i] !== declared || range.opt[i] !== declared || range.max[i] !== declared)
    ) {
      fail(
        `dimension ${i} is fixed at ${declared} in the model ${formatDeclared(input.dims)} but the given shapes use ${range.min[i]}/${range.opt[i]}/${range.max[i]}`,
      );
    }
    if (!(range.min[i] <= range.opt[i] && range.opt[i] <= range.max[i])) {
      fail(`dimension ${i} must satisfy min <= opt <= max (got ${range.min[i]}, ${range.opt[i]}, ${range.max[i]})`);
    }
  }
}

/** True when the build needs an optimization profile (some input is dynamic or was given a range). */
export function needsProfile(profiles: readonly InputProfile[]): boolean {
  return profiles.some((p) => p.dynamic || p.values !== undefined);
}

/**
 * Checks that the calibration batches (the BatchFactory's input specs) have exactly the OPT shape of every
 * profile: TensorRT calibrates at OPT only, and getBatch must deliver exactly that many elements. Throws
 * ERR_INPUT_NAME / ERR_INPUT_SHAPE naming the input, the OPT shape and what the factory delivers.
 */
export function validateCalibrationShapes(
  profiles: readonly InputProfile[],
  batchInputs: readonly { name: string; shape: readonly number[] }[],
): void {
  for (const p of profiles) {
    const spec = batchInputs.find((s) => s.name === p.name);
    if (!spec) {
      throw new TrtCalibratorError(
        'ERR_INPUT_NAME',
        `The calibration data does not feed input "${p.name}" (it feeds ${batchInputs.map((s) => s.name).join(', ') || 'nothing'})`,
        {
          details: { input: p.name },
        },
      );
    }
    if (spec.shape.length !== p.opt.length || spec.shape.some((d, i) => d !== p.opt[i])) {
      throw new TrtCalibratorError(
        'ERR_INPUT_SHAPE',
        `Calibration batches of "${p.name}" have shape [${spec.shape.join(', ')}] but TensorRT calibrates at the ` +
          `profile's OPT shape [${p.opt.join(', ')}] only; make the batch shape equal opt (or set opt to it)`,
        { details: { input: p.name, expected: p.opt, received: spec.shape } },
      );
    }
  }
  for (const s of batchInputs) {
    if (!profiles.some((p) => p.name === s.name)) {
      throw new TrtCalibratorError(
        'ERR_INPUT_NAME',
        `The calibration data feeds "${s.name}", which is not a model input`,
        { details: { input: s.name } },
      );
    }
  }
}

function formatDeclared(dims: readonly (number | string | null)[] | undefined): string {
  if (dims === undefined) return '(no declared shape)';
  return `[${dims.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}
