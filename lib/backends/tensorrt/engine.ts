/**
 * The TensorRT backend's engine build as calibrate() prepares it: the optimization profile (which is also the
 * calibration profile: TensorRT calibrates at OPT only, so OPT must be the calibration batch shape) and the build
 * settings, in the plain form the native builder copies (native/tensorrt/engine_builder.h EngineBuildOptions).
 */
import * as path from 'node:path';
import type { NativeEngineOptions } from '../../binding';
import type { CalibrationInput } from '../builtin/calibration-model';
import type { BuilderSettings } from './flags';
import { resolveInputProfiles, validateCalibrationShapes, type InputShapesOption } from './profile';

/**
 * The native engine-build options for `modelPath`. `inputShapes` defaults to the calibration batch shapes (MIN =
 * OPT = MAX). `extra`: a Q/DQ build (`explicitQuantization`) and the engine's layer information (`inspectLayers`),
 * both off by default. Throws ERR_INPUT_NAME / ERR_INPUT_SHAPE for profile shapes that do not fit the model or whose OPT is
 * not the calibration batch shape.
 */
export function engineBuildOptions(
  modelPath: string,
  inputs: readonly Pick<CalibrationInput, 'name' | 'dims' | 'shape'>[],
  inputShapes: InputShapesOption | undefined,
  settings: BuilderSettings,
  extra: Pick<NativeEngineOptions, 'explicitQuantization' | 'inspectLayers'> = {},
): NativeEngineOptions {
  const profiles = resolveInputProfiles(
    inputs.map((i) => ({ name: i.name, dims: i.dims })),
    inputShapes ?? Object.fromEntries(inputs.map((i) => [i.name, [...i.shape]])),
  );
  validateCalibrationShapes(profiles, inputs);
  return {
    onnxPath: path.resolve(modelPath),
    inputShapes: profiles.map((p) => ({
      name: p.name,
      min: p.min,
      opt: p.opt,
      max: p.max,
      ...(p.values ? { values: p.values } : {}),
    })),
    fp16: settings.fp16,
    workspaceBytes: settings.workspaceBytes,
    dlaCore: settings.dlaCore,
    allowGpuFallback: settings.gpuFallback,
    verbosity: settings.verbosity,
    ...extra,
  };
}
