/** Batch factories and helpers shared by the calibrator tests (test/native, test/gpu, test/e2e). */
import { BatchFactory, BatchBuffers, InputSpec, elementCount } from '../../lib/batch/factory';
import type { NativeEngineOptions } from '../../lib/binding';

/** Engine options of the native 'tensorrt' builder for tests that never get as far as TensorRT's builder. */
export function testEngineOptions(onnxPath = 'model.onnx'): NativeEngineOptions {
  return {
    onnxPath,
    inputShapes: [],
    fp16: false,
    workspaceBytes: 0,
    dlaCore: -1,
    allowGpuFallback: false,
    verbosity: 2,
  };
}

/** Callbacks of a native run with no data and no cache (for runs refused or aborted before their first batch). */
export const NO_DATA_CALLBACKS = { fill: () => false, readCache: () => null, writeCache: () => undefined };

/** Deterministic value of element `i` of input `name` in batch `batch`. */
export function patternValue(name: string, batch: number, i: number): number {
  let h = batch * 131 + name.length * 7;
  for (let k = 0; k < name.length; k++) h = (h * 31 + name.charCodeAt(k)) % 1000;
  return ((h + i * 13) % 997) / 7;
}

/** A typed array of the pattern for one input and batch. */
export function expectedBytes(spec: InputSpec, batch: number): Uint8Array {
  const n = elementCount(spec.shape);
  if (spec.dtype === 'float32') {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = patternValue(spec.name, batch, i);
    return new Uint8Array(a.buffer);
  }
  if (spec.dtype === 'int32') {
    const a = new Int32Array(n);
    for (let i = 0; i < n; i++) a[i] = Math.round(patternValue(spec.name, batch, i) * 7);
    return new Uint8Array(a.buffer);
  }
  throw new Error(`pattern for ${spec.dtype} not implemented`);
}

/** Fills each input with its pattern, sync or async, for `batches` batches; logs every call. */
export class PatternFactory extends BatchFactory {
  readonly calls: number[] = [];
  readonly seenBuffers = new Set<BatchBuffers>();
  constructor(
    readonly inputs: readonly InputSpec[],
    readonly batches: number,
    readonly mode: 'sync' | 'async' = 'sync',
    readonly onFill?: (batchIndex: number) => void | Promise<void>,
  ) {
    super();
  }

  override get totalBatches(): number {
    return this.batches;
  }

  fill(buffers: BatchBuffers, batchIndex: number): boolean | Promise<boolean> {
    this.calls.push(batchIndex);
    this.seenBuffers.add(buffers);
    const write = (): boolean => {
      if (batchIndex >= this.batches) return false;
      for (const spec of this.inputs) {
        const view = buffers[spec.name];
        const bytes = expectedBytes(spec, batchIndex);
        new Uint8Array(view.buffer, view.byteOffset, view.byteLength).set(bytes);
      }
      return true;
    };
    if (this.mode === 'sync') {
      const r = this.onFill?.(batchIndex);
      if (r) throw new Error('sync factory onFill must not be async');
      return write();
    }
    return (async () => {
      await new Promise((resolve) => setImmediate(resolve));
      await this.onFill?.(batchIndex);
      return write();
    })();
  }
}

/** An in-memory cache store that records its calls. */
export class MemoryStore {
  reads = 0;
  writes: Uint8Array[] = [];
  constructor(public bytes: Uint8Array | null = null) {}
  async read(): Promise<Uint8Array | null> {
    this.reads++;
    return this.bytes;
  }
  async write(bytes: Uint8Array): Promise<void> {
    this.writes.push(bytes);
    this.bytes = bytes;
  }
}

/** The same float32 values for one input in every batch, for `batches` batches (small hand-checked models). */
export class FixedBatchFactory extends BatchFactory {
  readonly inputs: InputSpec[];
  private filled = 0;
  constructor(
    name: string,
    shape: readonly number[],
    private readonly values: readonly number[],
    private readonly batches: number,
  ) {
    super();
    this.inputs = [{ name, shape: [...shape], dtype: 'float32' }];
  }

  fill(buffers: BatchBuffers): boolean {
    (buffers[this.inputs[0].name] as Float32Array).set(this.values);
    return this.filled++ < this.batches;
  }
}
