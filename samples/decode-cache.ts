/**
 * Sample: decode a TensorRT calibration cache and print per tensor the hex, float32 scale and dynamic range.
 *
 *   node dist-samples/samples/decode-cache.js model.cache   (after `npm run build:samples`)
 *
 * (test/unit/cache-sample.test.ts runs it as a script with node and a transpile-on-require hook.) Without an
 * argument it decodes the excerpt of a real TensorRT 8.6.1 cache shown in the README.
 */
import { decodeCache, parseCache, readCache, type CalibrationCache } from 'trt-calibrator';
import { formatDecodeTable } from 'trt-calibrator/cache';

const EXAMPLE = [
  'TRT-8601-EntropyCalibration2',
  'input: 3c010a14',
  '/model.0/conv/Conv_output_0: 3e6e18b7',
  '(Unnamed Layer* 22) [Constant]_output: 3a4b050c',
  '',
].join('\n');

/** Decodes `file` (or the built-in example) and writes the table through `write`. */
export async function main(
  file?: string,
  write: (text: string) => void = (t) => process.stdout.write(t),
): Promise<void> {
  const cache: CalibrationCache = file ? await readCache(file) : parseCache(EXAMPLE);
  const decoded = decodeCache(cache);
  write(formatDecodeTable(decoded));
  // The numbers are plain values too, e.g. to feed ITensor::setDynamicRange(-amax, amax):
  const first = decoded.tensors[0];
  if (first) write(`first tensor ${first.name}: setDynamicRange(-${first.dynamicRange}, ${first.dynamicRange})\n`);
}

if (require.main === module) {
  main(process.argv[2]).catch((err: unknown) => {
    console.error(err instanceof Error ? `${(err as { code?: string }).code ?? 'Error'}: ${err.message}` : err);
    process.exitCode = 1;
  });
}
