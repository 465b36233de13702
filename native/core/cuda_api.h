// CUDA runtime access for the addon, compiled with or without the CUDA toolkit.
//
// Threading / lifetime: every function here is safe to call from any thread. Nothing in this header
// allocates state that outlives a call except the explicit alloc/free pairs, which the caller owns.
//
// Built without CUDA (TRTC_WITH_CUDA == 0), queryDevices() reports that CUDA was not compiled in and the
// memory helpers fall back to aligned host memory. Built with CUDA, the runtime is linked statically so the
// addon still loads on machines with no driver; the first call then reports why no device is usable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace trtc {

// A failed CUDA call; what() starts with the CUDA error name (e.g. "cudaErrorMemoryAllocation: ...").
class CudaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace cuda {

// Throws CudaError "<error name>: <what> failed: <description>" unless `status` (a cudaError_t) is
// cudaSuccess, after clearing CUDA's last error so the next call starts clean. Only called where CUDA is
// compiled in.
void check(int status, char const* what);

struct DeviceInfo {
  int32_t index{0};
  std::string name;
  int32_t major{0};
  int32_t minor{0};
  uint64_t totalMemory{0};
  int32_t multiProcessors{0};
};

struct DeviceQuery {
  bool compiled{false};       // the addon was built against the CUDA toolkit
  int32_t runtimeVersion{0};  // e.g. 13000 for CUDA 13.0; 0 when not compiled
  int32_t driverVersion{0};   // 0 when no driver is installed
  std::vector<DeviceInfo> devices;
  std::string error;  // why devices is empty, when it is
};

// True when the addon was built with the CUDA toolkit.
bool compiledIn() noexcept;

// Lists the CUDA devices visible to this process, or says why there are none.
DeviceQuery queryDevices() noexcept;

// True when at least one CUDA device is usable (cached after the first call).
bool deviceAvailable() noexcept;

}  // namespace cuda
}  // namespace trtc
