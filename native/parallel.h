// Small parallel helpers shared by the native code that spreads per-tensor work over the cores (histogram
// adds, thresholds). Pure C++ (no Node-API).
//
// Threading / lifetime: parallelFor() starts its helper threads and joins them before returning; the calling
// thread works too. The first exception thrown by work() stops the remaining items and is rethrown.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <numeric>
#include <thread>
#include <vector>

namespace trtc {

// Runs work(i) for i in order[0..n) on up to hardware_concurrency threads (this one included), items taken in
// `order` (largest first balances best). Each item touches one tensor only, and every tensor's histogram has
// its own lock, so results do not depend on the thread count. Rethrows the first exception after joining.
//
// Threading / lifetime: the helper threads live only inside this call (joined before it returns).
// maxThreads (> 0) caps the threads below that.
template <typename Work>
void parallelFor(std::vector<std::size_t> const& order, Work const& work, std::size_t maxThreads = 0) {
  std::size_t const n = order.size();
  unsigned const cores = std::max(1U, std::thread::hardware_concurrency());
  std::size_t threads = std::min<std::size_t>({n, cores, 8});
  if (maxThreads > 0) threads = std::min(threads, maxThreads);
  std::atomic<std::size_t> next{0};
  std::exception_ptr error;
  std::mutex errorMutex;
  auto loop = [&]() {
    try {
      for (std::size_t k = next++; k < n; k = next++) work(order[k]);
    } catch (...) {
      std::lock_guard<std::mutex> lock(errorMutex);
      if (!error) error = std::current_exception();
      next = n;
    }
  };
  std::vector<std::thread> helpers;
  for (std::size_t t = 1; t < threads; ++t) helpers.emplace_back(loop);
  loop();
  for (std::thread& t : helpers) t.join();
  if (error) std::rethrow_exception(error);
}

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
