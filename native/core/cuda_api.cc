#include "core/cuda_api.h"

#include <mutex>

#if TRTC_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace trtc {
namespace cuda {

bool compiledIn() noexcept { return TRTC_WITH_CUDA != 0; }

void check(int status, char const* what) {
#if TRTC_WITH_CUDA
  auto const error = static_cast<cudaError_t>(status);
  if (error != cudaSuccess) {
    cudaGetLastError();  // clear non-sticky errors so the next run starts clean
    throw CudaError(std::string(cudaGetErrorName(error)) + ": " + what +
                    " failed: " + cudaGetErrorString(error));
  }
#else
  if (status != 0)
    throw CudaError(std::string("CUDA error ") + std::to_string(status) + ": " + what + " failed");
#endif
}

#if TRTC_WITH_CUDA
namespace {
std::string describe(cudaError_t status) {
  std::string text = std::string(cudaGetErrorName(status)) + ": " + cudaGetErrorString(status);
  if (status == cudaErrorInsufficientDriver) {
    text += " (no NVIDIA driver is loaded, or it is older than this CUDA runtime needs)";
  } else if (status == cudaErrorNoDevice) {
    text += " (the driver is loaded but sees no GPU; check CUDA_VISIBLE_DEVICES)";
  }
  return text;
}
}  // namespace
#endif

DeviceQuery queryDevices() noexcept {
  DeviceQuery query;
  query.compiled = compiledIn();
#if TRTC_WITH_CUDA
  try {
    cudaRuntimeGetVersion(&query.runtimeVersion);
    cudaDriverGetVersion(&query.driverVersion);
    int count = 0;
    cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess) {
      query.error = describe(status);
      cudaGetLastError();  // clear the sticky-free error so later calls start clean
      return query;
    }
    for (int i = 0; i < count; ++i) {
      cudaDeviceProp prop{};
      status = cudaGetDeviceProperties(&prop, i);
      if (status != cudaSuccess) {
        query.error = "device " + std::to_string(i) + ": " + describe(status);
        continue;
      }
      DeviceInfo info;
      info.index = i;
      info.name = prop.name;
      info.major = prop.major;
      info.minor = prop.minor;
      info.totalMemory = prop.totalGlobalMem;
      info.multiProcessors = prop.multiProcessorCount;
      query.devices.push_back(std::move(info));
    }
    if (count == 0) query.error = "cudaGetDeviceCount returned 0 devices";
  } catch (...) {
    query.error = "unexpected failure while querying CUDA devices";
  }
#else
  query.error = "the addon was built without the CUDA toolkit (install it and rebuild to use a GPU)";
#endif
  return query;
}

bool deviceAvailable() noexcept {
  static std::once_flag once;
  static bool available = false;
  std::call_once(once, [] { available = !queryDevices().devices.empty(); });
  return available;
}

}  // namespace cuda
}  // namespace trtc
