// buildEngine() with TensorRT 8.6-10.x (contract, threading and errors: engine_builder.h).
// Written against NVIDIA/TensorRT's public headers: include/NvInfer.h, NvInferRuntime.h, NvInferRuntimeBase.h
// (8.6 and 10.7) and NvOnnxParser.h (10.x); version differences are marked where they occur.
#include "tensorrt/engine_builder.h"

// calibrator_adapter.h first: it includes NvInfer.h with TensorRT's deprecation warnings silenced.
#include "tensorrt/calibrator_adapter.h"

TRTC_TRT_DEPRECATION_BEGIN
#include <NvOnnxParser.h>
TRTC_TRT_DEPRECATION_END

#include <exception>
#include <map>
#include <mutex>
#include <sstream>
#include <type_traits>
#include <utility>

namespace trtc {
namespace {

TRTC_TRT_DEPRECATION_BEGIN

// Forwards TensorRT's log to callbacks.log with severity (never stdout). ILogger must be thread-safe.
class ForwardingLogger final : public nvinfer1::ILogger {
 public:
  ForwardingLogger(EngineBuildCallbacks const& callbacks, LogSeverity verbosity, std::mutex& mutex)
      : mCallbacks(callbacks), mVerbosity(verbosity), mMutex(mutex) {}

  void log(Severity severity, nvinfer1::AsciiChar const* msg) noexcept override {
    try {
      auto const sev = static_cast<LogSeverity>(static_cast<int32_t>(severity));
      std::lock_guard<std::mutex> lock(mMutex);
      if (sev <= LogSeverity::kERROR && msg != nullptr) mLastError = msg;
      if (sev <= mVerbosity && mCallbacks.log) mCallbacks.log(sev, msg == nullptr ? std::string() : msg);
    } catch (...) {
      // A log callback failure must not reach TensorRT.
    }
  }

  std::string lastError() {
    std::lock_guard<std::mutex> lock(mMutex);
    return mLastError;
  }

 private:
  EngineBuildCallbacks const& mCallbacks;
  LogSeverity const mVerbosity;
  std::mutex& mMutex;
  std::string mLastError;
};

bool aborted(EngineBuildCallbacks const& callbacks) {
  return callbacks.abort != nullptr && callbacks.abort->load(std::memory_order_acquire);
}

#if NV_TENSORRT_MAJOR >= 10
// IProgressMonitor (10.0+, v_1_0::IProgressMonitor): forwards phase/step progress; stepComplete returns false
// to stop the build when the abort flag is set or callbacks.progress asks to cancel. Must be thread-safe.
class ForwardingProgressMonitor final : public nvinfer1::IProgressMonitor {
 public:
  ForwardingProgressMonitor(EngineBuildCallbacks const& callbacks, std::mutex& mutex)
      : mCallbacks(callbacks), mMutex(mutex) {}

  void phaseStart(char const* phaseName, char const* /*parentPhase*/, int32_t nbSteps) noexcept override {
    try {
      std::lock_guard<std::mutex> lock(mMutex);
      std::string const name = phaseName == nullptr ? std::string() : phaseName;
      mSteps[name] = nbSteps;
      report(name, 0, nbSteps);
    } catch (...) {
    }
  }

  bool stepComplete(char const* phaseName, int32_t step) noexcept override {
    try {
      std::lock_guard<std::mutex> lock(mMutex);
      std::string const name = phaseName == nullptr ? std::string() : phaseName;
      auto const it = mSteps.find(name);
      report(name, step + 1, it == mSteps.end() ? step + 1 : it->second);
    } catch (...) {
    }
    return !cancelled();
  }

  void phaseFinish(char const* phaseName) noexcept override {
    try {
      std::lock_guard<std::mutex> lock(mMutex);
      std::string const name = phaseName == nullptr ? std::string() : phaseName;
      auto const it = mSteps.find(name);
      if (it != mSteps.end()) {
        report(name, it->second, it->second);
        mSteps.erase(it);
      }
    } catch (...) {
    }
  }

  bool cancelled() const noexcept { return mCancelled.load() || aborted(mCallbacks); }

 private:
  // Called with mMutex held.
  void report(std::string const& phase, int32_t step, int32_t nbSteps) {
    if (mCallbacks.progress && !mCallbacks.progress(phase, step, nbSteps)) mCancelled.store(true);
  }

  EngineBuildCallbacks const& mCallbacks;
  std::mutex& mMutex;
  std::map<std::string, int32_t> mSteps;
  std::atomic<bool> mCancelled{false};
};
#endif

// nvonnxparser::ErrorCode names (values from NvOnnxParser.h; 9-14 exist from 10.x, unknown ones print as
// numbers).
std::string parserCodeName(int32_t code) {
  // clang-format off
  static char const* const kNAMES[] = {"SUCCESS", "INTERNAL_ERROR", "MEM_ALLOC_FAILED", "MODEL_DESERIALIZE_FAILED",
      "INVALID_VALUE", "INVALID_GRAPH", "INVALID_NODE", "UNSUPPORTED_GRAPH", "UNSUPPORTED_NODE",
      "UNSUPPORTED_NODE_ATTR", "UNSUPPORTED_NODE_INPUT", "UNSUPPORTED_NODE_DATATYPE", "UNSUPPORTED_NODE_DYNAMIC",
      "UNSUPPORTED_NODE_SHAPE", "REFIT_FAILED"};
  // clang-format on
  if (code >= 0 && code < static_cast<int32_t>(sizeof(kNAMES) / sizeof(kNAMES[0]))) return kNAMES[code];
  return "CODE_" + std::to_string(code);
}

// One line per parser error: "node 12 (Conv_3): [ONNX Conv] UNSUPPORTED_NODE: desc"
// (lib/backends/tensorrt/errors.ts).
std::string formatParserError(nvonnxparser::IParserError const& e) {
  std::ostringstream line;
  std::string name;
  std::string op;
#if NV_TENSORRT_MAJOR >= 10
  // nodeName()/nodeOperator() are in the 10.x parser's IParserError; 8.6's has node() (the index) only.
  if (e.nodeName() != nullptr) name = e.nodeName();
  if (e.nodeOperator() != nullptr) op = e.nodeOperator();
#endif
  if (e.node() >= 0) {
    line << "node " << e.node();
    if (!name.empty()) line << " (" << name << ")";
  } else {
    line << "graph";
  }
  line << ": [ONNX" << (op.empty() ? "" : " " + op) << "] " << parserCodeName(static_cast<int32_t>(e.code()))
       << ": " << (e.desc() == nullptr ? "" : e.desc());
  std::string text = line.str();
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';  // keep one error per line
  }
  return text;
}

// nvinfer1::Dims holds int32_t on 8.6 (Dims32) and int64_t on 10.x (Dims64).
using DimValue = std::remove_reference_t<decltype(std::declval<nvinfer1::Dims&>().d[0])>;

bool toDims(std::vector<int64_t> const& shape, nvinfer1::Dims& dims) {
  if (shape.size() > static_cast<size_t>(nvinfer1::Dims::MAX_DIMS)) return false;
  dims = nvinfer1::Dims{};
  dims.nbDims = static_cast<int32_t>(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) dims.d[i] = static_cast<DimValue>(shape[i]);
  return true;
}

std::string formatDims(nvinfer1::Dims const& dims) {
  std::string s = "[";
  for (int32_t i = 0; i < dims.nbDims; ++i)
    s += (i ? ", " : "") + std::to_string(static_cast<int64_t>(dims.d[i]));
  return s + "]";
}

// The optimization profile (also the calibration profile) from options.inputShapes. Returns kNONE or an
// error.
RunError addProfile(nvinfer1::IBuilder& builder, nvinfer1::INetworkDefinition& network,
                    nvinfer1::IBuilderConfig& config, EngineBuildOptions const& options) {
  std::map<std::string, InputShapeProfile const*> shapes;
  for (auto const& s : options.inputShapes) shapes[s.name] = &s;
  nvinfer1::IOptimizationProfile* profile = builder.createOptimizationProfile();  // owned by the builder
  if (profile == nullptr) return RunError{RunErrorCode::kTENSORRT_BUILD, "createOptimizationProfile failed"};
  bool needed = false;
  for (int32_t i = 0; i < network.getNbInputs(); ++i) {
    nvinfer1::ITensor const* input = network.getInput(i);
    std::string const name = input->getName();
    nvinfer1::Dims const dims = input->getDimensions();
    bool dynamic = false;
    for (int32_t d = 0; d < dims.nbDims; ++d) dynamic = dynamic || dims.d[d] < 0;
    auto const it = shapes.find(name);
    if (it == shapes.end()) {
      if (dynamic) {
        return RunError{RunErrorCode::kINPUT_SHAPE,
                        "input \"" + name + "\" has runtime dimensions " + formatDims(dims) +
                            " but no input shape was given for it (inputShapes: { \"" + name +
                            "\": [min/opt/max] })"};
      }
      continue;
    }
    nvinfer1::Dims minDims;
    nvinfer1::Dims optDims;
    nvinfer1::Dims maxDims;
    if (!toDims(it->second->min, minDims) || !toDims(it->second->opt, optDims) ||
        !toDims(it->second->max, maxDims) || minDims.nbDims != dims.nbDims || optDims.nbDims != dims.nbDims ||
        maxDims.nbDims != dims.nbDims) {
      return RunError{RunErrorCode::kINPUT_SHAPE, "the input shapes of \"" + name +
                                                      "\" do not have the network input's rank " +
                                                      std::to_string(dims.nbDims) + " " + formatDims(dims)};
    }
    if (!profile->setDimensions(name.c_str(), nvinfer1::OptProfileSelector::kMIN, minDims) ||
        !profile->setDimensions(name.c_str(), nvinfer1::OptProfileSelector::kOPT, optDims) ||
        !profile->setDimensions(name.c_str(), nvinfer1::OptProfileSelector::kMAX, maxDims)) {
      return RunError{RunErrorCode::kINPUT_SHAPE, "TensorRT rejected the min/opt/max shapes of \"" + name +
                                                      "\" for network dims " + formatDims(dims)};
    }
    shapes.erase(it);
    needed = true;
  }
  if (!shapes.empty()) {
    return RunError{RunErrorCode::kINPUT_NAME,
                    "input shape given for \"" + shapes.begin()->first + "\", which is not a network input"};
  }
  if (!needed) return RunError{};
  if (config.addOptimizationProfile(profile) < 0)
    return RunError{RunErrorCode::kINPUT_SHAPE, "the optimization profile is not valid"};
  // Calibration runs at the profile's OPT shape only; MIN and MAX are overwritten by OPT (IBuilderConfig
  // docs).
  if (!config.setCalibrationProfile(profile))
    return RunError{RunErrorCode::kINPUT_SHAPE, "setCalibrationProfile rejected the profile"};
  return RunError{};
}

template <typename T>
using TrtPtr =
    std::unique_ptr<T>;  // TensorRT 8.0+ objects are released with delete (destroy() is gone in 10.x)

bool build(EngineBuildOptions const& options, Calibrator& calibrator, EngineBuildCallbacks const& callbacks,
           std::vector<uint8_t>& plan, RunError& error) {
  std::mutex callbackMutex;  // serializes callbacks.log / callbacks.progress across TensorRT threads
  ForwardingLogger logger(callbacks, options.verbosity, callbackMutex);
  auto fail = [&](RunError failure) {
    error = std::move(failure);
    std::string const last = logger.lastError();
    if (!last.empty() && error.code == RunErrorCode::kTENSORRT_BUILD)
      error.message += " (TensorRT: " + last + ")";
    return false;
  };

  TrtPtr<nvinfer1::IBuilder> builder(nvinfer1::createInferBuilder(logger));
  if (!builder)
    return fail({RunErrorCode::kTENSORRT_BUILD, "createInferBuilder failed (is a CUDA device available?)"});
#if NV_TENSORRT_MAJOR >= 10
  nvinfer1::NetworkDefinitionCreationFlags const networkFlags = 0;  // explicit batch is the only mode in 10.x
#else
  auto const networkFlags =
      1U << static_cast<uint32_t>(
          nvinfer1::NetworkDefinitionCreationFlag::kEXPLICIT_BATCH);  // required for ONNX
#endif
  TrtPtr<nvinfer1::INetworkDefinition> network(builder->createNetworkV2(networkFlags));
  if (!network) return fail({RunErrorCode::kTENSORRT_BUILD, "createNetworkV2 failed"});
  TrtPtr<nvonnxparser::IParser> parser(nvonnxparser::createParser(*network, logger));
  if (!parser) return fail({RunErrorCode::kTENSORRT_BUILD, "nvonnxparser::createParser failed"});

  if (!parser->parseFromFile(options.onnxPath.c_str(), static_cast<int>(options.verbosity))) {
    std::string message = "TensorRT's ONNX parser could not parse " + options.onnxPath + " (" +
                          std::to_string(parser->getNbErrors()) + " error(s))";
    for (int32_t i = 0; i < parser->getNbErrors(); ++i) {
      if (parser->getError(i) != nullptr) message += "\n" + formatParserError(*parser->getError(i));
    }
    error = RunError{RunErrorCode::kTENSORRT_BUILD, std::move(message)};
    return false;
  }

  TrtPtr<nvinfer1::IBuilderConfig> config(builder->createBuilderConfig());
  if (!config) return fail({RunErrorCode::kTENSORRT_BUILD, "createBuilderConfig failed"});
  config->setFlag(nvinfer1::BuilderFlag::kINT8);  // deprecated in 10.12, removed in 11
  if (options.fp16) config->setFlag(nvinfer1::BuilderFlag::kFP16);
  if (options.workspaceBytes > 0) {
    config->setMemoryPoolLimit(nvinfer1::MemoryPoolType::kWORKSPACE,
                               static_cast<std::size_t>(options.workspaceBytes));
  }
  if (options.dlaCore >= 0) {
    int32_t const nbCores = builder->getNbDLACores();
    if (options.dlaCore >= nbCores) {
      return fail({RunErrorCode::kTENSORRT_BUILD, "DLA core " + std::to_string(options.dlaCore) +
                                                      " was asked for but this device has " +
                                                      std::to_string(nbCores) + " DLA core(s)"});
    }
    config->setDefaultDeviceType(nvinfer1::DeviceType::kDLA);
    config->setDLACore(options.dlaCore);
    if (options.allowGpuFallback) config->setFlag(nvinfer1::BuilderFlag::kGPU_FALLBACK);
  }
  RunError profileError = addProfile(*builder, *network, *config, options);
  if (profileError.code != RunErrorCode::kNONE) return fail(std::move(profileError));

  RunError adapterError;
  std::unique_ptr<nvinfer1::IInt8Calibrator> adapter = trt::makeCalibratorAdapter(calibrator, adapterError);
  if (!adapter) return fail(std::move(adapterError));
  config->setInt8Calibrator(adapter.get());  // deprecated in 10.1

#if NV_TENSORRT_MAJOR >= 10
  ForwardingProgressMonitor monitor(callbacks, callbackMutex);
  config->setProgressMonitor(&monitor);
  auto const cancelled = [&] { return monitor.cancelled(); };
#else
  auto const cancelled = [&] { return aborted(callbacks); };          // 8.6 has no IProgressMonitor
#endif
  if (cancelled()) return fail({RunErrorCode::kABORTED, "the engine build was cancelled before it started"});

  TrtPtr<nvinfer1::IHostMemory> serialized(builder->buildSerializedNetwork(*network, *config));
  config->setInt8Calibrator(nullptr);
  if (cancelled()) return fail({RunErrorCode::kABORTED, "the engine build was cancelled"});
  if (!serialized || serialized->size() == 0)
    return fail({RunErrorCode::kTENSORRT_BUILD, "buildSerializedNetwork failed"});
  auto const* bytes = static_cast<uint8_t const*>(serialized->data());
  plan.assign(bytes, bytes + serialized->size());
  return true;
}

TRTC_TRT_DEPRECATION_END

}  // namespace

bool buildEngine(EngineBuildOptions const& options, Calibrator& calibrator,
                 EngineBuildCallbacks const& callbacks, std::vector<uint8_t>& plan,
                 RunError& error) noexcept {
  plan.clear();
  try {
    return build(options, calibrator, callbacks, plan, error);
  } catch (std::exception const& e) {
    error.code = RunErrorCode::kTENSORRT_BUILD;
    try {
      error.message = e.what();
    } catch (...) {
    }
  } catch (...) {
    error.code = RunErrorCode::kTENSORRT_BUILD;
    try {
      error.message = "unknown exception during the engine build";
    } catch (...) {
    }
  }
  plan.clear();
  return false;
}

bool tensorrtCompiledIn() noexcept { return true; }

std::string tensorrtSkippedReason() { return std::string(); }

std::string tensorrtVersion() {
  return std::to_string(NV_TENSORRT_MAJOR) + "." + std::to_string(NV_TENSORRT_MINOR) + "." +
         std::to_string(NV_TENSORRT_PATCH);
}

}  // namespace trtc
