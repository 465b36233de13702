/**
 * BatchFactory: where calibration data comes from. The calibrator asks a factory to fill one batch at a time
 * into buffers it hands over, keyed by input name (never by position: multi-input networks bind by name).
 */

/** Element types a network input can have. Non-index inputs are float32 in practice. */
export type DType = 'float32' | 'float16' | 'int32' | 'int64' | 'int8' | 'uint8' | 'bool';

/** Bytes per element of each {@link DType}. */
export const DTYPE_BYTES: Readonly<Record<DType, number>> = {
  float32: 4,
  float16: 2,
  int32: 4,
  int64: 8,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** One network input a factory feeds: its name, full shape (batch first) and element type. */
export interface InputSpec {
  /** The network input's name, as in the ONNX graph. */
  name: string;
  /** Full shape including the batch dimension, e.g. [8, 3, 224, 224]. All dimensions concrete. */
  shape: readonly number[];
  /** Element type. */
  dtype: DType;
}

/**
 * The buffers of one batch, keyed by input name. Each view spans exactly one batch of that input
 * (product of shape × element size bytes); write every element. For float32 inputs it is a Float32Array;
 * for others a typed array of the matching kind (Uint16Array holds float16 bits).
 */
export type BatchBuffers = Record<string, ArrayBufferView>;

/**
 * A source of calibration batches. Implement {@link BatchFactory.fill}; it may be sync or async.
 *
 * The calibrator calls `fill` with buffers for the next batch and the batch's index (0, 1, 2…). Return `true`
 * when the buffers hold a full batch, `false` when the data is exhausted (nothing was written). Throwing or
 * rejecting ends the run with that error. `reset()` rewinds to the first batch.
 */
export abstract class BatchFactory {
  /** The inputs this factory fills, with their full batch shapes. */
  abstract readonly inputs: readonly InputSpec[];

  /** Fills one batch. Returns false when there is no more data. */
  abstract fill(buffers: BatchBuffers, batchIndex: number): boolean | Promise<boolean>;

  /** Rewinds to the first batch. Defaults to doing nothing (a single-pass factory). */
  reset(): void | Promise<void> {}

  /** Number of batches this factory will deliver, when known (for progress and ETA). Defaults to undefined. */
  get totalBatches(): number | undefined {
    return undefined;
  }

  /** Releases resources (worker threads, files). Called once when the run ends. Defaults to doing nothing. */
  close(): void | Promise<void> {}
}

/** Number of elements of a shape. */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Byte length of one batch of an input. */
export function byteLength(spec: InputSpec): number {
  return elementCount(spec.shape) * DTYPE_BYTES[spec.dtype];
}
