// buildEngine() with TensorRT 8.5-10.x (contract, threading and errors: engine_builder.h).
// Written against NVIDIA/TensorRT's public headers: include/NvInfer.h, NvInferRuntime.h, NvInferRuntimeBase.h
// and NvOnnxParser.h of every release from 8.5 to 10.16 (the header check in the README compiles this file
// against each); version differences are marked where they occur.
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

#if NV_TENSORRT_MAJOR >= 9
// IProgressMonitor (9.0+: a plain interface on 9.x, v_1_0::IProgressMonitor on 10.x; same three methods):
// forwards phase/step progress; stepComplete returns false to stop the build when the abort flag is set or
// callbacks.progress asks to cancel. Must be thread-safe.
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
  // nodeName()/nodeOperator() are in the 10.x parser's IParserError; 8.x/9.x have node() (the index) only.
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

// nvinfer1::Dims holds int32_t on 8.x/9.x (Dims32) and int64_t on 10.x (Dims64).
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

// Sets MIN/OPT/MAX values of a shape-tensor input. 10.11 deprecated the int32_t setShapeValues for
// setShapeValuesV2 (int64_t); both take the values in row-major order. Values must fit int32_t before 10.11
// (profile.ts checks the int32 range for every version).
bool setShapeValues(nvinfer1::IOptimizationProfile& profile, char const* name,
                    nvinfer1::OptProfileSelector select, std::vector<int64_t> const& values) {
#if NV_TENSORRT_MAJOR > 10 || (NV_TENSORRT_MAJOR == 10 && NV_TENSORRT_MINOR >= 11)
  return profile.setShapeValuesV2(name, select, values.data(), static_cast<int32_t>(values.size()));
#else
  std::vector<int32_t> narrow(values.begin(), values.end());
  return profile.setShapeValues(name, select, narrow.data(), static_cast<int32_t>(narrow.size()));
#endif
}

std::string formatValues(std::vector<int64_t> const& values) {
  std::string s = "[";
  for (size_t i = 0; i < values.size(); ++i) s += (i ? ", " : "") + std::to_string(values[i]);
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
    // A shape tensor's values shape the network: every profile needs them (setShapeValues), or the build
    // fails.
    bool const shapeTensor = input->isShapeTensor();
    auto const it = shapes.find(name);
    if (it == shapes.end()) {
      if (dynamic || shapeTensor) {
        return RunError{RunErrorCode::kINPUT_SHAPE,
                        "input \"" + name + "\" " +
                            (shapeTensor ? std::string("is a shape tensor")
                                         : "has runtime dimensions " + formatDims(dims)) +
                            " but no input shape was given for it (inputShapes: { \"" + name +
                            "\": [min/opt/max] })"};
      }
      continue;
    }
    InputShapeProfile const& given = *it->second;
    nvinfer1::Dims minDims;
    nvinfer1::Dims optDims;
    nvinfer1::Dims maxDims;
    if (!toDims(given.min, minDims) || !toDims(given.opt, optDims) || !toDims(given.max, maxDims) ||
        minDims.nbDims != dims.nbDims || optDims.nbDims != dims.nbDims || maxDims.nbDims != dims.nbDims) {
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
    bool const hasValues = !given.optValues.empty();
    if (shapeTensor && !hasValues) {
      return RunError{
          RunErrorCode::kINPUT_SHAPE,
          "input \"" + name +
              "\" is a shape tensor (its values set shapes inside the network): give its min/opt/max "
              "values too (inputShapes: { \"" +
              name +
              "\": { min, opt, max, values: { min, opt, max } } }); the calibration batches must "
              "hold the opt values"};
    }
    if (!shapeTensor && hasValues) {
      return RunError{RunErrorCode::kINPUT_SHAPE, "values were given for input \"" + name +
                                                      "\", which TensorRT does not treat as a shape tensor; "
                                                      "give only its shapes"};
    }
    if (hasValues &&
        (!setShapeValues(*profile, name.c_str(), nvinfer1::OptProfileSelector::kMIN, given.minValues) ||
         !setShapeValues(*profile, name.c_str(), nvinfer1::OptProfileSelector::kOPT, given.optValues) ||
         !setShapeValues(*profile, name.c_str(), nvinfer1::OptProfileSelector::kMAX, given.maxValues))) {
      return RunError{RunErrorCode::kINPUT_SHAPE,
                      "TensorRT rejected the min/opt/max values " + formatValues(given.minValues) + " / " +
                          formatValues(given.optValues) + " / " + formatValues(given.maxValues) +
                          " of shape tensor \"" + name + "\" " + formatDims(dims)};
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
  // docs). A Q/DQ build has no calibrator and so no calibration profile.
  if (!options.explicitQuantization && !config.setCalibrationProfile(profile))
    return RunError{RunErrorCode::kINPUT_SHAPE, "setCalibrationProfile rejected the profile"};
  return RunError{};
}

// The loaded libnvinfer against the headers this file was compiled with. Another major means another ABI (the
// interfaces' vtables differ): refused before any TensorRT object exists. Another minor builds, but TensorRT
// then writes and reads caches for the library's version, not the headers': said in the log.
RunError checkLibraryVersion(EngineBuildCallbacks const& callbacks) {
  int32_t const loaded = getInferLibVersion();
  std::string const library = formatInferLibVersion(loaded);
  std::string const headers = tensorrtVersion();
  int32_t const major = loaded >= 100000 ? loaded / 10000 : loaded / 1000;
  if (major != NV_TENSORRT_MAJOR) {
    return RunError{
        RunErrorCode::kTENSORRT_UNAVAILABLE,
        "the TensorRT library loaded (libnvinfer " + library +
            ") is not the major version this addon "
            "was compiled against (TensorRT " +
            headers +
            " headers); rebuild the addon against the "
            "installed TensorRT (npm rebuild trt-calibrator --build-from-source), or put the matching "
            "libnvinfer first on the library "
            "path"};
  }
  int32_t const minor = (loaded >= 100000 ? loaded % 10000 : loaded % 1000) / 100;
  if (minor != NV_TENSORRT_MINOR && callbacks.log) {
    callbacks.log(LogSeverity::kWARNING, "trt-calibrator: libnvinfer " + library +
                                             " is loaded but the addon was compiled against TensorRT " +
                                             headers + " headers; the cache and engine are TensorRT " +
                                             library + "'s");
  }
  return RunError{};
}

template <typename T>
using TrtPtr =
    std::unique_ptr<T>;  // TensorRT 8.0+ objects are released with delete (destroy() is gone in 10.x)

// IEngineInspector's JSON of the built engine (deserialized once more for it). "" when TensorRT cannot say.
std::string layerInformation(nvinfer1::ILogger& logger, std::vector<uint8_t> const& plan) {
  TrtPtr<nvinfer1::IRuntime> runtime(nvinfer1::createInferRuntime(logger));
  if (!runtime) return std::string();
  TrtPtr<nvinfer1::ICudaEngine> engine(runtime->deserializeCudaEngine(plan.data(), plan.size()));
  if (!engine) return std::string();
  TrtPtr<nvinfer1::IEngineInspector> inspector(engine->createEngineInspector());
  if (!inspector) return std::string();
  char const* json = inspector->getEngineInformation(nvinfer1::LayerInformationFormat::kJSON);
  return json == nullptr ? std::string() : std::string(json);
}

bool build(EngineBuildOptions const& options, Calibrator& calibrator, EngineBuildCallbacks const& callbacks,
           EngineBuildResult& result, RunError& error) {
  // Declared first, destroyed last: TensorRT's headers require the logger, the progress monitor and the
  // calibrator to outlive every TensorRT object that uses them (builder, network, parser, config). Every
  // return below, the cancelled() ones included, destroys the config before the adapter and the monitor.
  std::mutex callbackMutex;  // serializes callbacks.log / callbacks.progress across TensorRT threads
  ForwardingLogger logger(callbacks, options.verbosity, callbackMutex);
#if NV_TENSORRT_MAJOR >= 9
  ForwardingProgressMonitor monitor(callbacks, callbackMutex);
  auto const cancelled = [&] { return monitor.cancelled(); };
#else
  auto const cancelled = [&] { return aborted(callbacks); };  // 8.5/8.6 have no IProgressMonitor
#endif
  std::unique_ptr<nvinfer1::IInt8Calibrator> adapter;
  auto fail = [&](RunError failure) {
    error = std::move(failure);
    std::string const last = logger.lastError();
    if (!last.empty() && error.code == RunErrorCode::kTENSORRT_BUILD)
      error.message += " (TensorRT: " + last + ")";
    return false;
  };

  RunError versionError = checkLibraryVersion(callbacks);
  if (versionError.code != RunErrorCode::kNONE) return fail(std::move(versionError));

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
  // kINT8 also for a Q/DQ model: weakly typed networks need it to run the Q/DQ layers in INT8 (deprecated in
  // 10.12, removed in 11, where only strongly typed networks exist).
  config->setFlag(nvinfer1::BuilderFlag::kINT8);
  if (options.fp16) config->setFlag(nvinfer1::BuilderFlag::kFP16);
  if (options.inspectLayers) config->setProfilingVerbosity(nvinfer1::ProfilingVerbosity::kDETAILED);
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

  if (!options.explicitQuantization) {
    RunError adapterError;
    adapter = trt::makeCalibratorAdapter(calibrator, adapterError);
    if (!adapter) return fail(std::move(adapterError));
    config->setInt8Calibrator(adapter.get());  // deprecated in 10.1
  }
#if NV_TENSORRT_MAJOR >= 9
  config->setProgressMonitor(&monitor);
#endif
  if (cancelled()) return fail({RunErrorCode::kABORTED, "the engine build was cancelled before it started"});

  TrtPtr<nvinfer1::IHostMemory> serialized(builder->buildSerializedNetwork(*network, *config));
  if (cancelled()) return fail({RunErrorCode::kABORTED, "the engine build was cancelled"});
  if (!serialized || serialized->size() == 0)
    return fail({RunErrorCode::kTENSORRT_BUILD, "buildSerializedNetwork failed"});
  auto const* bytes = static_cast<uint8_t const*>(serialized->data());
  result.plan.assign(bytes, bytes + serialized->size());
  if (options.inspectLayers) result.layerInformation = layerInformation(logger, result.plan);
  return true;
}

TRTC_TRT_DEPRECATION_END

}  // namespace

bool buildEngine(EngineBuildOptions const& options, Calibrator& calibrator,
                 EngineBuildCallbacks const& callbacks, EngineBuildResult& result, RunError& error) noexcept {
  result = EngineBuildResult{};
  try {
    return build(options, calibrator, callbacks, result, error);
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
  result = EngineBuildResult{};
  return false;
}

bool tensorrtCompiledIn() noexcept { return true; }

std::string tensorrtSkippedReason() { return std::string(); }

std::string tensorrtVersion() {
  return std::to_string(NV_TENSORRT_MAJOR) + "." + std::to_string(NV_TENSORRT_MINOR) + "." +
         std::to_string(NV_TENSORRT_PATCH);
}

std::string tensorrtLibraryVersion() { return formatInferLibVersion(getInferLibVersion()); }

}  // namespace trtc
