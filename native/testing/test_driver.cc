// The test build's builders, "test" and "sum" (test_driver.h).
#include "testing/test_driver.h"

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "testing/test_cuda.h"

namespace trtc {
namespace {

// Drives the calibrator like TensorRT's builder: read cache; on a miss getBatchSize once, then getBatch until
// false; `perBatch` runs after each successful getBatch and returns false to stop. Returns true when
// calibration ran to the end (no cache hit, not stopped).
template <typename PerBatch>
bool driveLikeTensorRT(BuilderHost& host, TestRecord& record, PerBatch&& perBatch) {
  Calibrator& calibrator = host.calibrator();
  size_t length = 0;
  record.trace.emplace_back("readCalibrationCache");
  if (calibrator.readCalibrationCache(length) != nullptr && length > 0) return false;
  if (host.stopped()) return false;
  record.trace.emplace_back("getBatchSize");
  if (calibrator.getBatchSize() <= 0) {
    host.fail(RunErrorCode::kINTERNAL, "getBatchSize returned a non-positive batch size");
    return false;
  }
  std::vector<char const*> names = host.bindingNamePointers();
  std::vector<void*> bindings(names.size(), nullptr);
  while (true) {
    record.trace.emplace_back("getBatch");
    if (!calibrator.getBatch(bindings.data(), names.data(), static_cast<int32_t>(names.size()))) break;
    if (!perBatch(bindings, names)) break;
  }
  return !host.stopped();
}

class TestDriver final : public Builder {
 public:
  TestDriver(TestRecord& record, bool capture) : mRecord(record), mCapture(capture) {}

  void build(BuilderHost& host) noexcept override {
    try {
      std::map<std::string, size_t> bytesByName;
      for (InputDesc const& in : host.inputs()) bytesByName[in.name] = in.bytes;
      bool const completed = driveLikeTensorRT(
          host, mRecord, [&](std::vector<void*> const& bindings, std::vector<char const*> const& names) {
            if (!mCapture) return true;
            for (size_t i = 0; i < names.size(); ++i) {
              size_t const bytes = bytesByName[names[i]];
              std::vector<uint8_t> copy(bytes);
              bool const onDevice = isDevicePointer(bindings[i]);
              copyToHost(copy.data(), bindings[i], bytes);
              mRecord.captures.push_back(
                  TestRecord::Capture{host.batchesDelivered() - 1, names[i], std::move(copy), onDevice});
            }
            return true;
          });
      if (!completed) return;
      // The driver's "cache": one line per batch count, so tests can tell a written cache from a read one.
      std::string const text = "TRT-0-TestDriver\nbatches: " + std::to_string(host.batchesDelivered()) + "\n";
      mRecord.trace.emplace_back("writeCalibrationCache");
      host.calibrator().writeCalibrationCache(text.data(), text.size());
    } catch (CudaError const& e) {
      host.fail(RunErrorCode::kCUDA, e.what());
    } catch (std::exception const& e) {
      host.fail(RunErrorCode::kINTERNAL, std::string("test driver: ") + e.what());
    }
  }

 private:
  TestRecord& mRecord;
  bool mCapture;
};

class SumBuilder final : public Builder {
 public:
  explicit SumBuilder(TestRecord& record) : mRecord(record) {}

  void build(BuilderHost& host) noexcept override {
    try {
      std::map<std::string, double> sums;
      bool const completed =
          driveLikeTensorRT(host, mRecord, [&](std::vector<void*> const&, std::vector<char const*> const&) {
            std::unique_ptr<HeldTensors> out = host.process(host.batchesDelivered() - 1);
            if (!out) return false;
            for (size_t t = 0; t < out->size(); ++t) {
              TensorView const& view = out->at(t);
              double sum = 0;
              for (size_t k = 0; k < view.count; ++k) sum += view.data[k];
              sums[view.name] += sum;
            }
            return true;  // `out` is released here, on the builder thread; the bridge unpins on the JS thread
          });
      if (!completed) return;
      std::string text = "TRT-0-SumCalibration\n";
      char number[64];
      for (auto const& [name, sum] : sums) {
        std::snprintf(number, sizeof(number), "%.9g", sum);
        text += name + ": " + number + "\n";
      }
      mRecord.trace.emplace_back("writeCalibrationCache");
      host.calibrator().writeCalibrationCache(text.data(), text.size());
    } catch (std::exception const& e) {
      host.fail(RunErrorCode::kINTERNAL, std::string("sum builder: ") + e.what());
    }
  }

 private:
  TestRecord& mRecord;
};

}  // namespace

std::unique_ptr<Builder> makeTestDriver(TestRecord& record, bool capture) {
  return std::make_unique<TestDriver>(record, capture);
}
std::unique_ptr<Builder> makeSumBuilder(TestRecord& record) { return std::make_unique<SumBuilder>(record); }

}  // namespace trtc
