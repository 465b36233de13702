// CalibratorForwarder<Base>: the whole of what our TensorRT calibrator adapters do, as a template over the
// TensorRT base class. calibrator_adapter.h instantiates it with nvinfer1::IInt8EntropyCalibrator2 and
// IInt8MinMaxCalibrator; this header itself includes no TensorRT header, so the core tests instantiate it
// over a stand-in base with IInt8Calibrator's signatures and test the forwarding without TensorRT (the header
// check in the README compiles the real instantiations against every release's headers).
//
// Threading / lifetime: TensorRT calls the overrides synchronously on the thread that called
// buildSerializedNetwork (8.5-10.x alike); the forwarder holds a reference to the core calibrator, which must
// outlive it, and owns nothing. Every override is noexcept and catches everything: an exception must never
// leave a TensorRT callback (the core records its own errors on the run and returns false / nullptr).
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/calibrator.h"

namespace trtc {
namespace trt {

template <typename Base>
class CalibratorForwarder final : public Base {
 public:
  explicit CalibratorForwarder(Calibrator& core) noexcept : mCore(core) {}

  // Always 1. Every network this project builds is explicit-batch (the ONNX parser needs kEXPLICIT_BATCH on
  // 8.x; 10.x has no other mode): the batch dimension is part of each input's dimensions, getBatch hands out
  // whole OPT-shaped tensors, and TensorRT does not size anything from this value. TensorRT 10.0 deprecated
  // it with implicit batch and leaves its value for explicit-batch networks unspecified; NVIDIA's own trtexec
  // calibrator returns 1 for such networks on 8.6 and 10.x (README, "TensorRT"), so we return what TensorRT's
  // authors return rather than a value TensorRT might one day read as "N images per binding". The core's
  // getBatchSize() (the N of a batch) is for our own builders.
  int32_t getBatchSize() const noexcept override { return 1; }

  bool getBatch(void* bindings[], char const* names[], int32_t nbBindings) noexcept override {
    try {
      return mCore.getBatch(bindings, names, nbBindings);
    } catch (...) {
      return false;
    }
  }

  void const* readCalibrationCache(std::size_t& length) noexcept override {
    try {
      return mCore.readCalibrationCache(length);
    } catch (...) {
      length = 0;
      return nullptr;
    }
  }

  void writeCalibrationCache(void const* ptr, std::size_t length) noexcept override {
    try {
      mCore.writeCalibrationCache(ptr, length);
    } catch (...) {
      // The core records write failures itself; nothing may escape into TensorRT.
    }
  }

 private:
  Calibrator& mCore;
};

}  // namespace trt
}  // namespace trtc
