/**
 * TensorRT log severities and the errors of the native builder (native/tensorrt/engine_builder.h): Errors whose
 * `code` the addon sets, and the ONNX parser error lines inside their messages.
 */
import { type ErrorCode, TrtCalibratorError, invalidOption } from '../../errors';

/** ILogger::Severity by name; the array index is the native value. */
export const LOG_SEVERITIES = ['internal-error', 'error', 'warning', 'info', 'verbose'] as const;

/** A TensorRT log severity. */
export type LogSeverityName = (typeof LOG_SEVERITIES)[number];

/** The nvinfer1::ILogger::Severity value of a severity name. Throws ERR_INVALID_OPTION for an unknown name. */
export function severityToNative(name: unknown, option = 'verbosity'): number {
  const i = (LOG_SEVERITIES as readonly unknown[]).indexOf(name);
  if (i < 0) {
    const expected = `one of ${LOG_SEVERITIES.map((s) => `'${s}'`).join(', ')}`;
    throw invalidOption(option, expected, name, typeof name === 'string' ? 'range' : 'type');
  }
  return i;
}

/** The name of an ILogger::Severity value (values past kVERBOSE count as verbose). */
export function severityFromNative(value: number): LogSeverityName {
  return LOG_SEVERITIES[Math.min(Math.max(Math.trunc(value), 0), LOG_SEVERITIES.length - 1)];
}

/** One log line as the CLI prints TensorRT messages: `[TensorRT] [W] message`. */
export function formatLogLine(severity: LogSeverityName, message: string): string {
  const tag = { 'internal-error': 'F', error: 'E', warning: 'W', info: 'I', verbose: 'V' }[severity];
  return `[TensorRT] [${tag}] ${message}`;
}

/** One error of TensorRT's ONNX parser (nvonnxparser::IParserError). */
export interface ParserError {
  /** Index of the ONNX node, or -1 for an error about the whole graph. */
  readonly node: number;
  /** The node's name (TensorRT ≥ 10 only). */
  readonly nodeName?: string;
  /** The node's operator, e.g. `Conv` (TensorRT ≥ 10 only). */
  readonly operator?: string;
  /** The nvonnxparser::ErrorCode name, e.g. `UNSUPPORTED_NODE`. */
  readonly code: string;
  /** The parser's description. */
  readonly description: string;
}

/** Formats a parser error as the native builder does: `node 12 (Conv_3): [ONNX Conv] UNSUPPORTED_NODE: …`. */
export function formatParserError(e: ParserError): string {
  const where = e.node >= 0 ? `node ${e.node}${e.nodeName ? ` (${e.nodeName})` : ''}` : 'graph';
  return `${where}: [ONNX${e.operator ? ` ${e.operator}` : ''}] ${e.code}: ${e.description}`;
}

const PARSER_LINE = /^(?:node (\d+)(?: \((.*)\))?|graph): \[ONNX(?: ([^\]]+))?\] ([A-Z0-9_]+): (.*)$/;

/** Parses one line written by {@link formatParserError} (or the native builder); undefined for other lines. */
export function parseParserError(line: string): ParserError | undefined {
  const m = PARSER_LINE.exec(line);
  if (!m) return undefined;
  return {
    node: m[1] === undefined ? -1 : Number(m[1]),
    ...(m[2] ? { nodeName: m[2] } : {}),
    ...(m[3] ? { operator: m[3] } : {}),
    code: m[4],
    description: m[5],
  };
}

const NATIVE_CODES: readonly ErrorCode[] = [
  'ERR_TENSORRT_UNAVAILABLE',
  'ERR_TENSORRT_BUILD',
  'ERR_INPUT_NAME',
  'ERR_INPUT_SHAPE',
  'ERR_MODEL',
  'ERR_ABORTED',
];

/**
 * Turns an error of the native "tensorrt" builder (an Error whose `code` the addon set) into a TrtCalibratorError
 * with that code (codes it does not expect become ERR_TENSORRT_BUILD). Parser error lines of the message are
 * listed in `details.parserErrors`.
 */
export function errorFromNativeBuild(error: { code?: unknown; message: string }): TrtCalibratorError {
  const code = (NATIVE_CODES as readonly unknown[]).includes(error.code)
    ? (error.code as ErrorCode)
    : 'ERR_TENSORRT_BUILD';
  const parserErrors = error.message
    .split('\n')
    .map(parseParserError)
    .filter((e): e is ParserError => e !== undefined);
  return new TrtCalibratorError(code, error.message, {
    cause: error,
    details: parserErrors.length ? { parserErrors } : {},
  });
}
