// The JS-visible calibration run: startCalibration(options, callbacks) -> { promise, abort() }.
//
// A run parses its options once into RunOptions (run_options.h) on the JS thread, then starts its own builder
// thread, which allocates the batch memory, asks the JS thread to wrap the host slots in ArrayBuffers, and
// lets the chosen builder (core/builder.h) drive a CalibratorCore. The JS callbacks (fill, readCache,
// writeCache, progress, process) are reached through a JsBridge. When the builder returns, the slot
// ArrayBuffers are detached on the JS thread, the memory is freed on the builder thread, and the promise
// settles on the JS thread. See run.cc for the threading / lifetime rules.
#pragma once

#include <napi.h>

namespace trtc {

// Adds startCalibration and liveAllocations to the addon's exports.
void initRun(Napi::Env env, Napi::Object exports);

}  // namespace trtc
