// The builtin builder: our own calibration pass, playing TensorRT's role with no GPU or TensorRT.
//
// It drives the calibrator in TensorRT's call order. Its float inputs and the model's activations go into
// RunOptions::histograms: with RunOptions::inference it runs each batch itself (as sub-batches of at most
// maxActivationBytes of activations when `splittable`), histogramming one run's activations on
// `histogramThreads` threads while the next run executes; without, it asks the JS `process` callback per
// batch and, after the last batch, calls process(-1) once (end of data: JS may merge histograms it kept
// elsewhere into the set). Then amax per tensor with `algorithm` and the cache text with header
// TRT-<tensorrtVersion>-<cacheAlgorithm> through writeCalibrationCache.
//
// Threading / lifetime: see builtin_builder.cc. Pure C++ (no Node-API).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "builtin/thresholds.h"
#include "core/builder.h"

namespace trtc {

// The builtin builder's options (RunOptions::builtin), copied from the JS `builtin` object. Every field is
// set from the options; the initializers only keep the struct deterministic.
struct BuiltinOptions {
  AmaxAlgorithm algorithm{AmaxAlgorithm::kENTROPY};
  double percentile{0};             // kPERCENTILE's percentile, in (0, 100]
  std::string tensorrtVersion;      // cache header version, e.g. "100300"
  std::string cacheAlgorithm;       // cache header algorithm, e.g. "EntropyCalibration2"
  double maxActivationBytes{0};     // activations per ONNX Runtime run; 0: whole batches
  bool splittable{false};           // the model's batch dimension is open: batches may run as sub-batches
  std::size_t histogramThreads{0};  // threads adding a run's activations; 0: defaultThreadCount()
};

// The builtin builder. Needs RunOptions::builtin and RunOptions::histograms.
std::unique_ptr<Builder> makeBuiltinBuilder();

}  // namespace trtc
