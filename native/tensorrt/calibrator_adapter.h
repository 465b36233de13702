// TensorRT calibrator adapters: nvinfer1::IInt8EntropyCalibrator2 (default) and IInt8MinMaxCalibrator
// subclasses that forward every call to trtc::Calibrator (core/calibrator.h) through CalibratorForwarder
// (calibrator_forwarder.h, which holds the overrides). Compiled only when CMake found TensorRT 8.5-10.x
// (TRTC_TENSORRT_SOURCES) or in its headers-only check; never by binding.gyp.
//
// Version notes (from NVIDIA/TensorRT's public headers, include/NvInfer.h 8.5 to 10.16):
//   - 8.5/8.6/9.x: IInt8Calibrator is a plain interface; every override is noexcept. 8.5 (JetPack 5.1) has
//   the
//     same calibrator, network, parser and builder-config calls this project uses.
//   - 10.0: IInt8Calibrator derives from IVersionedInterface; the concrete calibrators live in
//     nvinfer1::v_1_0 and are aliased (using IInt8EntropyCalibrator2 = v_1_0::IInt8EntropyCalibrator2). They
//     implement getInterfaceInfo() themselves ("Applications must not override"), so deriving from the alias
//     is all we do. getBatchSize() is deprecated (implicit batch removed) but still pure virtual: we still
//     override it (it returns 1: calibrator_forwarder.h says why).
//   - 10.1: the calibrator classes, setInt8Calibrator and setCalibrationProfile are [[deprecated]]
//     ("superseded by explicit quantization"); 10.12 deprecates BuilderFlag::kINT8. The warnings are silenced
//     here and in engine_builder.cc only, with TRTC_TRT_DEPRECATION_{BEGIN,END} around the code that names
//     them.
//   - 11.0 removed IInt8Calibrator: refused below and, before that, by CMake at configure time (export Q/DQ
//     ONNX instead).
//
// Threading / lifetime: see calibrator_forwarder.h.
#pragma once

#include <NvInferVersion.h>

#if NV_TENSORRT_MAJOR >= 11
#error \
    "TensorRT 11 removed IInt8Calibrator; the calibrator adapter supports TensorRT 8.5-10.x (use Q/DQ export)"
#elif NV_TENSORRT_MAJOR < 8 || (NV_TENSORRT_MAJOR == 8 && NV_TENSORRT_MINOR < 5)
#error "The calibrator adapter needs TensorRT 8.5 or newer"
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
#include "tensorrt/calibrator_forwarder.h"

namespace trtc {
namespace trt {

TRTC_TRT_DEPRECATION_BEGIN

// The TensorRT calibrator classes, with every call forwarded to the core. Their bases fix getAlgorithm()
// (and, on 10.x, getInterfaceInfo()).
using EntropyCalibrator2Adapter = CalibratorForwarder<nvinfer1::IInt8EntropyCalibrator2>;
using MinMaxCalibratorAdapter = CalibratorForwarder<nvinfer1::IInt8MinMaxCalibrator>;

// The adapter matching core.getAlgorithm(): kENTROPY_CALIBRATION_2 -> IInt8EntropyCalibrator2,
// kMINMAX_CALIBRATION -> IInt8MinMaxCalibrator. Any other algorithm returns null with `error` set to
// kTENSORRT_BUILD (the builtin backend serves percentile/mse; TensorRT's legacy calibrators are not offered).
std::unique_ptr<nvinfer1::IInt8Calibrator> makeCalibratorAdapter(Calibrator& core, RunError& error) noexcept;

TRTC_TRT_DEPRECATION_END

}  // namespace trt
}  // namespace trtc
