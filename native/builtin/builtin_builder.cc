// The builtin builder ("builtin", builtin_builder.h): our own calibration pass, playing TensorRT's role with
// no GPU or TensorRT.
//
// It drives the calibrator exactly like TensorRT's builder does (readCalibrationCache -> getBatchSize ->
// getBatch until false -> writeCalibrationCache). After each batch it histograms the float network inputs
// straight from the batch's host memory, then runs the batch through the FP32 model (its own ONNX Runtime
// session, or the JS `process` callback) and reads the activations in place into the run's HistogramSet (no
// copy, nothing kept). After the last batch it picks amax per tensor with the chosen algorithm and writes the
// cache text, in the order tensors were first seen (inputs, then activations in graph order).
//
// Threading / lifetime: build() runs on the run's builder thread. The HistogramSet is shared with JS
// (shared_ptr); JS does not touch it while the run is active. A split batch is open in the set (beginBatch)
// only inside build(): NativePass closes it, or abandons it on an error or abort, before build() returns.
// Tensors whose data is degenerate (all zero, only NaN/Inf, empty) get no cache entry, like tensors TensorRT
// has no scale for; they are listed in result.tensorStatuses.
#include "builtin/builtin_builder.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <functional>
#include <mutex>
#include <numeric>
#include <string>
#include <vector>

#include "builtin/derived.h"
#include "builtin/histogram.h"
#include "builtin/inference.h"
#include "builtin/parallel.h"
#include "builtin/thresholds.h"
#include "core/cache_text.h"
#include "core/run_options.h"

namespace trtc {
namespace {

double msSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// The order in which a run's tensors are added in parallel (largest first). Tensors seen for the first time
// are created first, in the order they come in, so the set's order stays the graph's. Each add is one
// tensor's, and a tensor's adds happen in call order: the same histograms as one thread.
template <typename At>
std::vector<std::size_t> prepareAdds(HistogramSet& set, std::size_t count, At const& at) {
  for (std::size_t t = 0; t < count; ++t) set.add(at(t).name, nullptr, 0);  // creates a missing entry only
  return largestFirst(count, [&](std::size_t t) { return at(t).count; });
}

// Values a fetched tensor view stands for, derived tensors included (derived.h).
std::size_t valuesOf(TensorView const& view, DerivationPlan const* plan) {
  return valuesWithDerived(view.count, plan == nullptr ? nullptr : plan->group(view.name));
}

// Adds every tensor of `held` to the set, tensors in parallel.
void addTensors(HistogramSet& set, HeldTensors const& held) {
  auto at = [&](std::size_t t) -> TensorView const& { return held.at(t); };
  parallelFor(prepareAdds(set, held.size(), at), [&](std::size_t t) {
    TensorView const& view = at(t);
    set.add(view.name, view.data, view.count);
  });
}

// The names of the tensors one run's outputs add to the set: the plan's (derived ones included, graph order),
// or the fetched ones.
std::vector<std::string> namesOf(InferenceOutputs const& out) {
  if (DerivationPlan const* plan = out.derivations()) return plan->order();
  std::vector<std::string> names;
  for (TensorView const& v : out.tensors()) names.push_back(v.name);
  return names;
}

// The builtin builder's own ONNX Runtime pass (RunOptions::inference). Each batch runs on this thread, as
// sub-batches of images whose activations stay under `maxActivationBytes` when the batch dimension is
// dynamic. The sub-batch size is decided once, from a probe run of the first image: a batch that fits runs
// whole (the probe only measured), a larger one is split the same way every batch.
//
// The histograms do not depend on the split: they are the ones TensorRT builds, one update per batch
// (histogram.h, "Batches in parts"). A split batch is given to the set as one batch in parts
// (HistogramSet::beginBatch). Tensors without a bin width yet (all of them in the first batch) only collect
// their max|x| over the batch's runs; then the batch runs again and its values are binned at the width that
// max defines. That second pass happens once for a fresh set (the first batch), and later only when a tensor
// that was all zeros so far gets nonzero values; it holds no more activations than the first (each run's
// outputs are scanned and dropped). In the first batch the probe's run counts as image 0's part.
//
// Pipelined: a run's activations are added to the set by a pool of `histogramThreads` threads (kept for the
// whole pass) while this thread runs the next sub-batch through ONNX Runtime, so the cores ONNX Runtime
// leaves idle count histograms; once its run is done, this thread takes the job's remaining tensors too
// (WorkerPool::wait). Each tensor still gets its adds one run at a time, in run order (a run's adds finish
// before the next run's start). Two runs' activations are alive at a time. A split batch that cannot need a
// second pass is closed after the next run, once its adds are done (finish()), so the pipeline does not
// drain between batches. Tensors the outputs' DerivationPlan computes from a fetched one (derived.h) are
// added with it, chunk by chunk, and count as fetched for the split.
class NativePass {
 public:
  NativePass(BuilderHost& host, HistogramSet& set, double maxActivationBytes, bool splittable,
             std::size_t histogramThreads)
      : mHost(host),
        mSet(set),
        mMaxBytes(maxActivationBytes),
        mSplittable(splittable),
        mHistogramThreads(histogramThreads) {}
  ~NativePass() {
    join();
    // An error or abort in the middle of a split batch: the set keeps what was binned, usable again.
    if (mBatchOpen) mSet.abandonBatch();
  }
  NativePass(NativePass const&) = delete;
  NativePass& operator=(NativePass const&) = delete;

  // False when the run failed (recorded) or was aborted.
  bool runBatch(Inference& inference) {
    std::vector<InputDesc> const& inputs = mHost.inputs();
    int64_t const batch = inputs.empty() || inputs[0].shape.empty() ? 1 : inputs[0].shape[0];
    std::unique_ptr<InferenceOutputs> probe;
    if (mSubBatch == 0) {
      if (!mSplittable || mMaxBytes <= 0 || batch <= 1) {
        mSubBatch = std::max<int64_t>(batch, 1);
      } else {
        probe = runSlice(inference, 0, 1);
        if (!probe) return false;
        // Derived tensors count as if fetched: the split does not depend on the plan.
        double perImage = 0;
        for (TensorView const& v : probe->tensors())
          perImage += static_cast<double>(valuesOf(v, probe->derivations())) * sizeof(float);
        double const fit = std::floor(mMaxBytes / std::max(perImage, 1.0));
        mSubBatch = static_cast<int64_t>(std::max(1.0, std::min(static_cast<double>(batch), fit)));
        if (mSubBatch >= batch) probe.reset();  // the batch runs whole: the probe only measured
      }
    }
    if (mSubBatch >= batch) {
      std::unique_ptr<InferenceOutputs> out = runSlice(inference, 0, batch);
      if (!finish() || !out) return false;
      startHistograms(std::move(out));
      return true;
    }
    // First pass: the probe's run as image 0's part (first batch only), then sub-batches of the rest.
    bool secondPassPossible = false;
    int64_t start = 0;
    if (probe) {
      if (!startPart(std::move(probe), secondPassPossible)) return false;
      start = 1;
    }
    for (; start < batch; start += mSubBatch) {
      if (!startPart(runSlice(inference, start, std::min(mSubBatch, batch - start)), secondPassPossible))
        return false;
    }
    if (!secondPassPossible) {
      mCloseDeferred = true;
      return true;
    }
    if (!finish()) return false;
    while (mSet.endPass()) {
      for (start = 0; start < batch; start += mSubBatch) {
        std::unique_ptr<InferenceOutputs> out =
            runSlice(inference, start, std::min(mSubBatch, batch - start));
        if (!finish() || !out) return false;
        startHistograms(std::move(out));
        mSecondPassRuns += 1;
      }
      if (!finish()) return false;
    }
    mBatchOpen = false;
    return true;
  }

  // Waits for the activations in flight to be in the set (and closes a split batch left open for that).
  // False when that failed (recorded) or the run stopped.
  bool finish() {
    join();
    if (!mHistogramError.empty()) {
      mHost.fail(RunErrorCode::kINTERNAL, "histograms: " + mHistogramError);
      mHistogramError.clear();
      return false;
    }
    if (mCloseDeferred) {
      mCloseDeferred = false;
      mBatchOpen = mSet.endPass();  // no tensor was without a width: this cannot ask for another pass
      if (mBatchOpen) {
        mHost.fail(RunErrorCode::kINTERNAL, "histograms: a batch asked for a second pass it cannot get");
        return false;
      }
    }
    return !mHost.stopped();
  }

  double inferenceMs() const { return mInferenceMs; }
  double histogramMs() const { return mHistogramMs; }
  int64_t subBatch() const { return mSubBatch; }
  // Runs of the second pass over split batches (histogram.h "Batches in parts").
  int64_t secondPassRuns() const { return mSecondPassRuns; }

 private:
  // One part of a split batch's first pass: waits for the previous run's adds (closing the previous batch if
  // it was left open), opens the batch with its first part, and starts this part's adds.
  bool startPart(std::unique_ptr<InferenceOutputs> out, bool& secondPassPossible) {
    if (!finish() || !out) return false;
    if (!mBatchOpen) {
      secondPassPossible = mSet.beginBatch(namesOf(*out));
      mBatchOpen = true;
    }
    startHistograms(std::move(out));
    return true;
  }

  // One run over images [start, start + count) of the current batch (every input's first dimension is the
  // batch).
  std::unique_ptr<InferenceOutputs> runSlice(Inference& inference, int64_t start, int64_t count) {
    std::vector<InputDesc> const& inputs = mHost.inputs();
    std::vector<InferenceInput> feeds;
    feeds.reserve(inputs.size());
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      InputDesc const& desc = inputs[i];
      int64_t const batch = desc.shape.empty() ? 1 : std::max<int64_t>(desc.shape[0], 1);
      std::size_t const perImage = desc.bytes / static_cast<std::size_t>(batch);
      InferenceInput in;
      in.name = desc.name;
      in.dtype = desc.dtype;
      in.dims = desc.shape;
      if (!in.dims.empty()) in.dims[0] = count;
      in.data = static_cast<char const*>(mHost.hostBatch(i)) + static_cast<std::size_t>(start) * perImage;
      in.bytes = static_cast<std::size_t>(count) * perImage;
      feeds.push_back(std::move(in));
    }
    auto const t0 = std::chrono::steady_clock::now();
    std::string error;
    std::unique_ptr<InferenceOutputs> out = inference.run(feeds, error);
    mInferenceMs += msSince(t0);
    if (mHost.stopped()) return nullptr;
    if (!out) {
      mHost.fail(RunErrorCode::kMODEL, "ONNX Runtime failed to run the model: " +
                                           (error.empty() ? std::string("unknown error") : error));
    }
    return out;
  }

  void startHistograms(std::unique_ptr<InferenceOutputs> out) {
    std::shared_ptr<InferenceOutputs> held(std::move(out));
    std::vector<TensorView> const& views = held->tensors();
    DerivationPlan const* plan = held->derivations();
    if (!mPool)
      mPool = std::make_unique<WorkerPool>(mHistogramThreads > 0 ? mHistogramThreads : defaultThreadCount());
    // Derived tensors are created in graph order with the fetched ones (the cache lists the set's order).
    if (plan != nullptr && !mPlanEntriesCreated) {
      createPlanEntries(mSet, *plan);
      mPlanEntriesCreated = true;
    }
    struct Weighted {
      std::string const& name;
      std::size_t count;
    };
    mPool->start(prepareAdds(mSet, views.size(),
                             [&](std::size_t t) {
                               return Weighted{views[t].name, valuesOf(views[t], plan)};
                             }),
                 [this, held, plan](std::size_t t) {
                   if (mHost.stopped()) return;
                   TensorView const& view = held->tensors()[t];
                   addWithDerived(mSet, view.name, view.data, view.count,
                                  plan == nullptr ? nullptr : plan->group(view.name));
                 });
  }

  void join() {
    if (!mPool) return;
    try {
      mHistogramMs += mPool->wait();
    } catch (std::exception const& e) {
      mHistogramError = e.what();
    } catch (...) {
      mHistogramError = "unknown exception";
    }
  }

  BuilderHost& mHost;
  HistogramSet& mSet;
  double mMaxBytes;
  bool mSplittable;
  std::size_t mHistogramThreads;
  int64_t mSubBatch{0};
  int64_t mSecondPassRuns{0};
  double mInferenceMs{0};
  double mHistogramMs{0};
  std::string mHistogramError;  // a histogram job's error, set by join()
  // Histogram threads for the whole pass (started with the first run's activations).
  std::unique_ptr<WorkerPool> mPool;
  bool mPlanEntriesCreated{false};
  bool mBatchOpen{false};      // a split batch is open in the set (beginBatch)
  bool mCloseDeferred{false};  // ... and finish() closes it once its adds are done
};

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
    std::shared_ptr<HistogramSet> const& set = host.options().histograms;
    std::optional<BuiltinOptions> const& builtin = host.options().builtin;
    if (!set || !builtin) {
      host.fail(RunErrorCode::kINTERNAL, "the builtin builder needs a HistogramSet and its builtin options");
      return;
    }
    BuiltinOptions const& options = *builtin;
    AmaxOptions amaxOptions;
    amaxOptions.percentile = options.percentile;

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
    std::shared_ptr<Inference> const& inference = host.options().inference;
    NativePass pass(host, *set, options.maxActivationBytes, options.splittable, options.histogramThreads);
    while (calibrator.getBatch(bindings.data(), names.data(), static_cast<int32_t>(names.size()))) {
      auto t0 = std::chrono::steady_clock::now();
      for (std::size_t i = 0; i < inputs.size(); ++i) {
        if (inputs[i].dtype != "float32") continue;  // index inputs (int64 ids, masks) are never quantized
        set->add(inputs[i].name, static_cast<float const*>(host.hostBatch(i)),
                 inputs[i].bytes / sizeof(float));
      }
      histogramMs += msSince(t0);
      if (inference) {
        if (!pass.runBatch(*inference)) return;  // error or abort, already recorded
        continue;
      }
      t0 = std::chrono::steady_clock::now();
      std::unique_ptr<HeldTensors> out = host.process(host.batchesDelivered() - 1);
      processMs += msSince(t0);
      if (!out) return;  // error or abort, already recorded
      t0 = std::chrono::steady_clock::now();
      addTensors(*set, *out);
      histogramMs += msSince(t0);
      if (host.stopped()) return;
    }
    if (inference && !pass.finish()) return;
    if (host.stopped()) return;
    if (inference) {
      histogramMs += pass.histogramMs();
      host.setResultNumber("inferenceMs", pass.inferenceMs());
      host.setResultNumber("subBatch", static_cast<double>(pass.subBatch()));
      host.setResultNumber("secondPassRuns", static_cast<double>(pass.secondPassRuns()));
    } else {
      // End of data: process(-1) lets JS hand over what it accumulated elsewhere before the thresholds — the
      // ONNX Runtime worker (lib/backends/builtin/ort-worker.ts) histograms the activations itself and merges
      // its set into this one now. Tensors it returns are added like any batch's.
      auto t0 = std::chrono::steady_clock::now();
      std::unique_ptr<HeldTensors> flush = host.process(-1);
      processMs += msSince(t0);
      if (!flush) return;
      addTensors(*set, *flush);
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
                  if (!host.stopped())
                    results[i] = computeAmax(histograms[i], options.algorithm, amaxOptions);
                });
    if (host.stopped()) return;
    // result.tensorStatuses: every tensor whose status is not "ok" (constant, all zero, not finite, empty),
    // so JS names them without recomputing every threshold.
    std::vector<TensorStatus> statuses;
    for (std::size_t i = 0; i < tensorNames.size(); ++i) {
      if (results[i].usable()) {
        entries.push_back(CacheEntry{tensorNames[i], results[i].amax});
      } else {
        degenerate += 1;
      }
      if (results[i].status != AmaxStatus::kOK) {
        statuses.push_back(TensorStatus{tensorNames[i], amaxStatusName(results[i].status)});
      }
    }
    host.setTensorStatuses(std::move(statuses));
    host.setResultNumber("thresholdMs", msSince(t0));
    host.setResultNumber("histogramMs", histogramMs);
    host.setResultNumber("processMs", processMs);
    host.setResultNumber("degenerateTensors", degenerate);
    host.setResultNumber("cacheEntries", static_cast<double>(entries.size()));
    if (host.stopped()) return;
    std::string const text = formatCacheText(options.tensorrtVersion, options.cacheAlgorithm, entries);
    calibrator.writeCalibrationCache(text.data(), text.size());
  }
};

}  // namespace

std::unique_ptr<Builder> makeBuiltinBuilder() { return std::make_unique<BuiltinBuilder>(); }

}  // namespace trtc
