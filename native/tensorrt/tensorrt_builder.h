// The "tensorrt" builder: TensorRT's own builder drives the run's calibrator (buildEngine() of
// engine_builder.h, with RunOptions::engine); the serialized engine comes back as result.bytes.plan.
//
// Threading / lifetime: build() runs on the run's builder thread and blocks there for the whole engine build.
// Pure C++ (no Node-API, no TensorRT headers).
#pragma once

#include <memory>

#include "core/builder.h"

namespace trtc {

// Fails with the code buildEngine() reports (kTENSORRT_UNAVAILABLE without TensorRT) unless the calibrator
// recorded its own error first. Needs RunOptions::engine.
std::unique_ptr<Builder> makeTensorrtBuilder();

}  // namespace trtc
