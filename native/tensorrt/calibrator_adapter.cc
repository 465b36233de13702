#include "tensorrt/calibrator_adapter.h"

namespace trtc {
namespace trt {

TRTC_TRT_DEPRECATION_BEGIN

std::unique_ptr<nvinfer1::IInt8Calibrator> makeCalibratorAdapter(Calibrator& core, RunError& error) noexcept {
  try {
    switch (core.getAlgorithm()) {
      case CalibrationAlgo::kENTROPY_CALIBRATION_2:
        return std::make_unique<EntropyCalibrator2Adapter>(core);
      case CalibrationAlgo::kMINMAX_CALIBRATION:
        return std::make_unique<MinMaxCalibratorAdapter>(core);
      default:
        error = RunError{RunErrorCode::kTENSORRT_BUILD,
                         "the tensorrt backend supports the entropy (IInt8EntropyCalibrator2) and minmax "
                         "(IInt8MinMaxCalibrator) algorithms; use backend 'builtin' for the others"};
        return nullptr;
    }
  } catch (...) {
    error.code = RunErrorCode::kTENSORRT_BUILD;  // out of memory: the message stays as it was
    return nullptr;
  }
}

TRTC_TRT_DEPRECATION_END

}  // namespace trt
}  // namespace trtc
