// Builders: what plays TensorRT's role and drives a CalibratorCore on the run's builder thread.
//
// Every builder drives the same calibrator through the same contract (calibrator.h), chosen by
// RunOptions::builder (run_options.h):
//   kBUILTIN  our own calibration pass (builtin/builtin_builder.h): ONNX Runtime and histograms;
//   kTENSORRT TensorRT's own builder (tensorrt/tensorrt_builder.h -> buildEngine() of engine_builder.h);
//             the plan comes back as result.bytes.plan;
//   kTEST, kSUM the test build's stand-ins for TensorRT (testing/test_builders.h).
// A new builder is a make*Builder function in its part and one case in makeBuilder() (bridge/run.cc).
//
// How to write a builder:
//   class MyBuilder final : public Builder {
//     void build(BuilderHost& host) noexcept override {
//       Calibrator& calibrator = host.calibrator();
//       size_t length = 0;
//       if (calibrator.readCalibrationCache(length) != nullptr) return;     // cache hit
//       std::vector<char const*> names = host.bindingNamePointers();
//       std::vector<void*> bindings(names.size());
//       while (calibrator.getBatch(bindings.data(), names.data(), int32_t(names.size()))) {
//         // host memory of the batch: host.hostBatch(i) for input i of host.inputs() (even with a device)
//         std::unique_ptr<HeldTensors> out = host.process(host.batchesDelivered() - 1);
//         if (!out) return;                   // error or abort: already recorded, run rejects with it
//         for (size_t t = 0; t < out->size(); ++t) use(out->at(t).name, out->at(t).data, out->at(t).count);
//       }                                     // `out` released here: the JS arrays become collectable
//       if (host.stopped()) return;           // abort/error: write no cache
//       calibrator.writeCalibrationCache(text.data(), text.size());
//     }
//   };
//
// Threading / lifetime: build() runs on the run's builder thread; everything it gets from BuilderHost is
// valid until build() returns. HeldTensors may be destroyed on the builder thread (the JS references are
// released on the JS thread by the bridge). build() must not throw and must return promptly once
// host.stopped() is true (abort or error; calibrator calls then return false / do nothing).
//
// This header is pure C++ (no Node-API): builders link into core_tests.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/buffers.h"
#include "core/calibrator.h"
#include "core/run_error.h"

namespace trtc {

struct RunOptions;  // core/run_options.h

// One float32 tensor read in place: from a JS Float32Array a `process` callback returned, or from the
// memory of a model run (builtin/inference.h).
struct TensorView {
  std::string name;
  float const* data{nullptr};
  size_t count{0};  // elements
};

// The tensors of one `process` call. Their memory is pinned (napi References) until this object is destroyed.
class HeldTensors {
 public:
  virtual ~HeldTensors() = default;
  virtual size_t size() const noexcept = 0;
  virtual TensorView const& at(size_t index) const noexcept = 0;
};

// The threshold status of a tensor that got no plain threshold ("constant", "all-zero", "not-finite",
// "empty": builtin/thresholds.h amaxStatusName), for result.tensorStatuses.
struct TensorStatus {
  std::string name;
  std::string status;
};

// What the run offers its builder (implemented in bridge/run.cc; by a fake in core_tests).
class BuilderHost {
 public:
  virtual ~BuilderHost() = default;
  virtual Calibrator& calibrator() noexcept = 0;
  virtual std::vector<InputDesc> const& inputs() const noexcept = 0;
  // Everything the run was given, typed (run_options.h); the builder reads its own part (builtin, engine).
  virtual RunOptions const& options() const noexcept = 0;
  // options().bindingNames as C strings, valid until build() returns.
  virtual std::vector<char const*> bindingNamePointers() const = 0;
  // Host memory holding the batch getBatch returned last, for inputs()[input] (pinned slot with a device).
  virtual void const* hostBatch(size_t input) const noexcept = 0;
  virtual int64_t batchesDelivered() const noexcept = 0;
  // Calls the JS `process(buffers, batchIndex)` callback with the host views of the current batch, waits for
  // it to settle, and returns the {name: Float32Array} it resolved with, held in place. nullptr when the run
  // was given no `process` callback (recorded as ERR_INTERNAL), on error (recorded) or on abort.
  virtual std::unique_ptr<HeldTensors> process(int64_t batchIndex) noexcept = 0;
  // Records an error (first wins); the run rejects with it.
  virtual void fail(RunErrorCode code, std::string message) noexcept = 0;
  // True after abort or a recorded error.
  virtual bool stopped() const noexcept = 0;
  // The run's abort flag (set from the JS thread), for code that polls it (EngineBuildCallbacks::abort).
  virtual std::atomic<bool> const& abortFlag() const noexcept = 0;
  // Bytes for the run's result (result.bytes[key], a Buffer), e.g. the serialized engine.
  virtual void setResultBytes(std::string const& key, std::vector<uint8_t> bytes) noexcept = 0;
  // One line for result.log (thread-safe: TensorRT logs from its own threads too).
  virtual void addLog(std::string line) noexcept = 0;
  // Extra values for the run's result object (result.numbers[key]), e.g. statistics.
  virtual void setResultNumber(std::string const& key, double value) noexcept = 0;
  // The tensors whose threshold is not a plain one, for result.tensorStatuses (set once, by builders that
  // compute thresholds).
  virtual void setTensorStatuses(std::vector<TensorStatus> statuses) noexcept = 0;
};

class Builder {
 public:
  virtual ~Builder() = default;
  virtual void build(BuilderHost& host) noexcept = 0;
};

}  // namespace trtc
