// Tests of the calibrator core through its TensorRT-style contract, with C++ batch sources and builder hosts
// standing in for the JS bridge (host memory only; see CMakeLists.txt).
#include "core/calibrator_core.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "builtin/builtin_builder.h"
#include "builtin/derived.h"
#include "builtin/histogram.h"
#include "builtin/inference.h"
#include "builtin/parallel.h"
#include "builtin/thresholds.h"
#include "core/buffers.h"
#include "core/builder.h"
#include "core/cache_text.h"
#include "core/run_options.h"
#include "tensorrt/tensorrt_builder.h"
#include "test_framework.h"
#include "testing/test_driver.h"

namespace {

using namespace trtc;

InputDesc input(std::string name, std::vector<int64_t> shape, std::string dtype = "float32") {
  InputDesc in;
  in.name = std::move(name);
  in.shape = std::move(shape);
  in.dtype = std::move(dtype);
  in.elementSize = dtypeSize(in.dtype);
  size_t elements = 1;
  for (int64_t d : in.shape) elements *= static_cast<size_t>(d);
  in.bytes = elements * in.elementSize;
  return in;
}

// The byte every position of input `i` of batch `batch` holds.
uint8_t pattern(size_t i, int64_t batch) { return static_cast<uint8_t>(17 * (i + 1) + 3 * batch); }

// A synchronous BatchSource: fills with pattern() (image k of a batch: + imageStride * k, batch b: pattern of
// b + batchOffset), exhausts after `batches`, can fail or abort at a batch.
class FakeSource final : public BatchSource {
 public:
  FakeSource(std::vector<InputDesc> inputs, int64_t batches, RunStatus& status)
      : mInputs(std::move(inputs)), mBatches(batches), mStatus(status) {}

  void startFill(int32_t slot, int64_t batchIndex) noexcept override {
    log.push_back("fill " + std::to_string(batchIndex) + " slot " + std::to_string(slot));
    outstanding++;
    if (batchIndex == failAt) {
      mStatus.fail(RunErrorCode::kJS_ERROR, "factory failed on batch " + std::to_string(batchIndex));
      mResult = FillStatus::kFAILED;
      return;
    }
    if (batchIndex == abortAt) {
      mStatus.requestAbort();
      mResult = FillStatus::kFAILED;
      return;
    }
    if (batchIndex >= mBatches) {
      mResult = FillStatus::kEXHAUSTED;
      return;
    }
    for (size_t i = 0; i < mInputs.size(); ++i) {
      int64_t const images = std::max<int64_t>(mInputs[i].shape.empty() ? 1 : mInputs[i].shape[0], 1);
      size_t const perImage = mInputs[i].bytes / static_cast<size_t>(images);
      auto* bytes = static_cast<uint8_t*>(buffers->host(slot, i));
      for (int64_t k = 0; k < images; ++k) {
        std::memset(bytes + static_cast<size_t>(k) * perImage,
                    static_cast<uint8_t>(pattern(i, batchIndex + batchOffset) + imageStride * k), perImage);
      }
    }
    mResult = FillStatus::kFILLED;
  }
  FillStatus waitFill() noexcept override {
    outstanding--;
    return mResult;
  }
  bool readCache(std::vector<uint8_t>& out) noexcept override {
    log.push_back("readCache");
    out = cache;
    return true;
  }
  bool writeCache(uint8_t const* data, size_t length) noexcept override {
    log.push_back("writeCache");
    written.assign(reinterpret_cast<char const*>(data), length);
    return true;
  }
  void batchDelivered(int64_t batchesDone) noexcept override { delivered = batchesDone; }

  BatchBuffers* buffers{nullptr};
  std::vector<std::string> log;
  std::vector<uint8_t> cache;
  std::string written;
  int64_t failAt{-1};
  int64_t abortAt{-1};
  int64_t delivered{0};
  int imageStride{0};
  int64_t batchOffset{0};
  int outstanding{0};

 private:
  std::vector<InputDesc> mInputs;
  int64_t mBatches;
  RunStatus& mStatus;
  FillStatus mResult{FillStatus::kFAILED};
};

// Wraps a core for the builders (what bridge/run.cc does with JS behind it).
class FakeHost final : public BuilderHost {
 public:
  FakeHost(CalibratorCore& core, RunStatus& status, RunOptions options)
      : run(std::move(options)), mCore(core), mStatus(status) {}

  Calibrator& calibrator() noexcept override { return mCore; }
  std::vector<InputDesc> const& inputs() const noexcept override { return mCore.config().inputs; }
  RunOptions const& options() const noexcept override { return run; }
  std::vector<char const*> bindingNamePointers() const override {
    std::vector<char const*> names;
    for (auto const& n : run.bindingNames) names.push_back(n.c_str());
    return names;
  }
  void const* hostBatch(size_t input) const noexcept override {
    return mCore.buffers().host(mCore.currentSlot(), input);
  }
  int64_t batchesDelivered() const noexcept override { return mCore.batchesDelivered(); }
  std::unique_ptr<HeldTensors> process(int64_t batchIndex) noexcept override {
    // "Runs the model": one tensor per input, value = first byte of the input's host batch.
    struct Held final : HeldTensors {
      std::vector<std::vector<float>> data;
      std::vector<TensorView> views;
      size_t size() const noexcept override { return views.size(); }
      TensorView const& at(size_t i) const noexcept override { return views[i]; }
    };
    auto held = std::make_unique<Held>();
    for (size_t i = 0; i < inputs().size(); ++i) {
      uint8_t const first = *static_cast<uint8_t const*>(hostBatch(i));
      held->data.emplace_back(4, static_cast<float>(first));
    }
    for (size_t i = 0; i < inputs().size(); ++i) {
      held->views.push_back(
          TensorView{"act/" + inputs()[i].name, held->data[i].data(), held->data[i].size()});
    }
    processed.push_back(batchIndex);
    return held;
  }
  std::atomic<bool> const& abortFlag() const noexcept override { return mStatus.abortFlag(); }
  void setResultBytes(std::string const& key, std::vector<uint8_t> value) noexcept override {
    bytes[key] = value;
  }
  void addLog(std::string line) noexcept override { log.push_back(std::move(line)); }
  void fail(RunErrorCode code, std::string message) noexcept override {
    mStatus.fail(code, std::move(message));
  }
  bool stopped() const noexcept override { return mStatus.stopped(); }
  void setResultNumber(std::string const& key, double value) noexcept override { numbers[key] = value; }
  void setTensorStatuses(std::vector<TensorStatus> statuses) noexcept override {
    tensorStatuses = std::move(statuses);
  }

  RunOptions run;     // what the builders read (histograms and inference set by the tests)
  TestRecord record;  // what the test builders did
  std::vector<int64_t> processed;
  std::map<std::string, double> numbers;
  std::map<std::string, std::vector<uint8_t>> bytes;
  std::vector<std::string> log;
  std::vector<TensorStatus> tensorStatuses;

 private:
  CalibratorCore& mCore;
  RunStatus& mStatus;
};

// One core + source + status, host memory.
struct Fixture {
  explicit Fixture(std::vector<InputDesc> inputs, int64_t batches, bool prefetch = true)
      : source(inputs, batches, status) {
    CalibratorConfig config;
    config.inputs = std::move(inputs);
    config.batchSize = static_cast<int32_t>(config.inputs[0].shape[0]);
    config.memory = MemoryKind::kHOST;
    config.prefetch = prefetch;
    core = std::make_unique<CalibratorCore>(config, source, status);
    source.buffers = &core->buffers();
  }
  RunStatus status;
  FakeSource source;
  std::unique_ptr<CalibratorCore> core;
};

bool allBytes(void const* p, size_t n, uint8_t value) {
  auto const* b = static_cast<uint8_t const*>(p);
  for (size_t i = 0; i < n; ++i) {
    if (b[i] != value) return false;
  }
  return true;
}

}  // namespace

TEST(test_driver_calls_the_contract_in_tensorrt_order) {
  Fixture f({input("image", {2, 3, 4, 4})}, 3);
  RunOptions options;
  options.bindingNames = {"image"};
  FakeHost host(*f.core, f.status, options);
  makeTestDriver(host.record, false)->build(host);
  std::vector<std::string> const expected = {
      "readCalibrationCache", "getBatchSize", "getBatch", "getBatch", "getBatch", "getBatch",
      "writeCalibrationCache"};
  CHECK(host.record.trace == expected);
  CHECK_EQ(f.source.log.front(), std::string("readCache"));
  CHECK_EQ(f.source.log.back(), std::string("writeCache"));
  CHECK_EQ(f.source.written, std::string("TRT-0-TestDriver\nbatches: 3\n"));
  CHECK_EQ(f.core->batchesDelivered(), int64_t{3});
  CHECK_EQ(f.source.delivered, int64_t{3});
  CHECK(!f.status.failed());
  CHECK_EQ(f.core->getBatchSize(), 2);
  CHECK(f.core->getAlgorithm() == CalibrationAlgo::kENTROPY_CALIBRATION_2);
}

TEST(get_batch_binds_by_name_not_by_position) {
  Fixture f({input("image", {1, 8}), input("im_info", {1, 3}), input("ids", {1, 5}, "int64")}, 2);
  void* bindings[3] = {};
  char const* names[3] = {"ids", "image", "im_info"};
  for (int64_t batch = 0; batch < 2; ++batch) {
    REQUIRE(f.core->getBatch(bindings, names, 3));
    CHECK(allBytes(bindings[0], 5 * 8, pattern(2, batch)));
    CHECK(allBytes(bindings[1], 8 * 4, pattern(0, batch)));
    CHECK(allBytes(bindings[2], 3 * 4, pattern(1, batch)));
  }
  CHECK(!f.core->getBatch(bindings, names, 3));
  CHECK(!f.status.failed());
}

TEST(double_buffering_prefetches_the_next_batch_into_the_other_slot) {
  Fixture f({input("x", {1, 4})}, 3);
  void* binding = nullptr;
  char const* name = "x";
  REQUIRE(f.core->getBatch(&binding, &name, 1));
  // Batch 0 came from slot 0; batch 1 is already being filled into slot 1 while the builder uses batch 0.
  CHECK_EQ(f.core->currentSlot(), 0);
  CHECK_EQ(f.source.log.back(), std::string("fill 1 slot 1"));
  CHECK_EQ(f.source.outstanding, 1);
  CHECK(allBytes(binding, 16, pattern(0, 0)));  // the prefetch did not touch the slot in use
  REQUIRE(f.core->getBatch(&binding, &name, 1));
  CHECK_EQ(f.core->currentSlot(), 1);
  CHECK_EQ(f.source.log.back(), std::string("fill 2 slot 0"));
  CHECK(allBytes(binding, 16, pattern(0, 1)));
  f.core->drain();
  CHECK_EQ(f.source.outstanding, 0);
}

TEST(without_prefetch_each_get_batch_fills_exactly_one_batch) {
  Fixture f({input("x", {1, 4})}, 2, false);
  void* binding = nullptr;
  char const* name = "x";
  REQUIRE(f.core->getBatch(&binding, &name, 1));
  CHECK_EQ(f.source.outstanding, 0);
  CHECK_EQ(f.source.log.size(), size_t{1});
  REQUIRE(f.core->getBatch(&binding, &name, 1));
  CHECK(!f.core->getBatch(&binding, &name, 1));
  CHECK_EQ(f.source.log.size(), size_t{3});
}

TEST(cache_hit_skips_get_batch_and_write) {
  Fixture f({input("x", {1, 4})}, 3);
  f.source.cache = {'T', 'R', 'T'};
  RunOptions options;
  options.bindingNames = {"x"};
  FakeHost host(*f.core, f.status, options);
  makeTestDriver(host.record, false)->build(host);
  CHECK(host.record.trace == std::vector<std::string>{"readCalibrationCache"});
  CHECK(f.source.log == std::vector<std::string>{"readCache"});
  CHECK(f.core->cacheHit());
  size_t length = 0;
  void const* bytes = f.core->readCalibrationCache(length);
  CHECK_EQ(length, size_t{3});
  CHECK(bytes != nullptr && std::memcmp(bytes, "TRT", 3) == 0);
}

TEST(unknown_missing_or_repeated_names_are_input_name_errors) {
  {
    Fixture f({input("image", {2, 3, 4, 4})}, 3);
    void* binding = nullptr;
    char const* name = "images";
    CHECK(!f.core->getBatch(&binding, &name, 1));
    CHECK(f.status.code() == RunErrorCode::kINPUT_NAME);
    CHECK_EQ(f.status.message(),
             std::string("The network input \"images\" is not filled by the batch factory; it "
                         "fills \"image\" [2,3,4,4] float32"));
    CHECK(f.source.log.empty());
  }
  {
    Fixture f({input("a", {1, 2}), input("b", {1, 2})}, 3);
    void* bindings[2] = {};
    char const* names[2] = {"a", "a"};
    CHECK(!f.core->getBatch(bindings, names, 1));
    CHECK_EQ(std::string(errorCodeName(f.status.code())), std::string("ERR_INPUT_NAME"));
    CHECK(f.status.message().find("asked for 1 input(s) but the batch factory fills 2") != std::string::npos);
  }
  {
    Fixture f({input("a", {1, 2}), input("b", {1, 2})}, 3);
    void* bindings[2] = {};
    char const* names[2] = {"a", "a"};
    CHECK(!f.core->getBatch(bindings, names, 2));
    CHECK(f.status.message().find("\"a\" twice") != std::string::npos);
  }
}

TEST(factory_error_stops_the_run_and_writes_no_cache) {
  Fixture f({input("x", {1, 4})}, 10);
  f.source.failAt = 2;
  RunOptions options;
  options.bindingNames = {"x"};
  FakeHost host(*f.core, f.status, options);
  makeTestDriver(host.record, false)->build(host);
  CHECK(f.status.code() == RunErrorCode::kJS_ERROR);
  CHECK_EQ(f.status.message(), std::string("factory failed on batch 2"));
  CHECK_EQ(f.core->batchesDelivered(), int64_t{2});
  CHECK(f.source.written.empty());
  CHECK(!f.core->cacheWritten());
  // After an error getBatch keeps returning false and asks for nothing more.
  size_t const calls = f.source.log.size();
  void* binding = nullptr;
  char const* name = "x";
  CHECK(!f.core->getBatch(&binding, &name, 1));
  CHECK_EQ(f.source.log.size(), calls);
}

TEST(abort_stops_the_run_and_writes_no_cache) {
  Fixture f({input("x", {1, 4})}, 10);
  f.source.abortAt = 3;
  RunOptions options;
  options.bindingNames = {"x"};
  FakeHost host(*f.core, f.status, options);
  makeTestDriver(host.record, false)->build(host);
  CHECK(f.status.abortRequested());
  CHECK(!f.status.failed());
  CHECK(f.source.written.empty());
  char const text[] = "late cache";
  f.core->writeCalibrationCache(text, sizeof(text));
  CHECK(f.source.written.empty());
  size_t length = 1;
  CHECK(f.core->readCalibrationCache(length) == nullptr);
  CHECK_EQ(length, size_t{0});
}

TEST(first_error_wins) {
  RunStatus status;
  CHECK(!status.stopped());
  CHECK(status.fail(RunErrorCode::kCUDA, "cudaErrorIllegalAddress: first"));
  CHECK(!status.fail(RunErrorCode::kJS_ERROR, "second"));
  CHECK(status.code() == RunErrorCode::kCUDA);
  CHECK_EQ(status.message(), std::string("cudaErrorIllegalAddress: first"));
  CHECK_EQ(std::string(errorCodeName(RunErrorCode::kCUDA)), std::string("ERR_CUDA"));
  CHECK(status.stopped());
}

TEST(injected_cuda_error_is_reported_with_its_name) {
  RunStatus status;
  std::vector<InputDesc> inputs = {input("x", {1, 4})};
  FakeSource source(inputs, 3, status);
  CalibratorConfig config;
  config.inputs = inputs;
  config.batchSize = 1;
  config.memory = MemoryKind::kHOST;
  config.prefetch = true;
  config.injectCudaError = "cudaErrorLaunchFailure";
  CalibratorCore core(config, source, status);
  source.buffers = &core.buffers();
  void* binding = nullptr;
  char const* name = "x";
  CHECK(!core.getBatch(&binding, &name, 1));
  CHECK(status.code() == RunErrorCode::kCUDA);
  CHECK(status.message().rfind("cudaErrorLaunchFailure: ", 0) == 0);
}

TEST(buffers_are_aligned_counted_and_freed) {
  AllocationStats const before = liveAllocations();
  {
    BatchBuffers buffers({input("a", {3, 7}), input("b", {1, 1}, "uint8")}, MemoryKind::kHOST);
    CHECK(!buffers.onDevice());
    AllocationStats const during = liveAllocations();
    CHECK_EQ(during.hostBuffers - before.hostBuffers, int64_t{4});
    CHECK_EQ(during.bytes - before.bytes, int64_t{2 * (84 + 1)});
    CHECK_EQ(during.pinnedBuffers, int64_t{0});
    CHECK_EQ(during.deviceBuffers, int64_t{0});
    for (int32_t s = 0; s < BatchBuffers::kSLOTS; ++s) {
      CHECK_EQ(reinterpret_cast<uintptr_t>(buffers.host(s, 0)) % 256, uintptr_t{0});
      CHECK(buffers.binding(s, 0) == buffers.host(s, 0));  // host fallback: bindings are the host slots
    }
    CHECK(buffers.host(0, 0) != buffers.host(1, 0));
    buffers.enqueueUpload(0);  // no-ops without a device
    buffers.synchronize();
  }
  AllocationStats const after = liveAllocations();
  CHECK_EQ(after.hostBuffers, before.hostBuffers);
  CHECK_EQ(after.bytes, before.bytes);
}

TEST(host_buffer_moves_transfer_ownership) {
  AllocationStats const before = liveAllocations();
  {
    HostBuffer a(100, false);
    void* p = a.data();
    HostBuffer b(std::move(a));
    CHECK(a.data() == nullptr);
    CHECK(b.data() == p);
    HostBuffer c(10, false);
    c = std::move(b);
    CHECK(c.data() == p);
    CHECK_EQ(liveAllocations().hostBuffers - before.hostBuffers, int64_t{1});
  }
  CHECK_EQ(liveAllocations().hostBuffers, before.hostBuffers);
  CHECK_EQ(liveAllocations().bytes, before.bytes);
}

TEST(dtype_sizes_and_shape_text) {
  CHECK_EQ(dtypeSize("float32"), size_t{4});
  CHECK_EQ(dtypeSize("float16"), size_t{2});
  CHECK_EQ(dtypeSize("int64"), size_t{8});
  CHECK_EQ(dtypeSize("bool"), size_t{1});
  CHECK_EQ(dtypeSize("complex64"), size_t{0});
  CHECK_EQ(shapeText({8, 3, 640, 640}), std::string("[8,3,640,640]"));
}

TEST(sum_builder_reads_process_results_after_each_batch) {
  Fixture f({input("a", {1, 4}), input("b", {1, 2})}, 3);
  RunOptions options;
  options.bindingNames = {"b", "a"};
  FakeHost host(*f.core, f.status, options);
  makeSumBuilder(host.record)->build(host);
  CHECK(!f.status.failed());
  CHECK(host.processed == (std::vector<int64_t>{0, 1, 2}));
  double sumA = 0;
  double sumB = 0;
  for (int64_t batch = 0; batch < 3; ++batch) {
    sumA += 4 * pattern(0, batch);
    sumB += 4 * pattern(1, batch);
  }
  char expected[256];
  std::snprintf(expected, sizeof(expected), "TRT-0-SumCalibration\nact/a: %.9g\nact/b: %.9g\n", sumA, sumB);
  CHECK_EQ(f.source.written, std::string(expected));
}

TEST(test_driver_capture_copies_each_binding) {
  Fixture f({input("a", {1, 4}), input("b", {1, 2})}, 2);
  RunOptions options;
  options.bindingNames = {"b", "a"};
  FakeHost host(*f.core, f.status, options);
  makeTestDriver(host.record, true)->build(host);
  std::vector<TestRecord::Capture> const& captures = host.record.captures;
  REQUIRE(captures.size() == 4);
  CHECK_EQ(captures[0].name, std::string("b"));
  CHECK_EQ(captures[0].bytes.size(), size_t{8});
  CHECK(!captures[0].device);
  CHECK(allBytes(captures[0].bytes.data(), 8, pattern(1, 0)));
  CHECK_EQ(captures[3].name, std::string("a"));
  CHECK(allBytes(captures[3].bytes.data(), 16, pattern(0, 1)));
}

TEST(tensorrt_builder_without_tensorrt_fails_with_tensorrt_unavailable) {
  Fixture f({input("x", {1, 4})}, 2);
  RunOptions options;
  options.bindingNames = {"x"};
  options.engine = EngineBuildOptions{};
  options.engine->onnxPath = "model.onnx";
  FakeHost host(*f.core, f.status, options);
  makeTensorrtBuilder()->build(host);
  CHECK(f.status.code() == RunErrorCode::kTENSORRT_UNAVAILABLE);
  CHECK(f.status.message().rfind("this trt-calibrator addon was built without TensorRT", 0) == 0);
  CHECK(host.bytes.empty());
}

// ---- the builtin builder's own inference pass (RunOptions::inference), with a fake model runner ----
namespace {

// Stands in for ONNX Runtime: every run returns float tensors of 300 values per image, each image's values a
// function of that image's first input byte b alone (so a batch gives the same values run whole, split or
// run twice; b changes from batch to batch, so maxima grow and shrink between batches): act/sin, act/relu,
// and with `lateFrom` >= 0 act/late, all zeros while b < lateFrom. Records the batch dimension of each run,
// can fail at a run, and counts the outputs alive (the builder may hold two runs' outputs at once, never
// more).
class FakeInference final : public Inference {
 public:
  struct Outputs final : InferenceOutputs {
    explicit Outputs(FakeInference& owner) : mOwner(owner) { mOwner.alive++; }
    ~Outputs() override { mOwner.alive--; }
    std::vector<TensorView> const& tensors() const noexcept override { return views; }
    DerivationPlan const* derivations() const noexcept override { return plan.get(); }
    std::vector<std::vector<float>> data;
    std::vector<TensorView> views;
    std::shared_ptr<DerivationPlan const> plan;

   private:
    FakeInference& mOwner;
  };

  std::unique_ptr<InferenceOutputs> run(std::vector<InferenceInput> const& inputs,
                                        std::string& error) override {
    int const call = calls++;
    if (call == failAt) {
      error = "boom at run " + std::to_string(call);
      return nullptr;
    }
    int64_t const images = inputs.at(0).dims.at(0);
    std::size_t const perImage = inputs.at(0).bytes / static_cast<std::size_t>(images);
    batchDims.push_back(images);
    auto out = std::make_unique<Outputs>(*this);
    out->data.assign(lateFrom >= 0 ? 3 : 2, {});
    for (int64_t img = 0; img < images; ++img) {
      int const b = static_cast<uint8_t const*>(inputs[0].data)[static_cast<std::size_t>(img) * perImage];
      for (int j = 0; j < 300; ++j) {
        double const scale = 1.0 + (b % 5);
        out->data[0].push_back(static_cast<float>(std::sin(0.37 * j + 1.3 * b) * scale));
        out->data[1].push_back(static_cast<float>(std::max(0.0, std::cos(0.11 * j - b)) * (3 - b % 3)));
        if (lateFrom >= 0)
          out->data[2].push_back(b < lateFrom ? 0.0F
                                              : static_cast<float>(std::sin(0.21 * j + b) * (1 + b % 7)));
      }
    }
    out->views = {TensorView{"act/sin", out->data[0].data(), out->data[0].size()},
                  TensorView{"act/relu", out->data[1].data(), out->data[1].size()}};
    if (lateFrom >= 0) out->views.push_back(TensorView{"act/late", out->data[2].data(), out->data[2].size()});
    out->plan = plan;
    int const now = alive.load();
    int seen = maxAlive.load();
    while (now > seen && !maxAlive.compare_exchange_weak(seen, now)) {
    }
    std::lock_guard<std::mutex> lock(mutex);
    produced.push_back(out->data);
    return out;
  }
  void cancel() noexcept override { cancelled = true; }

  std::atomic<int> calls{0};
  std::atomic<int> alive{0};
  std::atomic<int> maxAlive{0};
  std::atomic<bool> cancelled{false};
  int failAt{-1};
  int lateFrom{-1};
  std::vector<int64_t> batchDims;
  std::mutex mutex;
  std::vector<std::vector<std::vector<float>>> produced;  // per run: the two tensors
  std::shared_ptr<DerivationPlan const> plan;             // handed out with every run's outputs
};

// What the builder must have written: the runs' outputs added one run at a time (skipping the probe run),
// after the float inputs of every batch, entropy amax, TensorRT's cache text.
std::string expectedCache(FakeInference const& fake, std::size_t skipRuns,
                          std::vector<InputDesc> const& inputs, int64_t batches) {
  HistogramSet set;
  std::vector<float> input;
  // Inputs first (the builder adds them before any run); their values are pattern() bytes.
  for (int64_t batch = 0; batch < batches; ++batch) {
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      input.assign(inputs[i].bytes / sizeof(float), 0.0F);
      std::memset(input.data(), pattern(i, batch), inputs[i].bytes);
      set.add(inputs[i].name, input.data(), input.size());
    }
  }
  for (std::size_t r = skipRuns; r < fake.produced.size(); ++r) {
    set.add("act/sin", fake.produced[r][0].data(), fake.produced[r][0].size());
    set.add("act/relu", fake.produced[r][1].data(), fake.produced[r][1].size());
  }
  std::vector<CacheEntry> entries;
  for (std::string const& name : set.names()) {
    AmaxResult const r = computeAmax(set.get(name), AmaxAlgorithm::kENTROPY, AmaxOptions{});
    if (r.usable()) entries.push_back(CacheEntry{name, r.amax});
  }
  return formatCacheText("100300", "EntropyCalibration2", entries);
}

RunOptions builtinOptions(double maxActivationBytes, bool splittable) {
  RunOptions options;
  options.builder = BuilderKind::kBUILTIN;
  options.bindingNames = {"x"};
  options.histograms = std::make_shared<HistogramSet>();
  BuiltinOptions builtin;
  builtin.algorithm = AmaxAlgorithm::kENTROPY;
  builtin.percentile = 99.99;
  builtin.tensorrtVersion = "100300";
  builtin.cacheAlgorithm = "EntropyCalibration2";
  builtin.maxActivationBytes = maxActivationBytes;
  builtin.splittable = splittable;
  builtin.histogramThreads = 2;
  options.builtin = builtin;
  return options;
}

}  // namespace

TEST(builtin_native_pass_histograms_each_run_exactly_as_one_thread_would) {
  Fixture f({input("x", {4, 2})}, 5);
  FakeHost host(*f.core, f.status, builtinOptions(0, true));
  auto fake = std::make_shared<FakeInference>();
  host.run.inference = fake;
  makeBuiltinBuilder()->build(host);
  REQUIRE(!f.status.failed());
  CHECK(fake->batchDims == (std::vector<int64_t>{4, 4, 4, 4, 4}));  // no limit: whole batches, no probe
  CHECK_EQ(f.source.written, expectedCache(*fake, 0, f.core->config().inputs, 5));
  CHECK(host.run.histograms->names() == (std::vector<std::string>{"x", "act/sin", "act/relu"}));
  CHECK_EQ(fake->alive.load(), 0);
  CHECK(fake->maxAlive.load() <= 2);
  CHECK_EQ(host.numbers["subBatch"], 4.0);
}

// One builtin run with its own ONNX Runtime stand-in over `batches` batches of `batchSize` images (image k's
// bytes: pattern + k, so images differ inside a batch).
struct SplitCase {
  double maxActivationBytes{0};
  std::size_t threads{2};
  int64_t batchSize{4};
  int64_t batches{3};
  int lateFrom{-1};
  int64_t batchOffset{0};
  std::shared_ptr<DerivationPlan const> plan;
  std::vector<uint8_t> continued;  // a serialized set the run continues; empty: a fresh set
};

struct SplitRun {
  std::string cache;
  std::vector<uint8_t> histograms;  // the run's set, serialized
  std::vector<std::string> names;
  std::vector<int64_t> batchDims;  // images per ONNX Runtime run, in order
  double secondPassRuns{0};
  bool failed{false};
};

SplitRun runSplit(SplitCase const& c, int64_t abortAt = -1, int failAt = -1) {
  Fixture f({input("x", {c.batchSize, 2})}, c.batches);
  f.source.imageStride = 1;
  f.source.batchOffset = c.batchOffset;
  f.source.abortAt = abortAt;
  RunOptions options = builtinOptions(c.maxActivationBytes, true);
  options.builtin->histogramThreads = c.threads;
  if (!c.continued.empty())
    options.histograms = HistogramSet::deserialize(c.continued.data(), c.continued.size());
  FakeHost host(*f.core, f.status, options);
  auto fake = std::make_shared<FakeInference>();
  fake->lateFrom = c.lateFrom;
  fake->plan = c.plan;
  fake->failAt = failAt;
  host.run.inference = fake;
  makeBuiltinBuilder()->build(host);
  CHECK_EQ(fake->alive.load(), 0);
  CHECK(fake->maxAlive.load() <= 2);
  SplitRun r;
  r.failed = f.status.stopped();
  r.cache = f.source.written;
  r.histograms = host.run.histograms->serialize();  // throws if a batch were left open
  r.names = host.run.histograms->names();
  r.batchDims = fake->batchDims;
  r.secondPassRuns = host.numbers["secondPassRuns"];
  return r;
}

// max|x| of the stand-in's act/sin for an image whose first byte is b (as float, like the histograms).
float sinMax(int b) {
  float m = 0.0F;
  for (int j = 0; j < 300; ++j)
    m = std::max(m, std::fabs(static_cast<float>(std::sin(0.37 * j + 1.3 * b) * (1.0 + b % 5))));
  return m;
}

TEST(builtin_native_pass_histograms_a_split_batch_exactly_as_the_whole_batch_for_any_limit_and_thread_count) {
  // act/late is zero in batch 0 and in image 0 of batch 1 (first bytes 17..20, 20..23, 23..26; lateFrom 21):
  // its width comes from batch 1, whose first nonzero image is not its largest.
  SplitCase whole;
  whole.lateFrom = 21;
  SplitRun const reference = runSplit(whole);
  REQUIRE(!reference.failed);
  CHECK(reference.batchDims == (std::vector<int64_t>{4, 4, 4}));  // no limit: whole batches, no probe
  CHECK(reference.names == (std::vector<std::string>{"x", "act/sin", "act/relu", "act/late"}));
  // act/sin's width is the first batch's max / 2048, not its first image's (which is smaller).
  std::unique_ptr<HistogramSet> const set =
      HistogramSet::deserialize(reference.histograms.data(), reference.histograms.size());
  float const batchMax = std::max(std::max(sinMax(17), sinMax(18)), std::max(sinMax(19), sinMax(20)));
  CHECK_EQ(set->get("act/sin").binWidth(), static_cast<double>(batchMax) / 2048.0);
  CHECK(sinMax(17) < batchMax);

  // One image's activations: 3 tensors x 300 floats = 3600 bytes.
  struct Split {
    double limit;
    std::size_t threads;
    std::vector<int64_t> dims;
    double secondPassRuns;
  };
  std::vector<int64_t> const ones(20, 1);
  for (Split const& split : std::vector<Split>{
           // Image by image: batch 0 as the probe + 3 runs, then again (its widths come from all 4); batch 1
           // twice (act/late gets its width); batch 2 once.
           {1, 1, ones, 8},
           {1, 3, ones, 8},
           {3600 * 1.5, 2, ones, 8},
           // Pairs: the probe is image 0's part of batch 0's first pass (1, 2, 1), its second pass (2, 2).
           {3600 * 2.5, 2, {1, 2, 1, 2, 2, 2, 2, 2, 2, 2, 2}, 4},
           // Threes: a 4-image batch as 3 + 1.
           {3600 * 3.5, 2, {1, 3, 3, 1, 3, 1, 3, 1, 3, 1}, 4},
           // A limit the batch fits under: whole batches after the probe.
           {3600 * 4.0, 2, {1, 4, 4, 4}, 0},
       }) {
    SplitCase c = whole;
    c.maxActivationBytes = split.limit;
    c.threads = split.threads;
    SplitRun const r = runSplit(c);
    REQUIRE(!r.failed);
    CHECK(r.batchDims == split.dims);
    CHECK_EQ(r.secondPassRuns, split.secondPassRuns);
    CHECK(r.names == reference.names);
    if (r.histograms != reference.histograms)
      trtc_test::fail(__FILE__, __LINE__, "histograms differ at limit " + std::to_string(split.limit));
    CHECK_EQ(r.cache, reference.cache);
  }
}

TEST(builtin_native_pass_continued_histograms_give_the_same_cache_split_or_whole) {
  // Histograms of a first run (act/late all zeros there: no width yet), continued with other batches (first
  // bytes 26.., act/late nonzero from 28 on: its width comes from the continued run's first batch).
  SplitCase first;
  first.lateFrom = 100;
  SplitRun const start = runSplit(first);
  REQUIRE(!start.failed);
  SplitCase next;
  next.lateFrom = 28;
  next.batchOffset = 3;
  next.continued = start.histograms;
  SplitRun const whole = runSplit(next);
  REQUIRE(!whole.failed);
  for (double limit : {1.0, 3600 * 2.5}) {
    SplitCase c = next;
    c.maxActivationBytes = limit;
    SplitRun const r = runSplit(c);
    REQUIRE(!r.failed);
    CHECK(r.batchDims.size() > 3);  // split
    if (r.histograms != whole.histograms)
      trtc_test::fail(__FILE__, __LINE__, "histograms differ at limit " + std::to_string(limit));
    CHECK_EQ(r.cache, whole.cache);
  }
}

// act/sin's derived tensors as the test computes them: y = sin * 2 + 1, c = clip(sin, -0.5, 0.5).
std::vector<std::vector<float>> derivedOfSin(std::vector<float> const& sin) {
  std::vector<float> y;
  std::vector<float> c;
  for (float v : sin) {
    float const t = v * 2.0F;
    y.push_back(t + 1.0F);
    c.push_back(std::min(std::max(v, -0.5F), 0.5F));
  }
  return {y, c};
}

TEST(builtin_native_pass_histograms_derived_tensors_in_graph_order_and_counts_them_in_the_split) {
  auto plan = std::make_shared<DerivationPlan>();
  plan->addFetched("act/sin");
  plan->addDerived("act/sin2", "act/sin", "Mul", {{"act/sin", 0, false}, {"", 2.0F, true}});
  plan->addDerived("act/sin2+1", "act/sin", "Add", {{"act/sin2", 0, false}, {"", 1.0F, true}});
  plan->addDerived("act/clip", "act/sin", "Clip",
                   {{"act/sin", 0, false}, {"", -0.5F, true}, {"", 0.5F, true}});
  plan->addFetched("act/relu");
  SplitCase whole;
  whole.plan = plan;
  Fixture f({input("x", {4, 2})}, 3);
  f.source.imageStride = 1;
  FakeHost host(*f.core, f.status, builtinOptions(0, true));
  auto fake = std::make_shared<FakeInference>();
  fake->plan = plan;
  host.run.inference = fake;
  makeBuiltinBuilder()->build(host);
  REQUIRE(!f.status.failed());
  CHECK(host.run.histograms->names() ==
        (std::vector<std::string>{"x", "act/sin", "act/sin2", "act/sin2+1", "act/clip", "act/relu"}));
  // The same histograms from the materialized values, one whole batch at a time.
  HistogramSet expected;
  for (std::vector<std::vector<float>> const& run : fake->produced) {
    std::vector<float> const& sin = run[0];
    std::vector<float> twice;
    for (float v : sin) twice.push_back(v * 2.0F);
    std::vector<std::vector<float>> const d = derivedOfSin(sin);
    expected.add("act/sin", sin.data(), sin.size());
    expected.add("act/sin2", twice.data(), twice.size());
    expected.add("act/sin2+1", d[0].data(), d[0].size());
    expected.add("act/clip", d[1].data(), d[1].size());
    expected.add("act/relu", run[1].data(), run[1].size());
  }
  for (std::string const& name : expected.names()) {
    CHECK(host.run.histograms->get(name).serialize() == expected.get(name).serialize());
  }
  // One image: act/sin and its 3 derived tensors (4 x 300 floats) + act/relu (300) = 6000 bytes, counted as
  // if all were fetched; 2.5 images fit -> sub-batches of 2 (of 4 if the derived tensors were not counted).
  SplitCase split = whole;
  split.maxActivationBytes = 6000 * 2.5;
  SplitRun const r = runSplit(split);
  REQUIRE(!r.failed);
  CHECK(r.batchDims == (std::vector<int64_t>{1, 2, 1, 2, 2, 2, 2, 2, 2}));
  CHECK(r.histograms == runSplit(whole).histograms);
}

TEST(builtin_native_pass_abort_or_error_inside_a_split_batch_leaves_a_usable_set_and_no_cache) {
  SplitCase c;
  c.maxActivationBytes = 1;
  // Abort when batch 2 is requested: batch 1 is still open in the set (closed after the next run).
  SplitRun const aborted = runSplit(c, 2);
  CHECK(aborted.failed);
  CHECK(aborted.cache.empty());
  CHECK(!aborted.histograms.empty());  // serialize() did not throw: no batch left open
  // An ONNX Runtime error in the second pass over batch 0 (runs 0-3 are its first pass).
  SplitRun const failed = runSplit(c, -1, 5);
  CHECK(failed.failed);
  CHECK(failed.cache.empty());
  CHECK(!failed.histograms.empty());
}

TEST(builtin_native_pass_run_error_is_a_model_error_and_writes_nothing) {
  Fixture f({input("x", {2, 2})}, 6);
  FakeHost host(*f.core, f.status, builtinOptions(0, false));
  auto fake = std::make_shared<FakeInference>();
  fake->failAt = 3;
  host.run.inference = fake;
  makeBuiltinBuilder()->build(host);
  CHECK(f.status.failed());
  CHECK(f.status.code() == RunErrorCode::kMODEL);
  CHECK(f.status.message().find("ONNX Runtime failed to run the model: boom at run 3") != std::string::npos);
  CHECK(f.source.written.empty());
  CHECK_EQ(fake->alive.load(), 0);
}

TEST(builtin_native_pass_abort_writes_nothing_and_releases_outputs) {
  Fixture f({input("x", {2, 2})}, 6);
  f.source.abortAt = 2;
  FakeHost host(*f.core, f.status, builtinOptions(0, false));
  auto fake = std::make_shared<FakeInference>();
  host.run.inference = fake;
  makeBuiltinBuilder()->build(host);
  CHECK(f.status.abortRequested());
  CHECK(f.source.written.empty());
  CHECK_EQ(fake->alive.load(), 0);
}

// ---- WorkerPool (parallel.h): the native pass's histogram threads ----

TEST(worker_pool_runs_every_item_once_per_job_on_its_threads_and_the_waiting_caller) {
  // Which thread takes which item is up to the scheduler (under valgrind one thread may take them all), so
  // the checks are what the pool guarantees: every item exactly once per job, only on the pool's threads or
  // the caller inside wait(), and a job whose caller does not wait is done by the pool's threads alone.
  std::set<std::thread::id> threadIds;
  std::mutex mutex;
  std::thread::id const caller = std::this_thread::get_id();
  {
    WorkerPool pool(3);
    // A job the caller does not help with: it waits on its own condition until all 50 items are done, and
    // only then calls wait(). (It gives up after ~30 s, so a pool whose threads do not work fails the checks
    // below instead of hanging.)
    std::condition_variable allDone;
    int done = 0;
    std::set<std::thread::id> poolIds;
    std::vector<int> counts(50, 0);
    std::vector<std::size_t> order(50);
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    pool.start(order, [&](std::size_t i) {
      std::lock_guard<std::mutex> lock(mutex);
      counts[i]++;
      poolIds.insert(std::this_thread::get_id());
      if (++done == 50) allDone.notify_all();
    });
    {
      std::unique_lock<std::mutex> lock(mutex);
      allDone.wait_for(lock, std::chrono::seconds(30), [&] { return done == 50; });
    }
    CHECK(pool.wait() >= 0.0);
    CHECK_EQ(done, 50);
    CHECK(std::all_of(counts.begin(), counts.end(), [](int c) { return c == 1; }));
    CHECK(poolIds.count(caller) == 0);
    CHECK(!poolIds.empty() && poolIds.size() <= 3);  // the pool's 3 threads at most

    for (int job = 0; job < 40; ++job) {
      auto jobCounts = std::make_shared<std::vector<std::atomic<int>>>(50);
      for (std::size_t i = 0; i < order.size(); ++i) order[i] = order.size() - 1 - i;
      pool.start(order, [&, jobCounts](std::size_t i) {
        (*jobCounts)[i]++;
        std::lock_guard<std::mutex> lock(mutex);
        threadIds.insert(std::this_thread::get_id());
      });
      CHECK(pool.wait() >= 0.0);
      int wrong = 0;
      for (auto const& c : *jobCounts) wrong += c.load() == 1 ? 0 : 1;
      CHECK_EQ(wrong, 0);
    }
    CHECK_EQ(pool.wait(), 0.0);  // no job: returns at once
    // Only the pool's threads and the waiting caller: the ids are a subset of those (the pool's threads are
    // the ones seen in the first job, plus at most the ones it did not happen to use there).
    threadIds.erase(caller);
    CHECK(threadIds.size() <= 3);
  }
}

TEST(worker_pool_caller_takes_unclaimed_items_while_it_waits) {
  // The pool's one thread blocks in the first item it takes until 19 items are done: only the waiting caller
  // can do them (it may even do all 20 if it claims first).
  WorkerPool pool(1);
  std::atomic<int> byCaller{0};
  std::thread::id const caller = std::this_thread::get_id();
  std::vector<std::size_t> order(20);
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  pool.start(order, [&](std::size_t) {
    if (std::this_thread::get_id() == caller) {
      byCaller++;
      return;
    }
    // (gives up after ~5 s, so that a pool whose caller does not help fails the check below instead of
    // hanging)
    for (int t = 0; byCaller.load() < 19 && t < 5000; ++t)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  CHECK(pool.wait() >= 0.0);
  CHECK(byCaller.load() >= 19);
}

TEST(worker_pool_rethrows_the_first_error_and_releases_the_job_before_wait_returns) {
  WorkerPool pool(2);
  auto held = std::make_shared<int>(7);
  std::weak_ptr<int> watch = held;
  std::atomic<int> ran{0};
  pool.start({0, 1, 2, 3, 4, 5, 6, 7}, [held, &ran](std::size_t i) {
    ran++;
    if (i == 2) throw std::runtime_error("item 2 failed");
  });
  held.reset();
  std::string message;
  try {
    pool.wait();
  } catch (std::exception const& e) {
    message = e.what();
  }
  CHECK_EQ(message, std::string("item 2 failed"));
  CHECK(watch.expired());  // the job's captures are gone once wait() returns
  // The pool stays usable after a failed job.
  std::atomic<int> sum{0};
  pool.start({1, 2, 3}, [&sum](std::size_t i) { sum += static_cast<int>(i); });
  pool.wait();
  CHECK_EQ(sum.load(), 6);
}

TEST(worker_pool_destructor_waits_for_the_job_in_flight) {
  std::atomic<int> done{0};
  {
    WorkerPool pool(2);
    pool.start({0, 1, 2, 3}, [&done](std::size_t) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      done++;
    });
  }
  CHECK_EQ(done.load(), 4);
}
