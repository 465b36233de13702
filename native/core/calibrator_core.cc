#include "core/calibrator_core.h"

#include <chrono>
#include <cstring>
#include <utility>

namespace trtc {
namespace {

double secondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

// ---- RunStatus ----

bool RunStatus::fail(RunErrorCode code, std::string message) noexcept {
  std::lock_guard<std::mutex> lock(mMutex);
  if (mCode != RunErrorCode::kNONE) return false;
  mCode = code;
  try {
    mMessage = std::move(message);
  } catch (...) {
  }
  mFailed.store(true, std::memory_order_release);
  return true;
}

RunErrorCode RunStatus::code() const noexcept {
  std::lock_guard<std::mutex> lock(mMutex);
  return mCode;
}

std::string RunStatus::message() const {
  std::lock_guard<std::mutex> lock(mMutex);
  return mMessage;
}

// ---- CalibratorCore ----

CalibratorCore::CalibratorCore(CalibratorConfig config, BatchSource& source, RunStatus& status)
    : mConfig(std::move(config)), mSource(source), mStatus(status) {
  mBuffers = std::make_unique<BatchBuffers>(mConfig.inputs, mConfig.memory, mConfig.deviceIndex);
}

CalibratorCore::~CalibratorCore() { drain(); }

void CalibratorCore::drain() noexcept {
  if (mPendingSlot < 0) return;
  mSource.waitFill();
  mPendingSlot = -1;
}

int32_t CalibratorCore::getBatchSize() const noexcept { return mConfig.batchSize; }

bool CalibratorCore::matchNames(char const* names[], int32_t nbBindings,
                                std::vector<size_t>& order) noexcept {
  try {
    auto expectedList = [this] {
      std::string list;
      for (InputDesc const& in : mConfig.inputs) {
        list += (list.empty() ? "\"" : ", \"") + in.name + "\" " + shapeText(in.shape) + " " + in.dtype;
      }
      return list;
    };
    if (nbBindings != static_cast<int32_t>(mConfig.inputs.size())) {
      mStatus.fail(RunErrorCode::kINPUT_NAME, "The builder asked for " + std::to_string(nbBindings) +
                                                  " input(s) but the batch factory fills " +
                                                  std::to_string(mConfig.inputs.size()) + ": " +
                                                  expectedList());
      return false;
    }
    order.assign(static_cast<size_t>(nbBindings), 0);
    std::vector<bool> used(mConfig.inputs.size(), false);
    for (int32_t i = 0; i < nbBindings; ++i) {
      char const* name = names[i] == nullptr ? "" : names[i];
      size_t found = mConfig.inputs.size();
      for (size_t j = 0; j < mConfig.inputs.size(); ++j) {
        if (mConfig.inputs[j].name == name) found = j;
      }
      if (found == mConfig.inputs.size()) {
        mStatus.fail(RunErrorCode::kINPUT_NAME, std::string("The network input \"") + name +
                                                    "\" is not filled by the batch factory; it fills " +
                                                    expectedList());
        return false;
      }
      if (used[found]) {
        mStatus.fail(RunErrorCode::kINPUT_NAME,
                     std::string("The builder asked for input \"") + name + "\" twice in one getBatch call");
        return false;
      }
      used[found] = true;
      order[static_cast<size_t>(i)] = found;
    }
    return true;
  } catch (std::exception const& e) {
    mStatus.fail(RunErrorCode::kINTERNAL, e.what());
    return false;
  }
}

bool CalibratorCore::getBatch(void* bindings[], char const* names[], int32_t nbBindings) noexcept {
  auto const t0 = std::chrono::steady_clock::now();
  struct AddTime {
    double& total;
    std::chrono::steady_clock::time_point t0;
    ~AddTime() { total += secondsSince(t0); }
  } addTime{mTimings.getBatch, t0};

  ++mGetBatchCalls;  // after an offered cache: the builder did not use it (cacheRejected)
  if (mStatus.stopped() || mExhausted) return false;
  std::vector<size_t> order;
  if (!matchNames(names, nbBindings, order)) return false;

  int32_t slot = mPendingSlot;
  if (slot < 0) {
    slot = mCurrentSlot < 0 ? 0 : 1 - mCurrentSlot;
    mSource.startFill(slot, mNextBatch++);
  }
  auto const tWait = std::chrono::steady_clock::now();
  FillStatus const filled = mSource.waitFill();
  mTimings.waitFill += secondsSince(tWait);
  mPendingSlot = -1;
  if (filled == FillStatus::kEXHAUSTED) {
    mExhausted = true;
    return false;
  }
  if (filled != FillStatus::kFILLED || mStatus.stopped()) return false;

  try {
    auto tUpload = std::chrono::steady_clock::now();
#if TRTC_TEST_HOOKS
    if (!mConfig.injectCudaError.empty()) {
      throw CudaError(mConfig.injectCudaError + ": cudaMemcpyAsync failed: injected by the test hook");
    }
#endif
    mBuffers->enqueueUpload(slot);
    mTimings.upload += secondsSince(tUpload);
    mCurrentSlot = slot;
    // Prefetch: the factory fills batch k+1 into the other slot while batch k is copied and consumed.
    if (mConfig.prefetch) {
      mPendingSlot = 1 - slot;
      mSource.startFill(mPendingSlot, mNextBatch++);
    }
    tUpload = std::chrono::steady_clock::now();
    mBuffers->synchronize();
    mTimings.upload += secondsSince(tUpload);
  } catch (CudaError const& e) {
    mStatus.fail(RunErrorCode::kCUDA, e.what());
    return false;
  }
  for (int32_t i = 0; i < nbBindings; ++i)
    bindings[i] = mBuffers->binding(slot, order[static_cast<size_t>(i)]);
  mSource.batchDelivered(++mDelivered);
  return true;
}

void const* CalibratorCore::readCalibrationCache(std::size_t& length) noexcept {
  length = 0;
  if (!mCacheRead) {
    // Only the first call asks the source; mCache is never cleared or reassigned afterwards, so the pointer
    // returned here stays valid for the whole build however often the builder asks again.
    if (mStatus.stopped()) return nullptr;
    mCacheRead = true;
    std::vector<uint8_t> bytes;
    if (!mSource.readCache(bytes) || bytes.empty()) return nullptr;
    mCache = std::move(bytes);
  }
  if (mCache.empty() || mStatus.stopped()) return nullptr;
  mCacheOffered = true;
  length = mCache.size();
  return mCache.data();
}

void CalibratorCore::writeCalibrationCache(void const* ptr, std::size_t length) noexcept {
  // An aborted or failed run writes nothing: a cache from partial data would be silently wrong.
  if (mStatus.stopped() || ptr == nullptr) return;
  // Some TensorRT versions write the cache back after using it: the same bytes, nothing new to persist.
  if (cacheHit() && length == mCache.size() && std::memcmp(ptr, mCache.data(), length) == 0) return;
  drain();
  if (mStatus.stopped()) return;
  if (mSource.writeCache(static_cast<uint8_t const*>(ptr), length)) mCacheWritten = true;
}

}  // namespace trtc
