// The TensorRT engine builder as the run code sees it. This header compiles WITHOUT TensorRT: the "tensorrt"
// builder (tensorrt_builder.cc) includes it unconditionally and calls buildEngine(); which implementation
// links in depends on the build:
//   - engine_builder.cc              when CMake found TensorRT 8.5-10.x (TRTC_WITH_TENSORRT=1);
//   - engine_builder_unavailable.cc  otherwise (node-gyp builds always), which fails every build with
//     kTENSORRT_UNAVAILABLE and a message that says how to install TensorRT and rebuild.
//
// Flow inside buildEngine (TensorRT 8.5-10.x):
//   the loaded library's version (getInferLibVersion) checked against the headers' ->
//   createInferBuilder(logger)
//   -> createNetworkV2 (kEXPLICIT_BATCH on 8.x/9.x, 0 on 10.x) -> ONNX parser parseFromFile (every parser
//   error reported) -> builder config: kINT8 (+kFP16), workspace pool limit, optional DLA core
//   (+kGPU_FALLBACK), one optimization profile from `inputShapes` (dims, and values for shape-tensor inputs)
//   that is also the calibration profile (TensorRT calibrates at its OPT shape only) ->
//   setInt8Calibrator(adapter over `calibrator`) -> buildSerializedNetwork -> the plan bytes (and, with
//   inspectLayers, the engine's layer information). The TensorRT builder then drives `calibrator` in its
//   usual order (readCalibrationCache, then getBatchSize/getBatch.../writeCalibrationCache when there is no
//   usable cache). With explicitQuantization (a Q/DQ model) no calibrator is attached and TensorRT never
//   calls `calibrator`.
//
// Threading / lifetime:
//   - Call buildEngine on the run-owned builder thread (never the JS thread, never a libuv pool thread): it
//     blocks for seconds to minutes, and `calibrator`'s getBatch is called synchronously on this same thread
//     (TensorRT calls the calibrator inside buildSerializedNetwork, on the thread that called it). That
//     thread must have the CUDA device current whose memory getBatch hands out: TensorRT and the calibrator's
//     buffers must share one CUDA context ("invalid resource handle" otherwise).
//   - `options`, `calibrator` and `callbacks` must stay valid until buildEngine returns; nothing is kept
//     after.
//   - callbacks.log and callbacks.progress may be called from TensorRT's internal threads as well as the
//     calling thread (ILogger and IProgressMonitor must be thread-safe); buildEngine serializes the calls
//     with a mutex, so a callback never runs concurrently with itself, but it must not block on the JS thread
//     for long (post to a thread-safe function and return).
//   - Cancellation: set *callbacks.abort (or return false from progress). On TensorRT 9.x/10.x the progress
//     monitor's stepComplete then returns false and the build stops at the next step; on 8.5/8.6 (no
//     IProgressMonitor) the calibrator must also see the abort (its getBatch returns false) and the build
//     stops only when TensorRT checks next. Either way buildEngine returns false with kABORTED and no plan.
//   - Object lifetimes (TensorRT's headers: an ILogger, IProgressMonitor and IInt8Calibrator must outlive
//     every TensorRT object that uses them): the logger, the progress monitor and the calibrator adapter are
//     declared before the builder, network, parser and config, so they are destroyed after them on every
//     return path.
//
// Errors: on failure `error` holds a code (kTENSORRT_UNAVAILABLE, kTENSORRT_BUILD, kINPUT_NAME, kINPUT_SHAPE,
// kABORTED; the run rejects with its name as `code`) and a message. Parser errors are one per line after the
// first line of the message, in the form formatParserError() in lib/backends/tensorrt/errors.ts parses:
//   "node 12 (Conv_3): [ONNX Conv] UNSUPPORTED_NODE: <description>"   (name/op only on TensorRT >= 10)
// If the calibrator recorded its own error (first error wins on the run), the run prefers that one.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/calibrator.h"
#include "core/run_error.h"

namespace trtc {

// Mirrors nvinfer1::ILogger::Severity (same values): lower is more severe.
enum class LogSeverity : int32_t {
  kINTERNAL_ERROR = 0,
  kERROR = 1,
  kWARNING = 2,
  kINFO = 3,
  kVERBOSE = 4,
};

// MIN/OPT/MAX dimensions of one network input, batch dimension included. All three have the input's rank.
// TensorRT calibrates at OPT only: the calibrator's batches must have exactly the OPT shape
// (lib/backends/tensorrt/profile.ts validateCalibrationShapes checks this before the build starts).
// A shape-tensor input (an INT32/INT64 input whose VALUES set shapes inside the network, e.g. a Reshape's
// target) also needs MIN/OPT/MAX values (IOptimizationProfile::setShapeValues); the calibration batches must
// then hold the OPT values. Empty for every other input; TensorRT says which inputs are shape tensors only
// after parsing, so buildEngine refuses values for an input that is not one, and a shape tensor without them.
struct InputShapeProfile {
  std::string name;
  std::vector<int64_t> min;
  std::vector<int64_t> opt;
  std::vector<int64_t> max;
  std::vector<int64_t> minValues;
  std::vector<int64_t> optValues;
  std::vector<int64_t> maxValues;
};

// The "tensorrt" builder's options (RunOptions::engine), copied from the JS `engine` object on the JS thread
// before the builder thread starts. Every field is set from the options (lib/backends/tensorrt/flags.ts
// resolves them); the initializers only keep the struct deterministic.
struct EngineBuildOptions {
  std::string onnxPath;                        // the FP32 ONNX model
  std::vector<InputShapeProfile> inputShapes;  // required for every input with runtime (-1) dims
  bool fp16{false};                            // also enable FP16 kernels (INT8 with FP16 fallback)
  uint64_t workspaceBytes{0};                  // MemoryPoolType::kWORKSPACE limit; 0 keeps TensorRT's default
  int32_t dlaCore{-1};                         // -1: GPU only; >= 0: build for this DLA core (Jetson)
  bool allowGpuFallback{false};                // with dlaCore >= 0: layers DLA cannot run go to the GPU
  LogSeverity verbosity{LogSeverity::kWARNING};  // messages this severe or more reach callbacks.log
  // The model carries Q/DQ nodes (explicit quantization): no calibrator is attached, TensorRT takes the
  // scales from the model, and the run's calibrator is never called (no cache read or written).
  bool explicitQuantization{false};
  // Build with ProfilingVerbosity::kDETAILED and return the engine's layer information (IEngineInspector,
  // JSON) in EngineBuildResult::layerInformation: which layers run in INT8. Deserializes the engine once
  // more.
  bool inspectLayers{false};
};

// What a successful build produced.
struct EngineBuildResult {
  std::vector<uint8_t> plan;     // the serialized engine
  std::string layerInformation;  // IEngineInspector's JSON with inspectLayers, else ""
};

struct EngineBuildCallbacks {
  // TensorRT's and the parser's log messages (not printed anywhere else).
  std::function<void(LogSeverity severity, std::string const& message)> log;
  // Build progress (TensorRT >= 9 only): step steps of nbSteps done in `phase` (0 at phase start, nbSteps at
  // phase end). Return false to cancel the build.
  std::function<bool(std::string const& phase, int32_t step, int32_t nbSteps)> progress;
  // Set from any thread to cancel (see Threading above). May be null.
  std::atomic<bool> const* abort{nullptr};
};

// Builds a serialized INT8 engine. Returns true and fills `result` on success; false with `error` set
// otherwise. Never throws. See the top of this file for threading and errors.
bool buildEngine(EngineBuildOptions const& options, Calibrator& calibrator,
                 EngineBuildCallbacks const& callbacks, EngineBuildResult& result, RunError& error) noexcept;

// True when the TensorRT builder was compiled into this addon.
bool tensorrtCompiledIn() noexcept;

// "MAJOR.MINOR.PATCH" of the TensorRT headers compiled against (NvInferVersion.h), or "" when not compiled
// in.
std::string tensorrtVersion();

// "MAJOR.MINOR.PATCH" of the TensorRT library loaded now (getInferLibVersion()), or "" when not compiled in.
// This is the version TensorRT writes into the caches it produces and the one it reads caches for; it can
// differ from tensorrtVersion() when the addon runs against another libnvinfer than the one it was built
// with.
std::string tensorrtLibraryVersion();

// getInferLibVersion()'s number as "MAJOR.MINOR.PATCH": TensorRT <= 9 encodes MAJOR*1000 + MINOR*100 + PATCH
// (8.6.1 -> 8601), TensorRT >= 10 MAJOR*10000 + MINOR*100 + PATCH (10.3.0 -> 100300). "" for a number <= 0.
inline std::string formatInferLibVersion(int32_t version) {
  if (version <= 0) return std::string();
  int32_t const major = version >= 100000 ? version / 10000 : version / 1000;
  int32_t const minor = (version >= 100000 ? version % 10000 : version % 1000) / 100;
  int32_t const patch = version % 100;
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

// Why TensorRT was not compiled in (what the build found, or that node-gyp never builds it), or "" when it
// was.
std::string tensorrtSkippedReason();

}  // namespace trtc
