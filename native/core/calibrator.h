// The calibrator core: TensorRT's IInt8Calibrator contract without TensorRT headers.
//
// Both builders drive this class in TensorRT's order: readCalibrationCache -> (no usable cache:) getBatchSize
// -> getBatch until it returns false -> writeCalibrationCache. The TensorRT adapter (native/tensorrt/)
// derives from nvinfer1::IInt8EntropyCalibrator2 / IInt8MinMaxCalibrator and forwards each virtual to this
// class; the builtin builder and the test driver call it directly.
//
// Threading / lifetime: every method below is called on the run's builder thread (never the JS thread, never
// a libuv pool thread). Each is noexcept: failures are recorded on the owning run (first error wins) and the
// call returns false / nullptr, exactly as TensorRT requires of its callbacks.
#pragma once

#include <cstddef>
#include <cstdint>

namespace trtc {

// Mirrors nvinfer1::CalibrationAlgoType (same values), so the adapter can static_cast.
enum class CalibrationAlgo : int32_t {
  kLEGACY_CALIBRATION = 0,
  kENTROPY_CALIBRATION = 1,
  kENTROPY_CALIBRATION_2 = 2,
  kMINMAX_CALIBRATION = 3,
};

class Calibrator {
 public:
  virtual ~Calibrator() = default;

  // Batch size of every batch getBatch delivers (the N of the input shapes).
  virtual int32_t getBatchSize() const noexcept = 0;

  // Fills bindings[i] with a device pointer (host pointer without CUDA) holding the next batch of the input
  // named names[i]. Returns false when the data is exhausted, on error, or after abort.
  virtual bool getBatch(void* bindings[], char const* names[], int32_t nbBindings) noexcept = 0;

  // Returns the cache bytes to use instead of calibrating, or nullptr with length 0. The bytes stay valid
  // until the build ends.
  virtual void const* readCalibrationCache(std::size_t& length) noexcept = 0;

  // Hands the finished cache to be persisted (copied before returning).
  virtual void writeCalibrationCache(void const* ptr, std::size_t length) noexcept = 0;

  virtual CalibrationAlgo getAlgorithm() const noexcept = 0;
};

}  // namespace trtc
