#include "core/buffers.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#include "core/cuda_api.h"

#if TRTC_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace trtc {
namespace {

// Plain atomics (trivially destructible): safe to touch from a builder thread while the process exits.
std::atomic<int64_t> gHostBuffers{0};
std::atomic<int64_t> gPinnedBuffers{0};
std::atomic<int64_t> gDeviceBuffers{0};
std::atomic<int64_t> gStreams{0};
std::atomic<int64_t> gBytes{0};

constexpr size_t kALIGNMENT = 256;  // cudaMalloc's alignment; also good for SIMD reads by the builders

}  // namespace

size_t dtypeSize(std::string const& dtype) noexcept {
  if (dtype == "float32" || dtype == "int32") return 4;
  if (dtype == "float16") return 2;
  if (dtype == "int64") return 8;
  if (dtype == "int8" || dtype == "uint8" || dtype == "bool") return 1;
  return 0;
}

std::string shapeText(std::vector<int64_t> const& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? "," : "") + std::to_string(shape[i]);
  return text + "]";
}

AllocationStats liveAllocations() noexcept {
  AllocationStats stats;
  stats.hostBuffers = gHostBuffers.load();
  stats.pinnedBuffers = gPinnedBuffers.load();
  stats.deviceBuffers = gDeviceBuffers.load();
  stats.streams = gStreams.load();
  stats.bytes = gBytes.load();
  return stats;
}

// ---- HostBuffer ----

HostBuffer::HostBuffer(size_t bytes, bool pinned) : mBytes(bytes), mPinned(pinned) {
  size_t const rounded = ((bytes == 0 ? 1 : bytes) + kALIGNMENT - 1) / kALIGNMENT * kALIGNMENT;
  if (pinned) {
#if TRTC_WITH_CUDA
    cuda::check(cudaHostAlloc(&mData, rounded, cudaHostAllocDefault), "cudaHostAlloc");
    gPinnedBuffers++;
#else
    throw CudaError("cudaErrorNotSupported: pinned memory requested but the addon was built without CUDA");
#endif
  } else {
    mData = std::aligned_alloc(kALIGNMENT, rounded);
    if (mData == nullptr) throw std::bad_alloc();
  }
  gHostBuffers++;
  gBytes += static_cast<int64_t>(mBytes);
}

HostBuffer::~HostBuffer() { release(); }

HostBuffer::HostBuffer(HostBuffer&& other) noexcept
    : mData(std::exchange(other.mData, nullptr)), mBytes(other.mBytes), mPinned(other.mPinned) {}

HostBuffer& HostBuffer::operator=(HostBuffer&& other) noexcept {
  if (this != &other) {
    release();
    mData = std::exchange(other.mData, nullptr);
    mBytes = other.mBytes;
    mPinned = other.mPinned;
  }
  return *this;
}

void HostBuffer::release() noexcept {
  if (mData == nullptr) return;
#if TRTC_WITH_CUDA
  if (mPinned) {
    cudaFreeHost(mData);
    gPinnedBuffers--;
  } else {
    std::free(mData);
  }
#else
  std::free(mData);
#endif
  mData = nullptr;
  gHostBuffers--;
  gBytes -= static_cast<int64_t>(mBytes);
}

// ---- DeviceBuffer ----

DeviceBuffer::DeviceBuffer(size_t bytes) : mBytes(bytes) {
#if TRTC_WITH_CUDA
  cuda::check(cudaMalloc(&mData, bytes == 0 ? 1 : bytes), "cudaMalloc");
  gDeviceBuffers++;
  gBytes += static_cast<int64_t>(mBytes);
#else
  throw CudaError("cudaErrorNotSupported: device memory requested but the addon was built without CUDA");
#endif
}

DeviceBuffer::~DeviceBuffer() { release(); }

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : mData(std::exchange(other.mData, nullptr)), mBytes(other.mBytes) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    release();
    mData = std::exchange(other.mData, nullptr);
    mBytes = other.mBytes;
  }
  return *this;
}

void DeviceBuffer::release() noexcept {
  if (mData == nullptr) return;
#if TRTC_WITH_CUDA
  cudaFree(mData);
  gDeviceBuffers--;
  gBytes -= static_cast<int64_t>(mBytes);
#endif
  mData = nullptr;
}

// ---- BatchBuffers ----

BatchBuffers::BatchBuffers(std::vector<InputDesc> const& inputs, MemoryKind kind, int32_t deviceIndex) {
  mOnDevice = kind == MemoryKind::kAUTO && cuda::deviceAvailable();
#if TRTC_WITH_CUDA
  if (mOnDevice) {
    cuda::check(cudaSetDevice(deviceIndex), "cudaSetDevice");
    cudaStream_t stream = nullptr;
    cuda::check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    mStream = stream;
    gStreams++;
  }
#endif
  try {
    mHost.resize(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      for (int32_t s = 0; s < kSLOTS; ++s) mHost[i].emplace_back(inputs[i].bytes, mOnDevice);
      if (mOnDevice) mDevice.emplace_back(inputs[i].bytes);
    }
  } catch (...) {
    mHost.clear();
    mDevice.clear();
#if TRTC_WITH_CUDA
    if (mStream != nullptr) {
      cudaStreamDestroy(static_cast<cudaStream_t>(mStream));
      gStreams--;
    }
#endif
    throw;
  }
}

BatchBuffers::~BatchBuffers() {
#if TRTC_WITH_CUDA
  if (mStream != nullptr) {
    cudaStreamSynchronize(static_cast<cudaStream_t>(mStream));
    cudaStreamDestroy(static_cast<cudaStream_t>(mStream));
    gStreams--;
  }
#endif
}

void* BatchBuffers::binding(int32_t slot, size_t input) const noexcept {
  return mOnDevice ? mDevice[input].data() : mHost[input][slot].data();
}

void BatchBuffers::enqueueUpload(int32_t slot) {
#if TRTC_WITH_CUDA
  if (!mOnDevice) return;
  for (size_t i = 0; i < mHost.size(); ++i) {
    HostBuffer const& src = mHost[i][slot];
    cuda::check(cudaMemcpyAsync(mDevice[i].data(), src.data(), src.size(), cudaMemcpyHostToDevice,
                                static_cast<cudaStream_t>(mStream)),
                "cudaMemcpyAsync");
  }
#endif
}

void BatchBuffers::synchronize() {
#if TRTC_WITH_CUDA
  if (mOnDevice)
    cuda::check(cudaStreamSynchronize(static_cast<cudaStream_t>(mStream)), "cudaStreamSynchronize");
#endif
}

}  // namespace trtc
