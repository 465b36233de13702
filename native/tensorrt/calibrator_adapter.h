// TensorRT calibrator adapters: nvinfer1::IInt8EntropyCalibrator2 (default) and IInt8MinMaxCalibrator
// subclasses that forward every call to trtc::Calibrator (core/calibrator.h). Compiled only when CMake
// found TensorRT 8.6-10.x (TRTC_TENSORRT_SOURCES); never by binding.gyp.
//
// Version notes (from NVIDIA/TensorRT's public headers, include/NvInfer.h 8.6 and 10.7):
//   - 8.6: IInt8Calibrator is a plain interface; every override is noexcept.
//   - 10.0: IInt8Calibrator derives from IVersionedInterface; the concrete calibrators live in
//     nvinfer1::v_1_0 and are aliased (using IInt8EntropyCalibrator2 = v_1_0::IInt8EntropyCalibrator2). They
//     implement getInterfaceInfo() themselves ("Applications must not override"), so deriving from the alias
//     is all we do. getBatchSize() is deprecated (implicit batch removed) but still pure virtual: we still
//     override it.
//   - 10.1: the calibrator classes, setInt8Calibrator and setCalibrationProfile are [[deprecated]]
//     ("superseded by explicit quantization"); 10.12 deprecates BuilderFlag::kINT8. The warnings are silenced
//     here and in engine_builder.cc only, with TRTC_TRT_DEPRECATION_{BEGIN,END} around the code that names
//     them.
//   - 11.0 removed IInt8Calibrator: refused below (export Q/DQ ONNX instead).
//
// Threading / lifetime: TensorRT calls the overrides synchronously on the thread that called
// buildSerializedNetwork (8.6 and 10.x alike); the adapter holds a reference to the core calibrator, which
// must outlive it, and owns nothing. Every override is noexcept and catches everything: an exception must
// never leave a TensorRT callback (the core records its own errors on the run and returns false / nullptr).
#pragma once

#include <NvInferVersion.h>

#if NV_TENSORRT_MAJOR >= 11
#error \
    "TensorRT 11 removed IInt8Calibrator; the calibrator adapter supports TensorRT 8.6-10.x (use Q/DQ export)"
#elif NV_TENSORRT_MAJOR < 8 || (NV_TENSORRT_MAJOR == 8 && NV_TENSORRT_MINOR < 6)
#error "The calibrator adapter needs TensorRT 8.6 or newer"
#endif

#if defined(__GNUC__) || defined(__clang__)
#define TRTC_TRT_DEPRECATION_BEGIN \
  _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wdeprecated-declarations\"")
#define TRTC_TRT_DEPRECATION_END _Pragma("GCC diagnostic pop")
#elif defined(_MSC_VER)
#define TRTC_TRT_DEPRECATION_BEGIN __pragma(warning(push)) __pragma(warning(disable : 4996))
#define TRTC_TRT_DEPRECATION_END __pragma(warning(pop))
#else
#define TRTC_TRT_DEPRECATION_BEGIN
#define TRTC_TRT_DEPRECATION_END
#endif

// NvInfer.h itself names the deprecated classes in its `using` aliases (10.1+), which warns unless the header
// is a system header: include it inside the suppression too.
TRTC_TRT_DEPRECATION_BEGIN
#include <NvInfer.h>
TRTC_TRT_DEPRECATION_END

#include <memory>
#include <string>

#include "core/calibrator.h"
#include "core/run_error.h"

namespace trtc {
namespace trt {

TRTC_TRT_DEPRECATION_BEGIN

// Forwards TensorRT's calibrator calls to `core`. Base is IInt8EntropyCalibrator2 or IInt8MinMaxCalibrator,
// which fix getAlgorithm() (and, on 10.x, getInterfaceInfo()).
template <typename Base>
class CalibratorAdapter final : public Base {
 public:
  explicit CalibratorAdapter(Calibrator& core) noexcept : mCore(core) {}

  int32_t getBatchSize() const noexcept override {
    try {
      return mCore.getBatchSize();
    } catch (...) {
      return 0;
    }
  }

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

using EntropyCalibrator2Adapter = CalibratorAdapter<nvinfer1::IInt8EntropyCalibrator2>;
using MinMaxCalibratorAdapter = CalibratorAdapter<nvinfer1::IInt8MinMaxCalibrator>;

// The adapter matching core.getAlgorithm(): kENTROPY_CALIBRATION_2 -> IInt8EntropyCalibrator2,
// kMINMAX_CALIBRATION -> IInt8MinMaxCalibrator. Any other algorithm returns null with `error` set to
// kTENSORRT_BUILD (the builtin backend serves percentile/mse; TensorRT's legacy calibrators are not offered).
std::unique_ptr<nvinfer1::IInt8Calibrator> makeCalibratorAdapter(Calibrator& core, RunError& error) noexcept;

TRTC_TRT_DEPRECATION_END

}  // namespace trt
}  // namespace trtc
