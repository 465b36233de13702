/** Activation scales for Q/DQ export and evaluation, read from a TensorRT calibration cache or its JSON form. */
import { cacheFromJson } from '../cache/convert';
import { parseCache } from '../cache/format';
import { readFileOrThrow } from '../util/fs';

/**
 * Reads activation scales (tensor name → float32 scale = amax/127) from a calibration cache file
 * (`TRT-<version>-<Algorithm>` text) or its JSON form (`{ "tensors": { name: { "scale" | "amax" | "hex" } } }`,
 * as `trt-calibrator convert` writes). The TensorRT version and algorithm of the file do not matter for Q/DQ:
 * the scales are used as they are. Throws ERR_IO (unreadable) or ERR_CACHE_FORMAT naming file and line.
 */
export async function readScales(file: string): Promise<Map<string, number>> {
  const bytes = await readFileOrThrow(file, 'calibration cache');
  const text = bytes.toString('utf8');
  let entries: readonly { name: string; scale: number }[];
  if (/^\s*\{/.test(text)) {
    // Hand-written JSON may lack the version; any version serves, since only the scales are used here.
    let version: string | undefined;
    try {
      const doc = JSON.parse(text) as { tensorrt?: unknown };
      if (typeof doc.tensorrt === 'string') version = doc.tensorrt;
    } catch {
      // cacheFromJson reports the syntax error with the line number.
    }
    entries = cacheFromJson(text, { file, tensorrt: version ?? '10.0.0' }).entries;
  } else {
    entries = parseCache(bytes, { file }).entries;
  }
  return new Map(entries.map((e) => [e.name, e.scale]));
}
