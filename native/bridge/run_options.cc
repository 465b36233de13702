#include "bridge/run_options.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "bridge/addon.h"
#include "bridge/js_errors.h"

namespace trtc {
namespace {

// Batches above this size are refused before any allocation (a run holds two slots per input).
constexpr size_t kMAX_INPUT_BYTES = size_t{1} << 34;  // 16 GiB

#if !TRTC_TEST_HOOKS
// What the release addon says about the test build's parts.
[[noreturn]] void testBuildOnly(Napi::Env env, std::string const& what) {
  throw invalidArgument(env, what + " is only in the test build of the addon (built with TRTC_TEST_HOOKS=ON)",
                        OptionError::kRANGE);
}
#endif

[[noreturn]] void forOneBuilder(Napi::Env env, char const* key, char const* builder) {
  throw invalidArgument(env, std::string("options.") + key + " is for builder \"" + builder + "\" only",
                        OptionError::kRANGE);
}

// The fields of one JS options object, read with their types checked. Every read names the field in its
// error.
class Fields {
 public:
  // Throws unless `value` is a plain object whose keys are all in `known`.
  Fields(Napi::Env env, Napi::Value value, std::string path, std::initializer_list<char const*> known)
      : mEnv(env), mPath(std::move(path)) {
    if (!value.IsObject() || value.IsArray() || value.IsFunction())
      throw invalidOption(env, mPath, "an object", value);
    mObject = value.As<Napi::Object>();
    Napi::Array keys = mObject.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      std::string const key = keys.Get(i).ToString().Utf8Value();
      bool const isKnown = std::any_of(known.begin(), known.end(), [&](char const* k) { return key == k; });
      if (!isKnown) throw invalidArgument(env, "Unknown option \"" + key + "\" for " + mPath);
    }
  }

  Napi::Env env() const { return mEnv; }
  std::string path(char const* key) const { return mPath + "." + key; }
  Napi::Value value(char const* key) const { return mObject.Get(key); }
  // Optional fields: absent when undefined.
  bool has(char const* key) const { return !value(key).IsUndefined(); }

  std::string string(char const* key) const {
    Napi::Value v = value(key);
    if (!v.IsString()) throw invalidOption(mEnv, path(key), "a non-empty string", v);
    std::string text = v.As<Napi::String>().Utf8Value();
    if (text.empty()) throw invalidOption(mEnv, path(key), "a non-empty string", v, OptionError::kRANGE);
    return text;
  }

  bool boolean(char const* key) const {
    Napi::Value v = value(key);
    if (!v.IsBoolean()) throw invalidOption(mEnv, path(key), "a boolean", v);
    return v.As<Napi::Boolean>().Value();
  }

  // A finite number in [min, max].
  double number(char const* key, double min, double max) const {
    Napi::Value v = value(key);
    std::string const expected = "a number in [" + text(min) + ", " + text(max) + "]";
    if (!v.IsNumber()) throw invalidOption(mEnv, path(key), expected, v);
    double const d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= min && d <= max)) throw invalidOption(mEnv, path(key), expected, v, OptionError::kRANGE);
    return d;
  }

  // An integer in [min, max].
  int64_t integer(char const* key, int64_t min, int64_t max) const {
    return integerOf(value(key), path(key), min, max);
  }

  // An array of strings.
  std::vector<std::string> strings(char const* key) const {
    Napi::Value v = value(key);
    if (!v.IsArray()) throw invalidOption(mEnv, path(key), "an array of strings", v);
    Napi::Array array = v.As<Napi::Array>();
    std::vector<std::string> out;
    for (uint32_t i = 0; i < array.Length(); ++i) {
      Napi::Value item = array.Get(i);
      if (!item.IsString())
        throw invalidOption(mEnv, path(key) + "[" + std::to_string(i) + "]", "a string", item);
      out.push_back(item.As<Napi::String>().Utf8Value());
    }
    return out;
  }

  // An array of integers in [min, max] (dimensions).
  std::vector<int64_t> integers(char const* key, int64_t min, int64_t max) const {
    Napi::Value v = value(key);
    if (!v.IsArray()) throw invalidOption(mEnv, path(key), "an array of integers", v);
    Napi::Array array = v.As<Napi::Array>();
    std::vector<int64_t> out;
    for (uint32_t i = 0; i < array.Length(); ++i)
      out.push_back(integerOf(array.Get(i), path(key) + "[" + std::to_string(i) + "]", min, max));
    return out;
  }

  // One of `names`: the index of the one given.
  size_t oneOf(char const* key, std::initializer_list<char const*> names) const {
    Napi::Value v = value(key);
    std::string expected = "one of ";
    for (char const* name : names)
      expected += (name == *names.begin() ? "\"" : ", \"") + std::string(name) + "\"";
    if (!v.IsString()) throw invalidOption(mEnv, path(key), expected, v);
    std::string const given = v.As<Napi::String>().Utf8Value();
    size_t index = 0;
    for (char const* name : names) {
      if (given == name) return index;
      ++index;
    }
    throw invalidOption(mEnv, path(key), expected, v, OptionError::kRANGE);
  }

 private:
  static std::string text(double d) {
    std::string s = std::to_string(d);
    s.erase(s.find_last_not_of('0') + 1);
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
  }

  int64_t integerOf(Napi::Value v, std::string const& where, int64_t min, int64_t max) const {
    std::string const expected = "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
    if (!v.IsNumber()) throw invalidOption(mEnv, where, expected, v);
    double const d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= static_cast<double>(min) && d <= static_cast<double>(max)) || d != std::trunc(d))
      throw invalidOption(mEnv, where, expected, v, OptionError::kRANGE);
    return static_cast<int64_t>(d);
  }

  Napi::Env mEnv;
  Napi::Object mObject;
  std::string mPath;
};

std::vector<InputDesc> parseInputs(Fields const& options) {
  Napi::Env env = options.env();
  Napi::Value value = options.value("inputs");
  if (!value.IsArray() || value.As<Napi::Array>().Length() == 0)
    throw invalidOption(env, "options.inputs", "a non-empty array of inputs", value);
  Napi::Array array = value.As<Napi::Array>();
  std::vector<InputDesc> inputs;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Fields input(env, array.Get(i), "options.inputs[" + std::to_string(i) + "]", {"name", "shape", "dtype"});
    InputDesc in;
    in.name = input.string("name");
    in.dtype = input.value("dtype").IsString() ? input.value("dtype").As<Napi::String>().Utf8Value() : "";
    in.elementSize = dtypeSize(in.dtype);
    if (in.elementSize == 0) {
      throw invalidOption(env, input.path("dtype"),
                          "one of float32, float16, int32, int64, int8, uint8, bool", input.value("dtype"),
                          input.value("dtype").IsString() ? OptionError::kRANGE : OptionError::kTYPE);
    }
    in.shape = input.integers("shape", 1, 1000000000);
    if (in.shape.empty())
      throw invalidOption(env, input.path("shape"), "a non-empty array of dimensions", input.value("shape"),
                          OptionError::kRANGE);
    size_t elements = 1;
    for (int64_t d : in.shape) {
      elements *= static_cast<size_t>(d);
      if (elements > kMAX_INPUT_BYTES) break;
    }
    in.bytes = elements * in.elementSize;
    if (elements > kMAX_INPUT_BYTES || in.bytes > kMAX_INPUT_BYTES)
      throw invalidOption(env, input.path("shape"), "a batch of at most 16 GiB", input.value("shape"),
                          OptionError::kRANGE);
    for (InputDesc const& other : inputs) {
      if (other.name == in.name)
        throw invalidOption(env, input.path("name"), "a name not used by another input", input.value("name"),
                            OptionError::kRANGE);
    }
    inputs.push_back(std::move(in));
  }
  return inputs;
}

BuiltinOptions parseBuiltin(Napi::Env env, Napi::Value value) {
  Fields builtin(env, value, "options.builtin",
                 {"algorithm", "percentile", "tensorrtVersion", "cacheAlgorithm", "maxActivationBytes",
                  "splittable", "histogramThreads"});
  BuiltinOptions out;
  static constexpr AmaxAlgorithm kALGORITHMS[] = {AmaxAlgorithm::kENTROPY, AmaxAlgorithm::kMINMAX,
                                                  AmaxAlgorithm::kPERCENTILE, AmaxAlgorithm::kMSE};
  out.algorithm = kALGORITHMS[builtin.oneOf("algorithm", {"entropy", "minmax", "percentile", "mse"})];
  out.percentile = builtin.number("percentile", 0, 100);
  if (out.percentile <= 0) {
    throw invalidOption(env, builtin.path("percentile"), "a number in (0, 100]", builtin.value("percentile"),
                        OptionError::kRANGE);
  }
  out.tensorrtVersion = builtin.string("tensorrtVersion");
  out.cacheAlgorithm = builtin.string("cacheAlgorithm");
  out.maxActivationBytes = builtin.number("maxActivationBytes", 0, 9007199254740991.0);
  out.splittable = builtin.boolean("splittable");
  out.histogramThreads = static_cast<size_t>(builtin.integer("histogramThreads", 0, 4096));
  return out;
}

EngineBuildOptions parseEngine(Napi::Env env, Napi::Value value) {
  Fields engine(env, value, "options.engine",
                {"onnxPath", "inputShapes", "fp16", "workspaceBytes", "dlaCore", "allowGpuFallback",
                 "verbosity", "explicitQuantization", "inspectLayers"});
  EngineBuildOptions out;
  out.onnxPath = engine.string("onnxPath");
  Napi::Value shapes = engine.value("inputShapes");
  if (!shapes.IsArray())
    throw invalidOption(env, engine.path("inputShapes"), "an array of shape ranges", shapes);
  Napi::Array array = shapes.As<Napi::Array>();
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Fields range(env, array.Get(i), engine.path("inputShapes") + "[" + std::to_string(i) + "]",
                 {"name", "min", "opt", "max", "values"});
    InputShapeProfile profile;
    profile.name = range.string("name");
    profile.min = range.integers("min", -1, INT32_MAX);
    profile.opt = range.integers("opt", -1, INT32_MAX);
    profile.max = range.integers("max", -1, INT32_MAX);
    if (range.has("values")) {
      // A shape-tensor input's MIN/OPT/MAX values (setShapeValues takes int32_t before TensorRT 10.11).
      Fields values(env, range.value("values"), range.path("values"), {"min", "opt", "max"});
      profile.minValues = values.integers("min", INT32_MIN, INT32_MAX);
      profile.optValues = values.integers("opt", INT32_MIN, INT32_MAX);
      profile.maxValues = values.integers("max", INT32_MIN, INT32_MAX);
      if (profile.optValues.empty() || profile.minValues.size() != profile.optValues.size() ||
          profile.maxValues.size() != profile.optValues.size()) {
        throw invalidOption(env, values.path("opt"), "min, opt and max values of one non-zero length",
                            values.value("opt"), OptionError::kRANGE);
      }
    }
    out.inputShapes.push_back(std::move(profile));
  }
  out.fp16 = engine.boolean("fp16");
  out.workspaceBytes = static_cast<uint64_t>(engine.integer("workspaceBytes", 0, 9007199254740991LL));
  out.dlaCore = static_cast<int32_t>(engine.integer("dlaCore", -1, 1023));
  out.allowGpuFallback = engine.boolean("allowGpuFallback");
  out.verbosity = static_cast<LogSeverity>(engine.integer("verbosity", 0, 4));
  out.explicitQuantization = engine.has("explicitQuantization") && engine.boolean("explicitQuantization");
  out.inspectLayers = engine.has("inspectLayers") && engine.boolean("inspectLayers");
  return out;
}

void parseTestHooks(Napi::Env env, Napi::Value value, RunOptions& out) {
#if TRTC_TEST_HOOKS
  Fields hooks(env, value, "options.testHooks", {"copyBuffers", "capture", "injectCudaError"});
  out.testHooks.copyBuffers = hooks.boolean("copyBuffers");
  out.testHooks.capture = hooks.boolean("capture");
  if (hooks.has("injectCudaError")) out.calibrator.injectCudaError = hooks.string("injectCudaError");
#else
  (void)value;
  (void)out;
  testBuildOnly(env, "options.testHooks");
#endif
}

}  // namespace

char const* builderKindName(BuilderKind kind) noexcept {
  switch (kind) {
    case BuilderKind::kBUILTIN:
      return "builtin";
    case BuilderKind::kTENSORRT:
      return "tensorrt";
    case BuilderKind::kTEST:
      return "test";
    case BuilderKind::kSUM:
      return "sum";
  }
  return "unknown";
}

RunOptions parseRunOptions(Napi::Env env, Napi::Value value) {
  Fields options(env, value, "options",
                 {"inputs", "batchSize", "algorithm", "memory", "deviceIndex", "prefetch", "builder",
                  "bindingNames", "histograms", "inference", "builtin", "engine", "testHooks"});
  RunOptions out;
  CalibratorConfig& config = out.calibrator;
  config.inputs = parseInputs(options);
  config.batchSize = static_cast<int32_t>(options.integer("batchSize", 1, INT32_MAX));
  config.algorithm = static_cast<CalibrationAlgo>(options.integer("algorithm", 0, 3));
  config.memory = options.oneOf("memory", {"auto", "host"}) == 0 ? MemoryKind::kAUTO : MemoryKind::kHOST;
  config.deviceIndex = static_cast<int32_t>(options.integer("deviceIndex", 0, INT32_MAX));
  config.prefetch = options.boolean("prefetch");

  static constexpr BuilderKind kBUILDERS[] = {BuilderKind::kBUILTIN, BuilderKind::kTENSORRT,
                                              BuilderKind::kTEST, BuilderKind::kSUM};
  out.builder = kBUILDERS[options.oneOf("builder", {"builtin", "tensorrt", "test", "sum"})];
#if !TRTC_TEST_HOOKS
  if (out.builder == BuilderKind::kTEST || out.builder == BuilderKind::kSUM)
    testBuildOnly(env, std::string("builder \"") + builderKindName(out.builder) + "\"");
#endif
  out.bindingNames = options.strings("bindingNames");

  // Each builder's own options: required for it, refused for the others (nothing given is silently unused).
  if (out.builder == BuilderKind::kBUILTIN) {
    out.histograms = unwrapHistogramSet(env, options.value("histograms"));
    if (!out.histograms)
      throw invalidOption(env, "options.histograms", "a native HistogramSet", options.value("histograms"));
    if (options.has("inference")) {
      out.inference = unwrapOrtSession(env, options.value("inference"));
      if (!out.inference)
        throw invalidOption(env, "options.inference", "a native OrtSession", options.value("inference"));
    }
    out.builtin = parseBuiltin(env, options.value("builtin"));
  } else {
    for (char const* key : {"histograms", "inference", "builtin"}) {
      if (options.has(key)) forOneBuilder(env, key, "builtin");
    }
  }
  if (out.builder == BuilderKind::kTENSORRT) {
    out.engine = parseEngine(env, options.value("engine"));
  } else if (options.has("engine")) {
    forOneBuilder(env, "engine", "tensorrt");
  }
  if (options.has("testHooks")) parseTestHooks(env, options.value("testHooks"), out);
  // Every field is read; then what the fields say together.
  if (out.builder == BuilderKind::kTENSORRT) {
    // TensorRT's getBatch contract: every binding is a device pointer. Host slots would be read as device
    // addresses by TensorRT's kernels.
    if (config.memory == MemoryKind::kHOST) {
      throw invalidOption(
          env, "options.memory",
          "\"auto\" with builder \"tensorrt\" (TensorRT's calibrator reads its batches from device "
          "memory; host memory is for the builtin builder)",
          options.value("memory"), OptionError::kRANGE);
    }
  }
  return out;
}

}  // namespace trtc
