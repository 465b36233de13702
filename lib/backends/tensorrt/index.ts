/**
 * The TensorRT backend's decisions that need no TensorRT: backend choice, version gating, profile shapes,
 * builder settings, log severities and parser errors. The TensorRT calls themselves are in native/tensorrt/.
 */
export { resolveBackend, tensorrtUnavailableError } from './backend';
export type { Backend, BackendOption, TensorrtAvailability } from './backend';
export { assertTensorrtSupported, libraryHeadersMismatch, tensorrtSupport } from './version';
export type { TensorrtSupport } from './version';
export { needsProfile, resolveInputProfiles, validateCalibrationShapes } from './profile';
export type { DeclaredInput, InputProfile, InputShapesOption, ShapeRange, ShapeValuesOption } from './profile';
export { builderSettings, parseByteSize, tensorrtCalibrator } from './flags';
export type { BuilderSettings, TensorrtBuildOptions } from './flags';
export {
  LOG_SEVERITIES,
  errorFromNativeBuild,
  formatLogLine,
  formatParserError,
  parseParserError,
  severityFromNative,
  severityToNative,
} from './errors';
export type { LogSeverityName, ParserError } from './errors';
export { assertTensorrtReady, compareCaches, countInt8Layers, formatVerifyReport, verifyTensorrt } from './verify';
export type {
  CacheAgreement,
  EngineReport,
  TensorAgreement,
  VerifyTensorrtOptions,
  VerifyTensorrtReport,
} from './verify';
