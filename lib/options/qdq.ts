/** The Q/DQ export's options (writeQdqModel, buildQdqModel, insertQdq; `trt-calibrator qdq`). */
import { invalidOption } from '../errors';
import { boolean, custom, oneOf } from './spec';

/** Which pooling ops get Q/DQ on their inputs. */
export const POOLING_MODES = ['neighbors', 'all', 'none'] as const;

/** Which pooling ops get Q/DQ: see the `quantizePooling` option. */
export type PoolingMode = (typeof POOLING_MODES)[number];

const poolingExpected = `one of ${POOLING_MODES.join(', ')} or a boolean`;

function poolingMode(value: unknown, name: string): PoolingMode {
  if (value === true) return 'all';
  if (value === false) return 'none';
  if (typeof value === 'string' && (POOLING_MODES as readonly string[]).includes(value)) return value as PoolingMode;
  throw invalidOption(name, poolingExpected, value, typeof value === 'string' ? 'range' : 'type');
}

/** Where Q/DQ pairs go (see the README's "Q/DQ export" for the rules and their sources). */
export const QDQ_PLACEMENT_OPTIONS = {
  /**
   * Quantize the residual (skip) input of Adds that TensorRT can fuse into the Conv that produces their other input
   * (found through BatchNormalization, bias Add, constant Mul, activations and MaxPool); Adds whose two inputs come
   * from the same Conv are left alone. Defaults to true.
   */
  quantizeResidualAdd: boolean({
    help: 'quantize the skip input of residual Adds (fusible into the Conv, found through BN/bias/activation)',
    default: true,
    cli: '--no-residual-add',
  }),
  /**
   * Pooling inputs: 'neighbors' quantizes AveragePool/GlobalAveragePool next to a quantized op (MaxPool is left to
   * TensorRT's propagation), 'all' every MaxPool/AveragePool/GlobalAveragePool/GlobalMaxPool, 'none' no pooling op.
   * `true` and `false` are accepted for 'all' and 'none' (on the CLI the bare flag is 'all'). Defaults to 'neighbors'.
   */
  quantizePooling: custom<PoolingMode | boolean, PoolingMode, true>({
    help: 'pooling inputs: neighbors (AveragePool/GlobalAveragePool next to quantized ops), all (the bare flag), none',
    expected: poolingExpected,
    choices: POOLING_MODES,
    default: 'neighbors',
    check: poolingMode,
    parse: (text, flag) => {
      if (!(POOLING_MODES as readonly string[]).includes(text))
        throw invalidOption(flag, `one of ${POOLING_MODES.join(', ')}`, text, 'range');
      return text as PoolingMode;
    },
    cli: '--pooling [mode]',
  }),
} as const;

/** The Q/DQ model's options: placement, and the precision of what is not quantized. */
export const QDQ_EXPORT_OPTIONS = {
  ...QDQ_PLACEMENT_OPTIONS,
  /**
   * Precision of the part of the model that is not quantized. 'fp16' converts it to float16 (weights, constants,
   * activations, Q/DQ scales) with Casts at the graph inputs and outputs, which stay float32, and raises the opset to
   * 19 (the first with float16 Q/DQ scales): what TensorRT 11's strongly typed networks need to run that part in FP16
   * instead of FP32. Defaults to 'fp32'.
   */
  highPrecision: oneOf(['fp32', 'fp16'] as const, {
    help: 'precision of the part that is not quantized (fp16: float16, opset 19, inputs/outputs stay float32)',
    default: 'fp32',
  }),
} as const;
