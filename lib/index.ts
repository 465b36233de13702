/**
 * trt-calibrator: INT8 calibration for NVIDIA TensorRT from Node.js. The package root has what a user of
 * `calibrate()` needs; specialist pieces are subpath exports: `trt-calibrator/cache` (the whole cache toolkit),
 * `trt-calibrator/onnx` (model editing, the calibration model, Q/DQ insertion, evaluation),
 * `trt-calibrator/histogram` (histograms and thresholds), `trt-calibrator/report` (the report's schema and
 * rendering), `trt-calibrator/tensorrt` (the TensorRT backend's decisions: backend choice, profiles, build settings).
 * @packageDocumentation
 */

// The main job.
export { calibrate, DEFAULT_TENSORRT_VERSION, DEFAULT_MAX_ACTIVATION_BYTES } from './calibrate';
export type {
  Algorithm,
  CalibrateOptions,
  CalibrationResult,
  CalibrationSource,
  InputOptions,
  TensorScale,
} from './calibrate';
export type { AutoChoice, AutoRow } from './calibrate/auto';
export { AUTO_ALGORITHMS, AUTO_RULE } from './calibrate/auto';
export type { CalibrationProgress } from './calibrator/run';
export type { CacheStore } from './cache/store';

// Calibration data: your own BatchFactory, images, several inputs bound by name.
export { BatchFactory } from './batch/factory';
export type { DType, InputSpec, BatchBuffers } from './batch/factory';
export { ImageBatchFactory, resolvePreprocessOptions, DEFAULT_IMAGE_EXTENSIONS } from './batch/image-factory';
export type { PreprocessConfig } from './image/preprocess';
export { PRESET_NAMES, COLOR_ORDERS, RESIZE_MODES, INTERPOLATIONS, LAYOUTS } from './options';
export type { PresetName } from './options';
export type {
  ImageBatchFactoryOptions,
  PreprocessOptions,
  SkippedImage,
  ImageBatchStats,
  ImageMeta,
  ColorOrder,
  Interpolation,
  Layout,
  ResizeMode,
} from './batch/image-factory';
export { CombinedBatchFactory, combineFactories, imInfo } from './batch/combine';
export type { CombineOptions, DerivedInput, MetadataSource } from './batch/combine';
export { makeSyntheticImages } from './synthetic/images';
export type { SyntheticImageOptions, SyntheticImage, SyntheticKind } from './synthetic/images';

// The calibration cache: read, check, decode, compare, convert (the whole toolkit: trt-calibrator/cache).
export {
  readCache,
  writeCache,
  parseCache,
  formatCache,
  createCache,
  decodeCache,
  checkCacheCompatibility,
  diffCaches,
  cacheToJson,
  cacheFromJson,
  cacheFromAmax,
  toDynamicRanges,
  parseTensorRTVersion,
  encodeTensorRTVersion,
  decodeTensorRTVersion,
  formatTensorRTVersion,
} from './cache';
export type {
  CalibrationCache,
  CacheEntry,
  CacheAlgorithm,
  DecodedCache,
  DecodedTensor,
  CacheCompatibility,
  CacheCompatibilityOptions,
  CacheDiff,
  CacheJson,
  DynamicRange,
  TensorRTVersion,
  TensorRTVersionLike,
} from './cache';

// Explicit quantization (TensorRT 10/11) and the FP32-vs-INT8 check.
export { writeQdqModel, buildQdqModel } from './onnx/qdq';
export type { QdqExportOptions, QdqExport, QdqBuild, QdqModel, ScaleMap } from './onnx/qdq';
export { readScales } from './onnx/scales';
export { evaluateQdq, formatEvaluation, labelsFromDirectory } from './onnx/evaluate';
export type {
  EvaluateOptions,
  Evaluation,
  OutputAgreement,
  TensorError,
  LabelAccuracy,
  LabelledImages,
} from './onnx/evaluate';

// Histograms of a run, to save and merge shards (the thresholds API: trt-calibrator/histogram).
export { HistogramSet, AMAX_ALGORITHMS } from './histogram';
export type { AmaxAlgorithm, AmaxOptions, AmaxResult, AmaxStatus, HistogramStats, NamedAmaxResult } from './histogram';

// Errors and what this machine offers.
export { TrtCalibratorError, isTrtCalibratorError, errorCode } from './errors';
export type { ErrorCode, InvalidOptionError } from './errors';
export { capabilities, formatCapabilities, packageVersion } from './capabilities';
export type { Capabilities } from './capabilities';
