/** Sample: print what this machine offers (the same as `trt-calibrator doctor`). */
import { capabilities, formatCapabilities } from '../lib';

console.log(formatCapabilities(capabilities()));
