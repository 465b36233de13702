// Small parallel helpers shared by the native code that spreads per-tensor work over the cores (histogram
// adds, thresholds). Pure C++ (no Node-API).
//
// Threading / lifetime: parallelFor() starts its helper threads and joins them before returning; the calling
// thread works too. The first exception thrown by work() stops the remaining items and is rethrown.
// WorkerPool keeps its threads between jobs (see there).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <numeric>
#include <thread>
#include <vector>

namespace trtc {

// Threads used when the caller names no count: every core, at most 8.
inline std::size_t defaultThreadCount() {
  return std::min<std::size_t>(std::max(1U, std::thread::hardware_concurrency()), 8);
}

// One thread's share of a parallel loop: runs work(order[k]) for the k it claims through `next` until none is
// left. The first exception stops every thread's claiming (next jumps to the end) and is returned.
template <typename Work>
std::exception_ptr takeItems(std::vector<std::size_t> const& order, std::atomic<std::size_t>& next,
                             Work const& work) {
  try {
    for (std::size_t k = next++; k < order.size(); k = next++) work(order[k]);
  } catch (...) {
    next = order.size();
    return std::current_exception();
  }
  return nullptr;
}

// Runs work(i) for i in order[0..n) on up to defaultThreadCount() threads (this one included), items taken in
// `order` (largest first balances best). Each item touches one tensor only, and every tensor's histogram has
// its own lock, so results do not depend on the thread count. Rethrows the first exception after joining.
//
// Threading / lifetime: the helper threads live only inside this call (joined before it returns).
// maxThreads (> 0) caps the threads below that.
template <typename Work>
void parallelFor(std::vector<std::size_t> const& order, Work const& work, std::size_t maxThreads = 0) {
  std::size_t threads = std::min(order.size(), defaultThreadCount());
  if (maxThreads > 0) threads = std::min(threads, maxThreads);
  std::atomic<std::size_t> next{0};
  std::exception_ptr error;
  std::mutex errorMutex;
  auto loop = [&]() {
    std::exception_ptr const failed = takeItems(order, next, work);
    std::lock_guard<std::mutex> lock(errorMutex);
    if (failed && !error) error = failed;
  };
  std::vector<std::thread> helpers;
  for (std::size_t t = 1; t < threads; ++t) helpers.emplace_back(loop);
  loop();
  for (std::thread& t : helpers) t.join();
  if (error) std::rethrow_exception(error);
}

// Threads that stay up between jobs, for work that comes as many short parallel jobs (one per inference run):
// starting threads for every job costs more than a job's small items take, and a new thread rebuilds its
// thread-local scratch (measured: histogram adds 8-30 % slower on threads started per batch of tensors).
// A job runs work(order[k]) for every k on the pool's threads (largest first balances best): start() returns
// at once; wait() blocks until the job is done, the caller taking the items still unclaimed meanwhile (so a
// caller that has nothing else to do, like the builder thread once its ONNX Runtime run is done, adds its
// core).
//
// Threading / lifetime: start() and wait() are called by one owning thread, one job at a time (start() waits
// for the previous job first). The first exception thrown by work() stops the job's remaining items and is
// rethrown by wait(). The destructor waits for the current job and joins the threads. The job's work
// function (and what it captures) is released when the job ends, before wait() returns.
class WorkerPool {
 public:
  explicit WorkerPool(std::size_t threads) {
    std::size_t const n = std::max<std::size_t>(threads, 1);
    mThreads.reserve(n);
    for (std::size_t t = 0; t < n; ++t) mThreads.emplace_back([this] { loop(); });
  }
  ~WorkerPool() {
    {
      std::unique_lock<std::mutex> lock(mMutex);
      mDone.wait(lock, [this] { return mActive == 0; });
      mStop = true;
    }
    mWake.notify_all();
    for (std::thread& t : mThreads) t.join();
  }
  WorkerPool(WorkerPool const&) = delete;
  WorkerPool& operator=(WorkerPool const&) = delete;

  void start(std::vector<std::size_t> order, std::function<void(std::size_t)> work) {
    {
      std::unique_lock<std::mutex> lock(mMutex);
      mDone.wait(lock, [this] { return mActive == 0; });
      mOrder = std::move(order);
      mWork = std::move(work);
      mNext = 0;
      mError = nullptr;
      mActive = mThreads.size();
      mStarted = std::chrono::steady_clock::now();
      ++mGeneration;
    }
    mWake.notify_all();
  }

  // Waits for the job started last (returns at once when there is none), working on its unclaimed items
  // meanwhile; returns its duration in ms, from start() until its last item finished. Rethrows the job's
  // first exception.
  double wait() {
    std::unique_lock<std::mutex> lock(mMutex);
    if (mActive > 0) {
      ++mActive;  // the job's state stays alive while this thread takes part (see share())
      share(lock);
    }
    mDone.wait(lock, [this] { return mActive == 0; });
    double const ms = mJobMs;
    mJobMs = 0;
    std::exception_ptr const error = mError;
    mError = nullptr;
    if (error) std::rethrow_exception(error);
    return ms;
  }

 private:
  void loop() {
    std::uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mMutex);
    for (;;) {
      mWake.wait(lock, [&] { return mStop || mGeneration != seen; });
      if (mStop) return;
      seen = mGeneration;
      share(lock);
    }
  }

  // One thread's part of the current job (it is counted in mActive; `lock` held on entry and on return). The
  // last thread to finish ends the job.
  void share(std::unique_lock<std::mutex>& lock) {
    lock.unlock();
    std::exception_ptr const error = takeItems(mOrder, mNext, mWork);
    lock.lock();
    if (error && !mError) mError = error;
    if (--mActive == 0) {
      mJobMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - mStarted).count();
      mWork = nullptr;  // release what the job captured now, not at the next start()
      mOrder.clear();
      mDone.notify_all();
    }
  }

  std::mutex mMutex;
  std::condition_variable mWake;  // a job was posted, or the pool stops
  std::condition_variable mDone;  // the job's last thread finished
  std::vector<std::thread> mThreads;
  // The current job: written by start() while no thread works on a job (mActive == 0), read by the threads.
  std::vector<std::size_t> mOrder;
  std::function<void(std::size_t)> mWork;
  std::atomic<std::size_t> mNext{0};
  std::chrono::steady_clock::time_point mStarted;
  // Under mMutex.
  std::size_t mActive{0};  // threads (the waiting caller included) that have not finished the current job
  std::uint64_t mGeneration{0};
  bool mStop{false};
  double mJobMs{0};
  std::exception_ptr mError;
};

// Indices 0..n-1 sorted by weight, largest first (stable: ties keep their order).
template <typename Weight>
std::vector<std::size_t> largestFirst(std::size_t n, Weight const& weight) {
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return weight(a) > weight(b); });
  return order;
}

}  // namespace trtc
