// CalibratorCore: the one implementation of trtc::Calibrator (calibrator.h) that every builder drives.
//
// It owns the run's batch memory (BatchBuffers), asks a BatchSource (the TypeScript BatchFactory behind the
// JS bridge, or a C++ source in core_tests) to fill host slots, uploads them to the device on its own stream
// and hands out bindings by name. It is pure C++ (no Node-API) so the core_tests binary links it.
//
// Threading / lifetime: constructed, driven and destroyed on the run's builder thread. The only members
// touched from other threads are inside RunStatus (atomics + a mutex): the JS thread sets abort and records
// JS-side errors there. The BatchSource outlives the core. Prefetch: after batch k is taken, the fill of
// batch k+1 into the other slot is started before the upload of batch k is awaited, so the factory works
// while batch k is copied and while the builder consumes it. The slot being filled is never read by native
// code until that fill has settled; the slot handed out is never given to the factory until the next
// getBatch.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/buffers.h"
#include "core/calibrator.h"
#include "core/run_error.h"

namespace trtc {

// First-error-wins status and the abort flag of one run, shared by the builder thread and the JS thread.
class RunStatus {
 public:
  // Records the error unless one was recorded before. Returns true when this one was recorded.
  bool fail(RunErrorCode code, std::string message) noexcept;
  bool failed() const noexcept { return mFailed.load(std::memory_order_acquire); }
  void requestAbort() noexcept { mAbort.store(true, std::memory_order_release); }
  bool abortRequested() const noexcept { return mAbort.load(std::memory_order_acquire); }
  // The abort flag itself, for code that polls it (EngineBuildCallbacks::abort).
  std::atomic<bool> const& abortFlag() const noexcept { return mAbort; }
  // True once the run must deliver no more batches (error or abort).
  bool stopped() const noexcept { return failed() || abortRequested(); }
  RunErrorCode code() const noexcept;
  std::string message() const;

 private:
  mutable std::mutex mMutex;
  std::atomic<bool> mFailed{false};
  std::atomic<bool> mAbort{false};
  RunErrorCode mCode{RunErrorCode::kNONE};
  std::string mMessage;
};

// What a fill ended with.
enum class FillStatus : int32_t { kFILLED, kEXHAUSTED, kFAILED };

// Where batches and the cache come from. Implemented by the JS bridge (run.cc) and by tests. All methods are
// called on the builder thread and may block; failures are recorded in the RunStatus before returning.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // Starts filling host slot `slot` (BatchBuffers::host(slot, i) for every input) with batch `batchIndex`.
  // At most one fill is outstanding; waitFill() ends it.
  virtual void startFill(int32_t slot, int64_t batchIndex) noexcept = 0;
  // Waits for the outstanding fill. kFAILED means an error was recorded (or the run was aborted).
  virtual FillStatus waitFill() noexcept = 0;
  // Reads the cache into `out` (left empty when there is none). False on error (recorded).
  virtual bool readCache(std::vector<uint8_t>& out) noexcept = 0;
  // Persists the finished cache. False on error (recorded).
  virtual bool writeCache(uint8_t const* data, size_t length) noexcept = 0;
  // A batch was delivered to the builder (for progress). Must not block.
  virtual void batchDelivered(int64_t batchesDone) noexcept {}
};

// Everything the core needs, copied from the JS options before the builder thread starts (part of RunOptions,
// run_options.h). Every field is set from the options; the initializers only keep the struct deterministic.
struct CalibratorConfig {
  std::vector<InputDesc> inputs;  // the slots, in the factory's declaration order
  int32_t batchSize{0};
  CalibrationAlgo algorithm{CalibrationAlgo::kENTROPY_CALIBRATION_2};
  MemoryKind memory{MemoryKind::kAUTO};
  int32_t deviceIndex{0};
  bool prefetch{false};  // fill batch k+1 while batch k is uploaded and consumed
#if TRTC_TEST_HOOKS
  std::string injectCudaError;  // test build only: fail the first upload with this CUDA error name
#endif
};

// Timings gathered while the run drives the core (seconds, builder thread).
struct CoreTimings {
  double getBatch{0};  // inside getBatch in total
  double upload{0};    // inside enqueueUpload + synchronize
  double waitFill{0};  // waiting for the factory
};

class CalibratorCore final : public Calibrator {
 public:
  // Allocates the batch memory (throws CudaError / std::bad_alloc). `source` and `status` outlive the core.
  CalibratorCore(CalibratorConfig config, BatchSource& source, RunStatus& status);
  ~CalibratorCore() override;

  int32_t getBatchSize() const noexcept override;
  bool getBatch(void* bindings[], char const* names[], int32_t nbBindings) noexcept override;
  void const* readCalibrationCache(std::size_t& length) noexcept override;
  void writeCalibrationCache(void const* ptr, std::size_t length) noexcept override;
  CalibrationAlgo getAlgorithm() const noexcept override { return mConfig.algorithm; }

  // ---- for builders and the run (builder thread) ----
  BatchBuffers& buffers() noexcept { return *mBuffers; }
  CalibratorConfig const& config() const noexcept { return mConfig; }
  // Host slot holding the batch getBatch returned last (-1 before the first). Builders that read host data
  // (the builtin builder) read BatchBuffers::host(currentSlot(), i); it stays unchanged until the next
  // getBatch.
  int32_t currentSlot() const noexcept { return mCurrentSlot; }
  int64_t batchesDelivered() const noexcept { return mDelivered; }
  // True when readCalibrationCache returned a cache and the builder then calibrated nothing (no getBatch
  // call): the builder used the cache. TensorRT rejects a cache of another version or algorithm (a warning in
  // its log) and then calibrates as if there were none: that is no hit, but cacheRejected().
  bool cacheHit() const noexcept { return mCacheOffered && mGetBatchCalls == 0; }
  // True when a cache was offered and the builder went on to call getBatch anyway.
  bool cacheRejected() const noexcept { return mCacheOffered && mGetBatchCalls > 0; }
  bool cacheWritten() const noexcept { return mCacheWritten; }
  CoreTimings const& timings() const noexcept { return mTimings; }
  // Ends an outstanding prefetch (waits for the factory to settle), so the slots can be released safely.
  void drain() noexcept;

 private:
  bool matchNames(char const* names[], int32_t nbBindings, std::vector<size_t>& order) noexcept;

  CalibratorConfig mConfig;
  BatchSource& mSource;
  RunStatus& mStatus;
  std::unique_ptr<BatchBuffers> mBuffers;
  // readCalibrationCache's bytes: read from the source once, at the first call, and returned again (same
  // pointer) on later calls, so every pointer handed out stays valid until the core is destroyed (after the
  // build).
  std::vector<uint8_t> mCache;
  bool mCacheRead{false};
  bool mCacheOffered{false};
  int64_t mGetBatchCalls{0};
  int32_t mCurrentSlot{-1};
  int32_t mPendingSlot{-1};  // slot with an outstanding fill, -1 when none
  int64_t mNextBatch{0};
  int64_t mDelivered{0};
  bool mExhausted{false};
  bool mCacheWritten{false};
  CoreTimings mTimings;
};

}  // namespace trtc
