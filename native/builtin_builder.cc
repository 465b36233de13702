// The builtin builder ("builtin"): our own calibration pass, playing TensorRT's role with no GPU or TensorRT.
//
// It drives the calibrator exactly like TensorRT's builder does (readCalibrationCache -> getBatchSize ->
// getBatch until false -> writeCalibrationCache). After each batch it histograms the float network inputs
// straight from the batch's host memory, then asks JS (`process`) to run the batch through the FP32 model
// with ONNX Runtime and reads the returned activations in place into the run's HistogramSet (no copy, nothing
// kept). After the last batch it picks amax per tensor with the chosen algorithm and writes the cache text,
// in the order tensors were first seen (inputs, then activations in graph order).
//
// Threading / lifetime: build() runs on the run's builder thread. The HistogramSet is shared with JS
// (shared_ptr); JS does not touch it while the run is active. Tensors whose data is degenerate (all zero,
// only NaN/Inf, empty) get no cache entry, like tensors TensorRT has no scale for; JS reports them from the
// set.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "builder.h"
#include "cache_text.h"
#include "histogram.h"
#include "parallel.h"
#include "thresholds.h"

namespace trtc {
namespace {

double msSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

class BuiltinBuilder final : public Builder {
 public:
  void build(BuilderHost& host) noexcept override {
    try {
      run(host);
    } catch (std::exception const& e) {
      host.fail(RunErrorCode::kINTERNAL, std::string("builtin builder: ") + e.what());
    } catch (...) {
      host.fail(RunErrorCode::kINTERNAL, "builtin builder: unknown exception");
    }
  }

 private:
  static void run(BuilderHost& host) {
    BuilderOptions const& options = host.options();
    std::shared_ptr<HistogramSet> set = host.histograms();
    if (!set) {
      host.fail(RunErrorCode::kINTERNAL, "the builtin builder needs a HistogramSet (options.histograms)");
      return;
    }
    auto stringOption = [&](char const* key, char const* fallback) {
      auto it = options.strings.find(key);
      return it == options.strings.end() ? std::string(fallback) : it->second;
    };
    AmaxAlgorithm algorithm{};
    std::string const algorithmName = stringOption("algorithm", "entropy");
    if (!parseAmaxAlgorithm(algorithmName, algorithm)) {
      host.fail(RunErrorCode::kINTERNAL, "unknown amax algorithm '" + algorithmName + "'");
      return;
    }
    AmaxOptions amaxOptions;
    if (auto it = options.numbers.find("percentile"); it != options.numbers.end())
      amaxOptions.percentile = it->second;
    std::string const version = stringOption("tensorrtVersion", "100300");
    std::string const cacheAlgorithm = stringOption("cacheAlgorithm", "EntropyCalibration2");

    Calibrator& calibrator = host.calibrator();
    std::size_t length = 0;
    if (calibrator.readCalibrationCache(length) != nullptr) {
      host.setResultNumber("cacheHit", 1);
      return;
    }
    calibrator.getBatchSize();
    std::vector<InputDesc> const& inputs = host.inputs();
    std::vector<char const*> names = host.bindingNamePointers();
    std::vector<void*> bindings(names.size(), nullptr);
    double histogramMs = 0;
    double processMs = 0;
    while (calibrator.getBatch(bindings.data(), names.data(), static_cast<int32_t>(names.size()))) {
      auto t0 = std::chrono::steady_clock::now();
      for (std::size_t i = 0; i < inputs.size(); ++i) {
        if (inputs[i].dtype != "float32") continue;  // index inputs (int64 ids, masks) are never quantized
        set->add(inputs[i].name, static_cast<float const*>(host.hostBatch(i)),
                 inputs[i].bytes / sizeof(float));
      }
      histogramMs += msSince(t0);
      t0 = std::chrono::steady_clock::now();
      std::unique_ptr<HeldTensors> out = host.process(host.batchesDelivered() - 1);
      processMs += msSince(t0);
      if (!out) return;  // error or abort, already recorded
      t0 = std::chrono::steady_clock::now();
      // Tensors in parallel (each add is one tensor's, in batch order: the same histograms as one thread). A
      // tensor seen for the first time is created here first, so the set's order stays the graph order.
      for (std::size_t t = 0; t < out->size(); ++t) {
        if (!set->has(out->at(t).name)) set->add(out->at(t).name, nullptr, 0);
      }
      parallelFor(largestFirst(out->size(), [&](std::size_t t) { return out->at(t).count; }),
                  [&](std::size_t t) {
                    TensorView const& view = out->at(t);
                    set->add(view.name, view.data, view.count);
                  });
      histogramMs += msSince(t0);
      if (host.stopped()) return;
    }
    if (host.stopped()) return;
    // End of data: process(-1) lets JS hand over what it accumulated elsewhere before the thresholds — the
    // builtin backend's ONNX Runtime worker histograms the activations itself (sub-batches bound its memory)
    // and merges its set into this one now. Tensors it returns are added like any batch's.
    {
      auto t0 = std::chrono::steady_clock::now();
      std::unique_ptr<HeldTensors> flush = host.process(-1);
      processMs += msSince(t0);
      if (!flush) return;
      for (std::size_t t = 0; t < flush->size(); ++t)
        set->add(flush->at(t).name, flush->at(t).data, flush->at(t).count);
    }
    if (host.stopped()) return;

    auto t0 = std::chrono::steady_clock::now();
    std::vector<CacheEntry> entries;
    double degenerate = 0;
    std::vector<std::string> const tensorNames = set->names();
    std::vector<Histogram> histograms;
    histograms.reserve(tensorNames.size());
    for (std::string const& name : tensorNames) histograms.push_back(set->get(name));
    // Thresholds of different tensors in parallel (the largest histograms first); entries keep the set's
    // order.
    std::vector<AmaxResult> results(tensorNames.size());
    parallelFor(largestFirst(tensorNames.size(), [&](std::size_t i) { return histograms[i].nbins(); }),
                [&](std::size_t i) {
                  if (!host.stopped()) results[i] = computeAmax(histograms[i], algorithm, amaxOptions);
                });
    if (host.stopped()) return;
    for (std::size_t i = 0; i < tensorNames.size(); ++i) {
      if (results[i].usable()) {
        entries.push_back(CacheEntry{tensorNames[i], results[i].amax});
      } else {
        degenerate += 1;
      }
    }
    host.setResultNumber("thresholdMs", msSince(t0));
    host.setResultNumber("histogramMs", histogramMs);
    host.setResultNumber("processMs", processMs);
    host.setResultNumber("degenerateTensors", degenerate);
    host.setResultNumber("cacheEntries", static_cast<double>(entries.size()));
    if (host.stopped()) return;
    std::string const text = formatCacheText(version, cacheAlgorithm, entries);
    calibrator.writeCalibrationCache(text.data(), text.size());
  }
};

}  // namespace

std::unique_ptr<Builder> makeBuiltinBuilder() { return std::make_unique<BuiltinBuilder>(); }

}  // namespace trtc
