/** Sample: print what this machine offers (the same as `trt-calibrator doctor`). */
import { capabilities, formatCapabilities } from 'trt-calibrator';

console.log(formatCapabilities(capabilities()));
