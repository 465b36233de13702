/**
 * trt-calibrator: INT8 calibration for NVIDIA TensorRT from Node.js.
 * @packageDocumentation
 */
export { capabilities, formatCapabilities, packageVersion } from './capabilities';
export type { Capabilities } from './capabilities';
export { TrtCalibratorError, isTrtCalibratorError, errorCode } from './errors';
export type { ErrorCode, InvalidOptionError } from './errors';
export { loadOnnxModel, decodeOnnxModel, encodeOnnxModel, modelInputs } from './onnx/model';
export type { OnnxModel, ModelInput, OnnxDim } from './onnx/model';
export { prepareCalibrationModel } from './onnx/calibration-model';
export type { CalibrationModel, CalibrationModelOptions, CalibrationInput, SkippedTensor } from './onnx/calibration-model';
export { createCpuSession } from './onnx/session';
export type { CpuSessionOptions } from './onnx/session';
