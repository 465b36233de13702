// TensorRT's calibrator contract as the TensorRT builder exercises it, without TensorRT: the cache buffer's
// lifetime, what counts as a cache hit when TensorRT rejects a cache, the forwarding adapter (instantiated
// over a stand-in for nvinfer1::IInt8Calibrator with the same virtual signatures) and the library version
// numbers.
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/buffers.h"
#include "core/calibrator_core.h"
#include "tensorrt/calibrator_forwarder.h"
#include "tensorrt/engine_builder.h"
#include "test_framework.h"

namespace {

using namespace trtc;

InputDesc floatInput(std::string name, std::vector<int64_t> shape) {
  InputDesc in;
  in.name = std::move(name);
  in.shape = std::move(shape);
  in.dtype = "float32";
  in.elementSize = 4;
  size_t elements = 1;
  for (int64_t d : in.shape) elements *= static_cast<size_t>(d);
  in.bytes = elements * 4;
  return in;
}

// A synchronous source with a cache: fills each batch with its index, exhausts after `batches`, counts reads
// and writes.
class CacheSource final : public BatchSource {
 public:
  CacheSource(std::string cacheText, int64_t batches)
      : mCache(cacheText.begin(), cacheText.end()), mBatches(batches) {}

  void startFill(int32_t slot, int64_t batchIndex) noexcept override {
    mResult = batchIndex < mBatches ? FillStatus::kFILLED : FillStatus::kEXHAUSTED;
    if (mResult == FillStatus::kFILLED) std::memset(buffers->host(slot, 0), static_cast<int>(batchIndex), 4);
  }
  FillStatus waitFill() noexcept override { return mResult; }
  bool readCache(std::vector<uint8_t>& out) noexcept override {
    ++reads;
    out = mCache;
    return true;
  }
  bool writeCache(uint8_t const* data, size_t length) noexcept override {
    ++writes;
    written.assign(reinterpret_cast<char const*>(data), length);
    return true;
  }

  BatchBuffers* buffers{nullptr};
  int reads{0};
  int writes{0};
  std::string written;

 private:
  std::vector<uint8_t> mCache;
  int64_t mBatches;
  FillStatus mResult{FillStatus::kFAILED};
};

struct Run {
  Run(std::string cacheText, int64_t batches, int32_t batchSize = 4) : source(std::move(cacheText), batches) {
    CalibratorConfig config;
    config.inputs = {floatInput("x", {batchSize, 1})};
    config.batchSize = batchSize;
    config.memory = MemoryKind::kHOST;
    core = std::make_unique<CalibratorCore>(config, source, status);
    source.buffers = &core->buffers();
  }
  // getBatch until it returns false, as TensorRT's builder does; returns the number of batches delivered.
  int drive() {
    char const* names[] = {"x"};
    void* bindings[1] = {nullptr};
    int n = 0;
    while (core->getBatch(bindings, names, 1)) ++n;
    return n;
  }
  RunStatus status;
  CacheSource source;
  std::unique_ptr<CalibratorCore> core;
};

constexpr char kCACHE[] = "TRT-8601-EntropyCalibration2\nx: 3c010a14\n";

}  // namespace

TEST(read_calibration_cache_reads_the_source_once_and_every_pointer_stays_valid) {
  Run run(kCACHE, 2);
  size_t first = 0;
  void const* p1 = run.core->readCalibrationCache(first);
  REQUIRE(p1 != nullptr);
  size_t second = 0;
  void const* p2 = run.core->readCalibrationCache(second);
  // TensorRT may ask more than once; the first pointer must still hold the cache (the buffer is never
  // reused).
  CHECK(p1 == p2);
  CHECK_EQ(first, second);
  CHECK_EQ(run.source.reads, 1);
  CHECK(std::string(static_cast<char const*>(p1), first) == kCACHE);
}

TEST(a_cache_tensorrt_rejects_and_then_calibrates_over_is_no_hit) {
  // TensorRT rejects a cache of another version or algorithm and calls getBatch as if there were none.
  Run run(kCACHE, 3);
  size_t length = 0;
  REQUIRE(run.core->readCalibrationCache(length) != nullptr);
  CHECK_EQ(run.drive(), 3);
  std::string const fresh = "TRT-100300-EntropyCalibration2\nx: 3c000000\n";
  run.core->writeCalibrationCache(fresh.data(), fresh.size());
  CHECK(!run.core->cacheHit());
  CHECK(run.core->cacheRejected());
  CHECK(run.core->cacheWritten());
  CHECK(run.source.written == fresh);
}

TEST(a_cache_used_without_get_batch_is_a_hit_and_writing_it_back_persists_nothing) {
  Run run(kCACHE, 3);
  size_t length = 0;
  void const* bytes = run.core->readCalibrationCache(length);
  REQUIRE(bytes != nullptr);
  // Some TensorRT versions write the cache they just read back: the same bytes.
  run.core->writeCalibrationCache(bytes, length);
  CHECK(run.core->cacheHit());
  CHECK(!run.core->cacheRejected());
  CHECK(!run.core->cacheWritten());
  CHECK_EQ(run.source.writes, 0);
  // Different bytes after a hit are persisted.
  std::string const other = "TRT-8601-EntropyCalibration2\nx: 3c010a15\n";
  run.core->writeCalibrationCache(other.data(), other.size());
  CHECK(run.core->cacheWritten());
  CHECK(run.source.written == other);
}

TEST(no_cache_is_neither_hit_nor_rejection) {
  Run run("", 2);
  size_t length = 7;
  CHECK(run.core->readCalibrationCache(length) == nullptr);
  CHECK_EQ(length, size_t{0});
  CHECK_EQ(run.drive(), 2);
  CHECK(!run.core->cacheHit());
  CHECK(!run.core->cacheRejected());
}

namespace {

// nvinfer1::IInt8Calibrator's virtuals with their exact signatures (8.5-10.x), without TensorRT.
class StandInCalibrator {
 public:
  virtual ~StandInCalibrator() = default;
  virtual int32_t getBatchSize() const noexcept = 0;
  virtual bool getBatch(void* bindings[], char const* names[], int32_t nbBindings) noexcept = 0;
  virtual void const* readCalibrationCache(std::size_t& length) noexcept = 0;
  virtual void writeCalibrationCache(void const* ptr, std::size_t length) noexcept = 0;
};

}  // namespace

TEST(the_tensorrt_adapter_returns_batch_size_1_and_forwards_the_rest_to_the_core) {
  Run run("", 2, /*batchSize=*/4);
  std::unique_ptr<StandInCalibrator> adapter =
      std::make_unique<trt::CalibratorForwarder<StandInCalibrator>>(*run.core);
  // Explicit-batch networks: the batch is in the input dims, TensorRT gets 1 as from NVIDIA's trtexec.
  CHECK_EQ(adapter->getBatchSize(), 1);
  CHECK_EQ(run.core->getBatchSize(), 4);
  size_t length = 0;
  CHECK(adapter->readCalibrationCache(length) == nullptr);
  char const* names[] = {"x"};
  void* bindings[1] = {nullptr};
  REQUIRE(adapter->getBatch(bindings, names, 1));
  CHECK(bindings[0] == run.core->buffers().host(run.core->currentSlot(), 0));
  CHECK(adapter->getBatch(bindings, names, 1));
  CHECK(!adapter->getBatch(bindings, names, 1));  // exhausted after 2
  std::string const text = "TRT-8601-EntropyCalibration2\n";
  adapter->writeCalibrationCache(text.data(), text.size());
  CHECK(run.source.written == text);
  CHECK_EQ(run.core->batchesDelivered(), int64_t{2});
}

TEST(infer_lib_version_numbers_decode_for_both_encodings) {
  CHECK(formatInferLibVersion(8503) == "8.5.3");  // TensorRT <= 9: MAJOR*1000 + MINOR*100 + PATCH
  CHECK(formatInferLibVersion(8601) == "8.6.1");
  CHECK(formatInferLibVersion(9200) == "9.2.0");
  CHECK(formatInferLibVersion(100000) == "10.0.0");  // TensorRT >= 10: MAJOR*10000 + MINOR*100 + PATCH
  CHECK(formatInferLibVersion(100300) == "10.3.0");
  CHECK(formatInferLibVersion(101601) == "10.16.1");
  CHECK(formatInferLibVersion(110100) == "11.1.0");
  CHECK(formatInferLibVersion(0).empty());
  CHECK(tensorrtLibraryVersion().empty());  // this binary has no TensorRT
}
