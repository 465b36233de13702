// Batch memory of one calibration run: per input, pinned host slots that TypeScript fills (double-buffered)
// and one device buffer that getBatch copies into on the run's own CUDA stream.
//
// Threading / lifetime: a BatchBuffers is created, used and destroyed on the run's builder thread (CUDA calls
// and their implicit context creation never happen on the JS thread). The JS thread only reads and writes the
// host slot bytes through ArrayBuffers created over them; those ArrayBuffers are detached on the JS thread
// before the BatchBuffers is destroyed (bridge/run.cc). Every allocation is counted in a process-wide
// live-allocation counter (liveAllocations()), so tests can assert that a finished run freed everything.
//
// Without a CUDA device (or built without CUDA, or with MemoryKind::kHOST) the slots are 256-byte aligned
// host memory, there are no device buffers, and getBatch hands out the host slot pointers.
//
// This file is pure C++ (no Node-API): it is also linked into the core_tests binary.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/cuda_api.h"

namespace trtc {

// One network input the run feeds: name, full shape (batch first), element type and byte length of a batch.
struct InputDesc {
  std::string name;
  std::vector<int64_t> shape;
  std::string dtype;  // "float32", "float16", "int32", "int64", "int8", "uint8", "bool"
  size_t elementSize{4};
  size_t bytes{0};  // product(shape) * elementSize
};

// Bytes per element of a dtype name, 0 when unknown.
size_t dtypeSize(std::string const& dtype) noexcept;

// Shape as text, e.g. "[8,3,224,224]".
std::string shapeText(std::vector<int64_t> const& shape);

// Counts of memory held by all runs in this process (host slots, pinned or not, device buffers, streams).
struct AllocationStats {
  int64_t hostBuffers{0};
  int64_t pinnedBuffers{0};
  int64_t deviceBuffers{0};
  int64_t streams{0};
  int64_t bytes{0};
};
AllocationStats liveAllocations() noexcept;

// Where the slots live.
enum class MemoryKind {
  kAUTO,  // pinned host slots + device buffers when a CUDA device is usable, else aligned host memory
  kHOST,  // aligned host memory only (no CUDA calls at all)
};

// RAII host allocation: cudaHostAlloc (pinned) or 256-byte aligned heap memory.
class HostBuffer {
 public:
  HostBuffer() = default;
  HostBuffer(size_t bytes, bool pinned);  // throws CudaError / std::bad_alloc
  ~HostBuffer();
  HostBuffer(HostBuffer&& other) noexcept;
  HostBuffer& operator=(HostBuffer&& other) noexcept;
  HostBuffer(HostBuffer const&) = delete;
  HostBuffer& operator=(HostBuffer const&) = delete;

  void* data() const noexcept { return mData; }
  size_t size() const noexcept { return mBytes; }
  bool pinned() const noexcept { return mPinned; }

 private:
  void release() noexcept;
  void* mData{nullptr};
  size_t mBytes{0};
  bool mPinned{false};
};

// RAII device allocation (cudaMalloc). Only constructed when a device is in use.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes);  // throws CudaError
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(DeviceBuffer const&) = delete;
  DeviceBuffer& operator=(DeviceBuffer const&) = delete;

  void* data() const noexcept { return mData; }
  size_t size() const noexcept { return mBytes; }

 private:
  void release() noexcept;
  void* mData{nullptr};
  size_t mBytes{0};
};

// The slots and device buffers of one run.
class BatchBuffers {
 public:
  static constexpr int32_t kSLOTS = 2;

  // Allocates kSLOTS host slots per input and, with a device, one device buffer per input plus a
  // non-blocking stream on device `deviceIndex` (made current on the calling thread). Throws CudaError.
  BatchBuffers(std::vector<InputDesc> const& inputs, MemoryKind kind, int32_t deviceIndex = 0);
  ~BatchBuffers();
  BatchBuffers(BatchBuffers const&) = delete;
  BatchBuffers& operator=(BatchBuffers const&) = delete;

  bool onDevice() const noexcept { return mOnDevice; }
  size_t inputCount() const noexcept { return mHost.size(); }
  void* host(int32_t slot, size_t input) const noexcept { return mHost[input][slot].data(); }
  // The pointer getBatch hands out for `input` after copying `slot`: the device buffer, or the host slot.
  void* binding(int32_t slot, size_t input) const noexcept;

  // Enqueues the host->device copies of every input of `slot` on the run's stream (no-op without a device).
  void enqueueUpload(int32_t slot);  // throws CudaError
  // Waits for the enqueued copies (no-op without a device).
  void synchronize();  // throws CudaError

 private:
  bool mOnDevice{false};
  std::vector<std::vector<HostBuffer>> mHost;  // [input][slot]
  std::vector<DeviceBuffer> mDevice;           // [input], empty without a device
  void* mStream{nullptr};                      // cudaStream_t
};

}  // namespace trtc
