// CUDA helpers that only the test build needs (TRTC_TEST_HOOKS): what a binding really holds, and the bare
// copy the bridge benchmark compares getBatch with. Without CUDA compiled in they work on host memory /
// report no device.
//
// Threading / lifetime: callable from any thread; nothing outlives a call. Pure C++ (no Node-API).
#pragma once

#include <cstddef>
#include <cstdint>

namespace trtc {

// Copies `bytes` from `src` (device or host pointer) to host memory `dst`, synchronously. Throws CudaError.
void copyToHost(void* dst, void const* src, size_t bytes);

// True when `ptr` is device memory (cudaMemoryTypeDevice). False without CUDA.
bool isDevicePointer(void const* ptr) noexcept;

// Measures a bare cudaMemcpyAsync + cudaStreamSynchronize of `bytes` from pinned host memory to device memory
// (the reference for bench/bridge). Returns seconds per copy (mean of `iterations` after two warm-up copies),
// or -1 without a device. Throws CudaError.
double benchBareUpload(size_t bytes, int32_t iterations);

}  // namespace trtc
