/**
 * The pre-flight of calibrate(): before the first image is decoded or the model is loaded, every input must be
 * there and every output writable, so that a run never fails at its end for a reason known at its start.
 */
import { mention } from '../options';
import { checkReadable, checkWritable } from '../util/fs';
import type { CalibrationJob } from './job';

/** Checks the model, the image directories and every output path. Throws ERR_IO naming the option. */
export async function preflight(job: CalibrationJob): Promise<void> {
  const { options } = job;
  await checkReadable(job.model, 'the ONNX model');
  if (typeof job.source === 'string') await checkReadable(job.source, 'the image directory', { directory: true });
  if (typeof options.evaluationSource === 'string')
    await checkReadable(options.evaluationSource, `the ${mention('evaluationSource')} directory`, { directory: true });
  if (job.cache.path !== undefined) await checkWritable(job.cache.path, `the cache (${mention('cache')})`);
  if (options.qdq !== undefined) await checkWritable(options.qdq, `the Q/DQ model (${mention('qdq')})`);
  if (options.engine !== undefined) await checkWritable(options.engine, `the engine (${mention('engine')})`);
  if (options.report !== undefined)
    await checkWritable(options.report, `the report (${mention('report')})`, { directory: true });
}
