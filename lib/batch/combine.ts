/**
 * Several factories feeding one multi-input network, in lockstep and bound by input name, plus derived inputs
 * computed from each image's metadata (the classic case: Faster R-CNN's `im_info` = [height, width, scale]).
 */
import { TrtCalibratorError, invalidOption, rejectUnknownOptions } from '../errors';
import type { ImageMeta } from '../image/preprocess';
import { BatchFactory, elementCount, type BatchBuffers, type DType, type InputSpec } from './factory';

/** A factory that reports where each image of its last batch went (ImageBatchFactory does). */
export interface MetadataSource {
  /** Metadata of each image of the last filled batch, padding repeats included. */
  readonly lastBatchMeta: readonly ImageMeta[];
}

/** An input computed per image from the metadata of another factory's last batch. */
export interface DerivedInput {
  /** Network input name. */
  name: string;
  /** Shape of one image's values, e.g. [3] for im_info; the batch dimension is added in front. */
  shape: readonly number[];
  /** Element type: 'float32' or 'int32'. Defaults to 'float32'. */
  dtype?: 'float32' | 'int32';
  /** The factory whose images these values describe; must be one of the combined factories. */
  from: BatchFactory & MetadataSource;
  /** Values for one image (as many as the shape holds). */
  compute: (meta: ImageMeta, indexInBatch: number) => ArrayLike<number>;
}

/** `im_info` as Faster R-CNN-style networks expect it: [resized height, resized width, scale (scaleY)]. */
export function imInfo(meta: ImageMeta): number[] {
  return [meta.resizedHeight, meta.resizedWidth, meta.scaleY];
}

/** Options of {@link CombinedBatchFactory}. */
export interface CombineOptions {
  /** Inputs computed from image metadata. Defaults to none. */
  derived?: readonly DerivedInput[];
}

/**
 * One BatchFactory made of several: every `fill` fills each part with the buffers of its own inputs (by name),
 * and all parts must agree on whether a batch was delivered; derived inputs are then computed from their source's
 * metadata. Batch sizes must match.
 */
export class CombinedBatchFactory extends BatchFactory {
  /** The union of the parts' inputs and the derived inputs. */
  readonly inputs: readonly InputSpec[];
  private readonly parts: readonly BatchFactory[];
  private readonly derived: readonly DerivedInput[];

  constructor(factories: readonly BatchFactory[], options: CombineOptions = {}) {
    super();
    if (!Array.isArray(factories) || factories.length === 0 || !factories.every((f) => f instanceof BatchFactory))
      throw invalidOption('factories', 'a non-empty array of BatchFactory', factories);
    rejectUnknownOptions('combineFactories', options, ['derived']);
    this.parts = [...factories];
    this.derived = [...(options.derived ?? [])];
    const inputs: InputSpec[] = [];
    const batch = factories[0].inputs[0]?.shape[0];
    const add = (spec: InputSpec) => {
      if (inputs.some((i) => i.name === spec.name))
        throw new TrtCalibratorError('ERR_INPUT_NAME', `input "${spec.name}" is fed by more than one factory`, {
          details: { input: spec.name },
        });
      if (spec.shape[0] !== batch)
        throw new TrtCalibratorError(
          'ERR_INPUT_SHAPE',
          `input "${spec.name}" has batch size ${spec.shape[0]}, the others ${batch}`,
          { details: { input: spec.name } },
        );
      inputs.push(spec);
    };
    for (const f of factories) for (const spec of f.inputs) add(spec);
    for (const d of this.derived) {
      if (!factories.includes(d.from))
        throw invalidOption(`derived "${d.name}".from`, 'one of the combined factories', d.from, 'range');
      if (typeof d.compute !== 'function') throw invalidOption(`derived "${d.name}".compute`, 'a function', d.compute);
      const dtype: DType = d.dtype ?? 'float32';
      if (dtype !== 'float32' && dtype !== 'int32')
        throw invalidOption(`derived "${d.name}".dtype`, "'float32' or 'int32'", d.dtype, 'range');
      add({ name: d.name, shape: [batch as number, ...d.shape], dtype });
    }
    this.inputs = inputs;
  }

  /** Fills every part, in parallel, then the derived inputs. */
  async fill(buffers: BatchBuffers, batchIndex: number): Promise<boolean> {
    for (const spec of this.inputs)
      if (!buffers[spec.name])
        throw new TrtCalibratorError('ERR_INPUT_NAME', `no buffer for input "${spec.name}"`, {
          details: { input: spec.name },
        });
    const results = await Promise.all(
      this.parts.map((f) => {
        const own: BatchBuffers = {};
        for (const spec of f.inputs) own[spec.name] = buffers[spec.name];
        return f.fill(own, batchIndex);
      }),
    );
    if (results.some((r) => r !== results[0])) {
      const which = this.parts
        .map((f, i) => `${f.inputs.map((s) => s.name).join('+')}: ${results[i] ? 'batch' : 'exhausted'}`)
        .join(', ');
      throw new TrtCalibratorError(
        'ERR_BATCH_FACTORY',
        `combined factories fell out of step at batch ${batchIndex} (${which})`,
      );
    }
    if (!results[0]) return false;
    for (const d of this.derived) {
      const spec = this.inputs.find((s) => s.name === d.name) as InputSpec;
      const per = elementCount(d.shape);
      const view = buffers[d.name] as Float32Array | Int32Array;
      const Expected = spec.dtype === 'float32' ? Float32Array : Int32Array;
      if (!(view instanceof Expected) || view.length !== per * spec.shape[0])
        throw new TrtCalibratorError(
          'ERR_INPUT_SHAPE',
          `buffer for derived input "${d.name}" must be a ${Expected.name} of ${per * spec.shape[0]} elements`,
          { details: { input: d.name } },
        );
      const metas = d.from.lastBatchMeta;
      if (metas.length !== spec.shape[0])
        throw new TrtCalibratorError(
          'ERR_INTERNAL',
          `derived input "${d.name}": source reported ${metas.length} images for a batch of ${spec.shape[0]}`,
        );
      metas.forEach((m, i) => {
        const values = d.compute(m, i);
        if (values.length !== per)
          throw new TrtCalibratorError(
            'ERR_INPUT_SHAPE',
            `derived input "${d.name}" computed ${values.length} values for one image, expected ${per}`,
            { details: { input: d.name } },
          );
        view.set(Array.from(values), i * per);
      });
    }
    return true;
  }

  /** Rewinds every part. */
  override async reset(): Promise<void> {
    await Promise.all(this.parts.map((f) => f.reset()));
  }

  /** The smallest known total of the parts. */
  override get totalBatches(): number | undefined {
    const totals = this.parts.map((f) => f.totalBatches);
    return totals.some((t) => t === undefined) ? undefined : Math.min(...(totals as number[]));
  }

  /** Closes every part. */
  override async close(): Promise<void> {
    await Promise.all(this.parts.map((f) => f.close()));
  }
}

/** Combines factories by input name in lockstep; see {@link CombinedBatchFactory}. */
export function combineFactories(
  factories: readonly BatchFactory[],
  options: CombineOptions = {},
): CombinedBatchFactory {
  return new CombinedBatchFactory(factories, options);
}
