/**
 * trt-calibrator: INT8 calibration for NVIDIA TensorRT from Node.js.
 * @packageDocumentation
 */
export { capabilities, formatCapabilities, packageVersion } from './capabilities';
export type { Capabilities } from './capabilities';
export { TrtCalibratorError, isTrtCalibratorError, errorCode } from './errors';
export type { ErrorCode, InvalidOptionError } from './errors';
