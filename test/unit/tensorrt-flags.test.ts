import {
  builderSettings,
  errorFromNativeBuild,
  formatLogLine,
  formatParserError,
  parseByteSize,
  parseParserError,
  severityFromNative,
  severityToNative,
  tensorrtCalibrator,
} from '../../lib/backends/tensorrt';

describe('TensorRT builder settings from options', () => {
  it('defaults to INT8 only on the GPU with TensorRT defaults', () => {
    expect(builderSettings()).toEqual({
      int8: true,
      fp16: false,
      workspaceBytes: 0,
      dlaCore: -1,
      gpuFallback: false,
      verbosity: 2,
    });
  });

  it('maps fp16, workspace, DLA core with GPU fallback and verbosity', () => {
    expect(builderSettings({ fp16: true, workspace: '2GiB', dlaCore: 1, verbosity: 'verbose' })).toEqual({
      int8: true,
      fp16: true,
      workspaceBytes: 2 * 2 ** 30,
      dlaCore: 1,
      gpuFallback: true,
      verbosity: 4,
    });
    expect(builderSettings({ dlaCore: 0, allowGpuFallback: false }).gpuFallback).toBe(false);
  });

  it('parses byte sizes', () => {
    expect(parseByteSize(1024)).toBe(1024);
    expect(parseByteSize('512MiB')).toBe(512 * 2 ** 20);
    expect(parseByteSize('1.5GiB')).toBe(1.5 * 2 ** 30);
    expect(() => parseByteSize('1GB')).toThrow(RangeError);
    expect(() => parseByteSize(-1)).toThrow(RangeError);
    expect(() => parseByteSize(true)).toThrow(TypeError);
  });

  it('rejects bad values and unknown options with the house messages', () => {
    expect(() => builderSettings({ fp16: 'yes' as unknown as boolean })).toThrow(
      /Expected a boolean for fp16 but received "yes" of type string/,
    );
    expect(() => builderSettings({ dlaCore: -1 })).toThrow(RangeError);
    expect(() => builderSettings({ dlaCore: '0' as unknown as number })).toThrow(TypeError);
    expect(() => builderSettings({ verbosity: 'loud' as never })).toThrow(
      /Expected one of 'internal-error', 'error', 'warning', 'info', 'verbose' for verbosity/,
    );
    expect(() => builderSettings({ fp61: true } as never)).toThrow(/Unknown option "fp61".*did you mean "fp16"/);
  });

  it('maps algorithms to TensorRT calibrators, refusing the builtin-only ones', () => {
    expect(tensorrtCalibrator(undefined)).toEqual({
      calibrator: 'IInt8EntropyCalibrator2',
      cacheAlgorithm: 'EntropyCalibration2',
    });
    expect(tensorrtCalibrator('minmax')).toEqual({
      calibrator: 'IInt8MinMaxCalibrator',
      cacheAlgorithm: 'MinMaxCalibration',
    });
    expect(() => tensorrtCalibrator('percentile')).toThrow(/use backend 'builtin'/);
    expect(() => tensorrtCalibrator(2)).toThrow(TypeError);
  });
});

describe('TensorRT log severities', () => {
  it('round-trips ILogger::Severity values', () => {
    expect([0, 1, 2, 3, 4].map(severityFromNative)).toEqual(['internal-error', 'error', 'warning', 'info', 'verbose']);
    expect(['internal-error', 'error', 'warning', 'info', 'verbose'].map((s) => severityToNative(s))).toEqual([
      0, 1, 2, 3, 4,
    ]);
    expect(severityFromNative(9)).toBe('verbose');
    expect(formatLogLine('warning', 'Missing scale and zero-point for tensor x')).toBe(
      '[TensorRT] [W] Missing scale and zero-point for tensor x',
    );
  });
});

describe('TensorRT parser errors', () => {
  it('formats and parses the lines the native builder writes', () => {
    const e = {
      node: 12,
      nodeName: 'Conv_3',
      operator: 'Conv',
      code: 'UNSUPPORTED_NODE',
      description: 'No importer registered for op: Conv',
    };
    const line = formatParserError(e);
    expect(line).toBe('node 12 (Conv_3): [ONNX Conv] UNSUPPORTED_NODE: No importer registered for op: Conv');
    expect(parseParserError(line)).toEqual(e);
    // TensorRT 8.6 has no node name/operator; graph-level errors have node -1.
    expect(parseParserError('node 4: [ONNX] INVALID_NODE: Assertion failed: x')).toEqual({
      node: 4,
      code: 'INVALID_NODE',
      description: 'Assertion failed: x',
    });
    expect(parseParserError('graph: [ONNX] MODEL_DESERIALIZE_FAILED: bad file')).toEqual({
      node: -1,
      code: 'MODEL_DESERIALIZE_FAILED',
      description: 'bad file',
    });
    expect(parseParserError('node 1 (a (b)): [ONNX Foo] CODE_15: y: z')).toEqual({
      node: 1,
      nodeName: 'a (b)',
      operator: 'Foo',
      code: 'CODE_15',
      description: 'y: z',
    });
    expect(parseParserError('some TensorRT log line')).toBeUndefined();
  });

  it('turns native build errors into TrtCalibratorErrors with their code and parser errors', () => {
    // The addon sets `code` on its Errors (RunErrorCode in native/core/run_error.h); the message carries no code.
    const coded = (code: string, message: string) => Object.assign(new Error(message), { code });
    const native = coded(
      'ERR_TENSORRT_BUILD',
      "TensorRT's ONNX parser could not parse m.onnx (2 error(s))\nnode 3 (Resize_1): [ONNX Resize] UNSUPPORTED_NODE_ATTR: mode\ngraph: [ONNX] INVALID_GRAPH: x",
    );
    const err = errorFromNativeBuild(native);
    expect(err.code).toBe('ERR_TENSORRT_BUILD');
    expect(err.message.startsWith("TensorRT's ONNX parser")).toBe(true);
    expect(err.details.parserErrors).toHaveLength(2);
    expect(err.cause).toBe(native);
    expect(errorFromNativeBuild(coded('ERR_ABORTED', 'the engine build was cancelled')).code).toBe('ERR_ABORTED');
    expect(errorFromNativeBuild(coded('ERR_INPUT_SHAPE', 'input "x" has runtime dimensions')).code).toBe(
      'ERR_INPUT_SHAPE',
    );
    expect(errorFromNativeBuild(coded('ERR_TENSORRT_UNAVAILABLE', 'built without TensorRT')).code).toBe(
      'ERR_TENSORRT_UNAVAILABLE',
    );
    expect(errorFromNativeBuild(new Error('something odd')).code).toBe('ERR_TENSORRT_BUILD');
    expect(errorFromNativeBuild(coded('ERR_NOT_A_CODE', 'x')).code).toBe('ERR_TENSORRT_BUILD');
  });
});
