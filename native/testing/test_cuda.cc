#include "testing/test_cuda.h"

#include <chrono>
#include <cstring>

#include "core/buffers.h"
#include "core/cuda_api.h"

#if TRTC_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace trtc {

void copyToHost(void* dst, void const* src, size_t bytes) {
#if TRTC_WITH_CUDA
  if (isDevicePointer(src)) {
    cuda::check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy");
    return;
  }
#endif
  if (bytes > 0) std::memcpy(dst, src, bytes);
}

bool isDevicePointer(void const* ptr) noexcept {
#if TRTC_WITH_CUDA
  if (!cuda::deviceAvailable()) return false;
  cudaPointerAttributes attributes{};
  if (cudaPointerGetAttributes(&attributes, ptr) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return attributes.type == cudaMemoryTypeDevice;
#else
  (void)ptr;
  return false;
#endif
}

double benchBareUpload(size_t bytes, int32_t iterations) {
#if TRTC_WITH_CUDA
  if (!cuda::deviceAvailable()) return -1;
  HostBuffer host(bytes, true);
  DeviceBuffer device(bytes);
  cudaStream_t stream = nullptr;
  cuda::check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
  double seconds = 0;
  try {
    for (int32_t i = -2; i < iterations; ++i) {  // two warm-up copies
      auto const t0 = std::chrono::steady_clock::now();
      cuda::check(cudaMemcpyAsync(device.data(), host.data(), bytes, cudaMemcpyHostToDevice, stream),
                  "cudaMemcpyAsync");
      cuda::check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
      if (i >= 0) seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
  } catch (...) {
    cudaStreamDestroy(stream);
    throw;
  }
  cudaStreamDestroy(stream);
  return seconds / iterations;
#else
  (void)bytes;
  (void)iterations;
  return -1;
#endif
}

}  // namespace trtc
