// Builders: what plays TensorRT's role and drives a CalibratorCore on the run's builder thread.
//
// Three builders drive the same calibrator through the same contract (calibrator.h):
//   "test"    the test driver (test_driver.cc): read cache -> getBatchSize -> getBatch until false -> write
//             cache, with the binding names in the order the options give (not the declaration order);
//   "sum"     builtin-lite (test_driver.cc): like "test", but after each batch it calls the JS `process`
//             callback and reads the Float32Arrays it returns in place (the pattern the builtin builder uses
//             for ONNX Runtime activations -> histograms); the cache holds the per-tensor sums;
//   "tensorrt" TensorRT's own builder (tensorrt_builder.cc -> buildEngine() of engine_builder.h, options in
//             BuilderOptions::engine); the plan comes back as result.bytes.plan;
//   "builtin" (builtin_builder.cc) plugs in the same way: a make*Builder function and one line in
//             makeBuilder() in run.cc.
//
// How to write a builder:
//   class MyBuilder final : public Builder {
//     void build(BuilderHost& host) noexcept override {
//       Calibrator& calibrator = host.calibrator();
//       size_t length = 0;
//       if (calibrator.readCalibrationCache(length) != nullptr) return;     // cache hit
//       std::vector<void*> bindings(host.bindingNames().size());
//       std::vector<char const*> names = host.bindingNamePointers();
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

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "buffers.h"
#include "calibrator.h"
#include "calibrator_core.h"
#include "engine_builder.h"

namespace trtc {

class HistogramSet;    // native/histogram.h
class DerivationPlan;  // native/derived.h

// One float32 tensor a `process` callback returned, read in place from the JS Float32Array's memory.
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

// Runs the FP32 model for the builtin builder on the builder thread, with no JavaScript involved: ONNX
// Runtime through its C API (ort_session.cc). One object per run; run() is never called from two threads at
// once, but the outputs of one run may still be in use (histogrammed on another thread) while the next run
// executes.
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

// Builder-specific options, copied from the JS `builderOptions` object (flat: numbers and strings).
struct BuilderOptions {
  std::vector<std::string> bindingNames;  // names in the order the builder passes them to getBatch
  std::map<std::string, double> numbers;
  std::map<std::string, std::string> strings;
  bool capture{false};        // test driver: copy every binding back to host memory for the result
  EngineBuildOptions engine;  // "tensorrt": the JS options.engine object
};

// What the run offers its builder (implemented in run.cc; by a fake in core_tests).
class BuilderHost {
 public:
  virtual ~BuilderHost() = default;
  virtual Calibrator& calibrator() noexcept = 0;
  virtual std::vector<InputDesc> const& inputs() const noexcept = 0;
  virtual BuilderOptions const& options() const noexcept = 0;
  // options().bindingNames as C strings, valid until build() returns.
  virtual std::vector<char const*> bindingNamePointers() const = 0;
  // Host memory holding the batch getBatch returned last, for inputs()[input] (pinned slot with a device).
  virtual void const* hostBatch(size_t input) const noexcept = 0;
  virtual int64_t batchesDelivered() const noexcept = 0;
  // Calls the JS `process(buffers, batchIndex)` callback with the host views of the current batch, waits for
  // it to settle, and returns the {name: Float32Array} it resolved with, held in place. nullptr when the run
  // was given no `process` callback (recorded as ERR_INTERNAL), on error (recorded) or on abort.
  virtual std::unique_ptr<HeldTensors> process(int64_t batchIndex) noexcept = 0;
  // The HistogramSet passed as options.histograms (shared with JS), or nullptr when none was given.
  virtual std::shared_ptr<HistogramSet> histograms() const noexcept = 0;
  // The model runner passed as options.inference (builtin builder), or nullptr: batches then go to `process`.
  virtual std::shared_ptr<Inference> inference() const noexcept = 0;
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
  // Extra values for the run's result object (numbers), e.g. statistics.
  virtual void setResultNumber(std::string const& key, double value) noexcept = 0;
  // Test driver capture: one entry per getBatch, per binding name, the bytes the binding held.
  virtual void addCapture(int64_t batch, std::string const& name, std::vector<uint8_t> bytes,
                          bool wasDevicePointer) noexcept = 0;
  // Test driver trace of contract calls ("readCalibrationCache", "getBatchSize", "getBatch", ...).
  virtual void trace(char const* call) noexcept = 0;
};

class Builder {
 public:
  virtual ~Builder() = default;
  virtual void build(BuilderHost& host) noexcept = 0;
};

// The test driver ("test"): TensorRT's order, names in options().bindingNames order; with options().capture
// it copies each binding (device -> host where needed) into the result.
std::unique_ptr<Builder> makeTestDriver();

// TensorRT's builder ("tensorrt"): buildEngine(options().engine, calibrator()); fails with the code of
// buildEngine's "<CODE>: <message>" error unless the calibrator recorded its own error first.
std::unique_ptr<Builder> makeTensorrtBuilder();

// Builtin-lite ("sum"): test driver + JS `process` per batch; cache text "TRT-0-SumCalibration" with one
// line per returned tensor: "<name>: <sum as %.9g>".
std::unique_ptr<Builder> makeSumBuilder();

// The builtin builder ("builtin", builtin_builder.cc): TensorRT's call order; float inputs and the
// activations go into host.histograms(). With host.inference() it runs each batch itself (as sub-batches of
// at most numbers["maxActivationBytes"] of activations when numbers["splittable"] is 1), histogramming one
// run's activations on numbers["histogramThreads"] threads while the next run executes; without, it asks
// `process` per batch and, after the last batch, calls process(-1) once (end of data: JS may merge histograms
// it kept elsewhere into the set). Then amax per
// tensor with strings["algorithm"] (entropy|minmax|percentile|mse; numbers["percentile"]) and the cache text
// with header TRT-<strings["tensorrtVersion"]>-<strings["cacheAlgorithm"]> through writeCalibrationCache.
std::unique_ptr<Builder> makeBuiltinBuilder();

}  // namespace trtc
