// startCalibration()'s options object -> RunOptions (core/run_options.h), parsed once, on the JS thread,
// before the builder thread starts. Every field is typed and required unless marked optional in
// lib/binding.ts NativeRunOptions; TypeScript passes every field, so there are no defaults here. A missing
// field or one of the wrong type is a TypeError, a value out of range a RangeError, an unknown field a
// TypeError; all carry code ERR_INVALID_OPTION and name the field ("options.builtin.percentile").
//
// The release addon refuses the test build's parts by name: builders "test" and "sum" and options.testHooks
// ("... is only in the test build of the addon").
//
// Threading / lifetime: JS thread only. The result holds no JS values (the HistogramSet and the ONNX Runtime
// session are taken as the C++ objects behind them).
#pragma once

#include <napi.h>

#include "core/run_options.h"

namespace trtc {

RunOptions parseRunOptions(Napi::Env env, Napi::Value options);

// "builtin", "tensorrt", "test", "sum".
char const* builderKindName(BuilderKind kind) noexcept;

}  // namespace trtc
