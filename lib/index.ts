/**
 * trt-calibrator: INT8 calibration for NVIDIA TensorRT from Node.js.
 * @packageDocumentation
 */
export {
  calibrate,
  DEFAULT_TENSORRT_VERSION,
  DEFAULT_MAX_ACTIVATION_BYTES,
  DEFAULT_MAX_DECODE_WORKERS,
} from './calibrate';
export type {
  CalibrateOptions,
  CalibrationResult,
  CalibrationSource,
  InputOptions,
  TensorScale,
  Algorithm,
} from './calibrate';
export { makeSyntheticImages } from './synthetic/images';
export type { SyntheticImageOptions, SyntheticImage, SyntheticKind } from './synthetic/images';
export { capabilities, formatCapabilities, packageVersion } from './capabilities';
export type { Capabilities } from './capabilities';
export { TrtCalibratorError, isTrtCalibratorError, errorCode } from './errors';
export type { ErrorCode, InvalidOptionError } from './errors';
export { BatchFactory, DTYPE_BYTES, elementCount, byteLength } from './batch/factory';
export type { DType, InputSpec, BatchBuffers } from './batch/factory';
export { runCalibration, liveNativeAllocations } from './run/calibrator';
export type {
  CalibrationRunOptions,
  CalibrationRunResult,
  CalibrationProgress,
  CalibrationAlgorithm,
  ProcessBatch,
} from './run/calibrator';
export { cacheAccess } from './cache/store';
export type { CacheStore, CacheSource, CacheAccess } from './cache/store';
export { ImageBatchFactory, resolvePreprocessOptions, DEFAULT_IMAGE_EXTENSIONS } from './batch/image-factory';
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
export { encodeNpy, decodeNpy, writeNpy } from './util/npy';
export type { NpyArray, NpyContent } from './util/npy';
export {
  parseCache,
  formatCache,
  validateCache,
  createCache,
  makeCacheEntry,
  readCache,
  readCacheSync,
  writeCache,
  hexToScale,
  scaleToHex,
  isCacheAlgorithm,
  CACHE_ALGORITHMS,
  decodeCache,
  formatDecodeTable,
  formatDecodeSummary,
  decodeToCsv,
  formatNumber,
  shortestFloat32,
  HUGE_SCALE,
  checkCacheCompatibility,
  diffCaches,
  cachesDiffer,
  relativeChange,
  cacheToJson,
  cacheToJsonText,
  cacheFromJson,
  toDynamicRanges,
  dynamicRangesToCsv,
  cacheFromAmax,
  scaleFromAmax,
  parseAmaxList,
  parseTensorRTVersion,
  encodeTensorRTVersion,
  decodeTensorRTVersion,
  formatTensorRTVersion,
} from './cache';
export type {
  CalibrationCache,
  CacheEntry,
  CacheAlgorithm,
  ParseCacheOptions,
  CreateCacheOptions,
  DecodedCache,
  DecodedTensor,
  DecodeSummary,
  CacheCompatibility,
  CacheCompatibilityOptions,
  CacheDiff,
  ScaleChange,
  CacheJson,
  CacheJsonTensor,
  CacheFromJsonOptions,
  CacheFromAmaxOptions,
  AmaxInput,
  DynamicRange,
  TensorRTVersion,
  TensorRTVersionLike,
} from './cache';
export { loadOnnxModel, decodeOnnxModel, encodeOnnxModel, modelInputs } from './onnx/model';
export type { OnnxModel, ModelInput, OnnxDim } from './onnx/model';
export { prepareCalibrationModel } from './backends/builtin/calibration-model';
export type {
  CalibrationModel,
  CalibrationModelOptions,
  CalibrationInput,
  SkippedTensor,
  OutputTypeProbe,
} from './backends/builtin/calibration-model';
export { findDerivedTensors } from './backends/builtin/derived';
export type { DerivedTensor, DerivedOp } from './backends/builtin/derived';
export { createCpuSession } from './onnx/session';
export type { CpuSessionOptions } from './onnx/session';
export { insertQdq, writeQdqModel, buildQdqModel, perChannelScales, perTensorScale } from './onnx/qdq';
export type {
  QdqOptions,
  QdqExportOptions,
  QdqResult,
  QdqBuild,
  QdqExport,
  ScaleMap,
  QuantizedWeight,
  UnquantizedInput,
  Fp32Node,
  ResidualAdd,
  SharedScale,
  PoolingMode,
  Float16Conversion,
} from './onnx/qdq';
export { readScales } from './onnx/scales';
export { upgradeOpset } from './onnx/opset';
export type { OpsetUpgrade } from './onnx/opset';
export {
  evaluateQdq,
  evaluateQdqModels,
  formatEvaluation,
  labelsFromDirectory,
  activationQdqPairs,
} from './onnx/evaluate';
export type {
  EvaluateOptions,
  EvaluatePassOptions,
  Evaluation,
  OutputAgreement,
  QdqCandidate,
  TensorError,
  LabelAccuracy,
} from './onnx/evaluate';
export {
  compareAlgorithms,
  chooseAlgorithm,
  holdoutSplit,
  formatAlgorithmTable,
  accuracyReport,
  AUTO_ALGORITHMS,
  AUTO_RULE,
  DEFAULT_HOLDOUT,
} from './calibrate/auto';
export type { AutoChoice, AutoRow, CompareAlgorithmsOptions } from './calibrate/auto';
export {
  resolveBackend,
  tensorrtSupport,
  resolveInputProfiles,
  validateCalibrationShapes,
  builderSettings,
} from './backends/tensorrt';
export type {
  Backend,
  BackendOption,
  InputShapesOption,
  InputProfile,
  TensorrtBuildOptions,
  LogSeverityName,
  ParserError,
} from './backends/tensorrt';
export { HistogramSet, formatCacheText, amaxUsable, AMAX_ALGORITHMS } from './histogram';
export type { AmaxAlgorithm, AmaxStatus, AmaxResult, AmaxOptions, HistogramStats } from './histogram';
export {
  renderReportHtml,
  renderHistogramSvg,
  writeReport,
  readReport,
  validateReport,
  buildTensorReport,
  listTensorsWithoutScale,
  standardWarnings,
  downsampleHistogram,
  clippedShareFromHistogram,
  REPORT_SCHEMA_VERSION,
  REPORT_MAX_BINS,
  REPORT_ALGORITHMS,
} from './report';
export type {
  CalibrationReport,
  ReportTensor,
  ReportHistogram,
  ReportThresholds,
  ReportAlgorithm,
  ReportAccuracy,
  ReportOutputAccuracy,
  ReportTensorError,
  ReportAlgorithmComparison,
  ReportInputSpec,
  ReportSkippedImage,
  ReportTimings,
  ReportTensorWithoutScale,
  TensorStatus,
  TensorStats,
  WrittenReport,
} from './report';
