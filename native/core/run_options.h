// Everything startCalibration() is given, typed: the one options structure of a run. The bridge parses the JS
// options object into it once, on the JS thread, before the builder thread starts (bridge/run_options.h);
// from then on it is read-only and nothing reads the JS object again. lib/binding.ts (NativeRunOptions)
// describes the same structure on the TypeScript side, field for field.
//
// Each builder's own options are defined by its part: BuiltinOptions (builtin/builtin_builder.h) and
// EngineBuildOptions (tensorrt/engine_builder.h). Every field is set from the options: the initializers only
// keep the struct deterministic, they are not defaults.
//
// Threading / lifetime: a plain value, written on the JS thread, then read by the builder thread. The shared
// pointers keep the HistogramSet and the ONNX Runtime session alive for the run, also when JS drops them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "builtin/builtin_builder.h"
#include "core/calibrator_core.h"
#include "tensorrt/engine_builder.h"

namespace trtc {

class HistogramSet;  // builtin/histogram.h
class Inference;     // builtin/inference.h

// What plays TensorRT's role (builder.h). kTEST and kSUM exist only in the test build (TRTC_TEST_HOOKS).
enum class BuilderKind : int32_t {
  kBUILTIN = 0,  // "builtin"
  kTENSORRT,     // "tensorrt"
  kTEST,         // "test": TensorRT's call order, nothing else (testing/test_builders.h)
  kSUM,          // "sum": the test driver plus a JS `process` call per batch (testing/test_builders.h)
};

// Options that exist for the tests only: the release addon refuses them, so there they stay false. The third
// one, injectCudaError, is the core's own (CalibratorConfig, compiled only into the test build).
struct TestHookOptions {
  // V8-owned ArrayBuffers copied into the slots, as where external buffers are refused (Electron).
  bool copyBuffers{false};
  // The test driver copies every binding (device -> host where needed) into result.captures.
  bool capture{false};
};

struct RunOptions {
  // inputs, batchSize, algorithm (getAlgorithm), memory, deviceIndex, prefetch (and the test build's
  // injectCudaError).
  CalibratorConfig calibrator;
  BuilderKind builder{BuilderKind::kBUILTIN};
  // Names in the order the builder passes them to getBatch.
  std::vector<std::string> bindingNames;
  // The set the builtin builder fills (shared with JS); required for kBUILTIN.
  std::shared_ptr<HistogramSet> histograms;
  // The builtin builder runs every batch through this model runner itself; nullptr: through `process`.
  std::shared_ptr<Inference> inference;
  // The builtin builder's options; set exactly when builder is kBUILTIN.
  std::optional<BuiltinOptions> builtin;
  // The tensorrt builder's options; set exactly when builder is kTENSORRT.
  std::optional<EngineBuildOptions> engine;
  TestHookOptions testHooks;
};

}  // namespace trtc
