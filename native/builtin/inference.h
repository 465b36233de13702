// The model runner of the builtin builder: runs the FP32 model on the builder thread with no JavaScript
// involved. Implemented by the ONNX Runtime C API session (ort_session.h) and by a fake in core_tests.
//
// Threading / lifetime: one Inference per run; run() is never called from two threads at once, but the
// outputs of one run may still be in use (histogrammed on other threads) while the next run executes.
// InferenceOutputs may be destroyed on any thread. cancel() is thread-safe.
//
// Pure C++ (no Node-API).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/builder.h"

namespace trtc {

class DerivationPlan;  // builtin/derived.h

// One input of an Inference run: host memory that stays valid and unchanged during run().
struct InferenceInput {
  std::string name;
  std::string dtype;  // as InputDesc::dtype
  std::vector<int64_t> dims;
  void const* data{nullptr};
  size_t bytes{0};
};

// The float32 activations of one Inference run, read in place from the runtime's own memory (ONNX Runtime's
// outputs): valid until this object is destroyed, which releases them. May be destroyed on any thread.
class InferenceOutputs {
 public:
  virtual ~InferenceOutputs() = default;
  // In the order the session fetches them (graph order).
  virtual std::vector<TensorView> const& tensors() const noexcept = 0;
  // The tensors to compute from these ones while histogramming them, and the graph order of all (derived.h);
  // nullptr: none, the tensors alone.
  virtual DerivationPlan const* derivations() const noexcept { return nullptr; }
};

class Inference {
 public:
  virtual ~Inference() = default;
  // Runs the model on `inputs` (their memory may change once run() returns). Returns the activations, or
  // nullptr with `error` set to ONNX Runtime's message.
  virtual std::unique_ptr<InferenceOutputs> run(std::vector<InferenceInput> const& inputs,
                                                std::string& error) = 0;
  // Asks a run in progress on another thread to stop (ONNX Runtime's terminate flag); thread-safe.
  virtual void cancel() noexcept = 0;
};

}  // namespace trtc
