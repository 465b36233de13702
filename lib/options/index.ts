/**
 * Every option of the API and the CLI, declared once (see spec.ts for what derives from a declaration). Importing
 * this module registers the CLI flags of every table with the voice module, so messages can name them.
 */
import { CALIBRATE_OPTIONS } from './calibrate';
import {
  CALIBRATE_CLI_OPTIONS,
  CONVERT_CLI_OPTIONS,
  DECODE_CLI_OPTIONS,
  DIFF_CLI_OPTIONS,
  DOCTOR_CLI_OPTIONS,
  EVALUATE_CLI_OPTIONS,
  IMAGE_INPUTS_CLI_OPTIONS,
  PREVIEW_CLI_OPTIONS,
  QDQ_CLI_OPTIONS,
  SAMPLE_IMAGES_CLI_OPTIONS,
  VERIFY_TENSORRT_CLI_OPTIONS,
} from './commands';
import { IMAGE_FACTORY_OPTIONS } from './preprocess';
import { registerFlags } from './voice';

export * from './spec';
export * from './preprocess';
export * from './calibrate';
export * from './tensorrt';
export * from './qdq';
export * from './commands';
export * from './voice';

/** Every option table, by the command or API that owns it (used for the README tables and flag lookup). */
export const OPTION_TABLES = {
  calibrate: CALIBRATE_OPTIONS,
  'calibrate (CLI only)': CALIBRATE_CLI_OPTIONS,
  'image inputs (CLI)': IMAGE_INPUTS_CLI_OPTIONS,
  ImageBatchFactory: IMAGE_FACTORY_OPTIONS,
  evaluate: EVALUATE_CLI_OPTIONS,
  preview: PREVIEW_CLI_OPTIONS,
  qdq: QDQ_CLI_OPTIONS,
  convert: CONVERT_CLI_OPTIONS,
  diff: DIFF_CLI_OPTIONS,
  decode: DECODE_CLI_OPTIONS,
  'sample-images': SAMPLE_IMAGES_CLI_OPTIONS,
  doctor: DOCTOR_CLI_OPTIONS,
  'verify-tensorrt': VERIFY_TENSORRT_CLI_OPTIONS,
} as const;

for (const table of Object.values(OPTION_TABLES)) registerFlags(table);
