/**
 * `trt-calibrator/onnx`: the ONNX side for those who build their own flow — loading and editing models, the
 * calibration model the builtin backend runs, Q/DQ insertion, opset upgrades, and the FP32-vs-INT8 evaluation.
 */
export { loadOnnxModel, decodeOnnxModel, encodeOnnxModel, modelInputs } from './model';
export type { OnnxModel, OnnxModelProto, ModelInput, OnnxDim } from './model';
export { prepareCalibrationModel } from '../backends/builtin/calibration-model';
export type {
  CalibrationModel,
  CalibrationModelOptions,
  CalibrationInput,
  SkippedTensor,
  OutputTypeProbe,
} from '../backends/builtin/calibration-model';
export { findDerivedTensors } from '../backends/builtin/derived';
export type { DerivedTensor, DerivedOp } from '../backends/builtin/derived';
export { createCpuSession, createQdqSession } from './session';
export type { CpuSessionOptions, OrtNodeProblem } from './session';
export { insertQdq, buildQdqModel, writeQdqModel, perChannelScales, perTensorScale } from './qdq';
export type {
  QdqOptions,
  QdqExportOptions,
  QdqResult,
  QdqBuild,
  QdqExport,
  QdqModel,
  ScaleMap,
  QuantizedWeight,
  SharedScale,
  Fp32Node,
  PoolingMode,
  ResidualAdd,
  UnquantizedInput,
  Float16Conversion,
} from './qdq';
export { readScales } from './scales';
export { upgradeOpset } from './opset';
export { POOLING_MODES } from '../options/qdq';
export { convertToFloat16 } from './fp16';
export type { OpsetUpgrade } from './opset';
export { evaluateQdq, evaluateQdqModels, formatEvaluation, labelsFromDirectory } from './evaluate';
export type {
  EvaluateOptions,
  EvaluatePassOptions,
  Evaluation,
  OutputAgreement,
  QdqCandidate,
  TensorError,
  LabelAccuracy,
  LabelledImages,
} from './evaluate';
