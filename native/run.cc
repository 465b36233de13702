// Threading / lifetime of a run (RunState):
// - Created on the JS thread by startCalibration(); it owns itself (mSelf) until it has finished or the
//   environment is torn down. The builder thread (mThread) is started there and joined on the JS thread,
//   either by the finish task (posted by the builder thread as its very last act, so the join is immediate)
//   or by the environment cleanup hook (after the bridge is closed, which wakes every blocked call).
// - Everything the builder thread uses was copied into C++ structs before it started. JS values live only
//   in napi references, created and deleted on the JS thread.
// - Batch memory is allocated, uploaded and freed on the builder thread (CUDA contexts never touch the JS
//   thread). The JS side sees the host slots as external ArrayBuffers (or, where those are refused, as
//   V8-owned ArrayBuffers whose bytes are copied into the slot when a fill settles); external ones are
//   detached on the JS thread before the memory is freed, so no JS view can outlive it.
// - Abort (JS thread) sets the atomic abort flag and cancels in-flight calls: the blocked getBatch returns
//   false at once. Bookkeeping calls (create/detach views) are not cancellable.
// - process.exit() on the main thread runs no cleanup hooks: the builder thread is blocked on a condition
//   variable in heap memory and simply ends with the process; nothing it touches has a static destructor.
#include "run.h"

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "addon.h"
#include "buffers.h"
#include "builder.h"
#include "calibrator_core.h"
#include "js_bridge.h"

namespace trtc {
namespace {

std::atomic<int64_t> gLiveRuns{0};

struct Capture {
  int64_t batch{0};
  std::string name;
  std::vector<uint8_t> bytes;
  bool device{false};
};

class HeldTensorsImpl final : public HeldTensors {
 public:
  explicit HeldTensorsImpl(std::shared_ptr<JsBridge> bridge) : mPins(std::move(bridge)) {}
  size_t size() const noexcept override { return mViews.size(); }
  TensorView const& at(size_t index) const noexcept override { return mViews[index]; }
  PinnedValues mPins;
  std::vector<TensorView> mViews;
};

std::unique_ptr<Builder> makeBuilder(std::string const& kind) {
  if (kind == "test") return makeTestDriver();
  if (kind == "sum") return makeSumBuilder();
  if (kind == "tensorrt") return makeTensorrtBuilder();
  if (kind == "builtin") return makeBuiltinBuilder();
  return nullptr;
}

std::string describeJsError(Napi::Env env, Napi::Value value) {
  try {
    if (value.IsObject()) {
      Napi::Value message = value.As<Napi::Object>().Get("message");
      if (message.IsString()) return message.As<Napi::String>().Utf8Value();
    }
    return value.ToString().Utf8Value();
  } catch (...) {
    return "a JavaScript callback failed";
  }
}

Napi::Value makeView(Napi::Env env, std::string const& dtype, Napi::ArrayBuffer buffer, size_t elements) {
  if (dtype == "float32") return Napi::Float32Array::New(env, elements, buffer, 0);
  if (dtype == "float16") return Napi::Uint16Array::New(env, elements, buffer, 0);
  if (dtype == "int32") return Napi::Int32Array::New(env, elements, buffer, 0);
  if (dtype == "int64") return Napi::BigInt64Array::New(env, elements, buffer, 0);
  if (dtype == "int8") return Napi::Int8Array::New(env, elements, buffer, 0);
  return Napi::Uint8Array::New(env, elements, buffer, 0);  // uint8, bool
}

class RunState final : public BatchSource, public BuilderHost {
 public:
  RunState() { gLiveRuns++; }
  ~RunState() override {
    if (mThread.joinable()) {
      if (mThread.get_id() == std::this_thread::get_id()) {
        mThread.detach();
      } else {
        mThread.join();
      }
    }
    gLiveRuns--;
  }

  static Napi::Value start(Napi::CallbackInfo const& info);

  // ---- BatchSource (builder thread) ----
  void startFill(int32_t slot, int64_t batchIndex) noexcept override;
  FillStatus waitFill() noexcept override;
  bool readCache(std::vector<uint8_t>& out) noexcept override;
  bool writeCache(uint8_t const* data, size_t length) noexcept override;
  void batchDelivered(int64_t batchesDone) noexcept override;

  // ---- BuilderHost (builder thread) ----
  Calibrator& calibrator() noexcept override { return *mCore; }
  std::vector<InputDesc> const& inputs() const noexcept override { return mConfig.inputs; }
  BuilderOptions const& options() const noexcept override { return mBuilderOptions; }
  std::vector<char const*> bindingNamePointers() const override {
    std::vector<char const*> names;
    for (std::string const& name : mBuilderOptions.bindingNames) names.push_back(name.c_str());
    return names;
  }
  void const* hostBatch(size_t input) const noexcept override {
    int32_t const slot = mCore->currentSlot();
    return slot < 0 ? nullptr : mCore->buffers().host(slot, input);
  }
  int64_t batchesDelivered() const noexcept override { return mCore->batchesDelivered(); }
  std::unique_ptr<HeldTensors> process(int64_t batchIndex) noexcept override;
  std::shared_ptr<HistogramSet> histograms() const noexcept override { return mHistograms; }
  std::shared_ptr<Inference> inference() const noexcept override { return mInference; }
  std::atomic<bool> const& abortFlag() const noexcept override { return mStatus.abortFlag(); }
  void setResultBytes(std::string const& key, std::vector<uint8_t> bytes) noexcept override {
    try {
      mBytes.emplace_back(key, std::move(bytes));
    } catch (...) {
    }
  }
  void addLog(std::string line) noexcept override {
    try {
      std::lock_guard<std::mutex> lock(mLogMutex);
      if (mLog.size() < 10000) mLog.push_back(std::move(line));
    } catch (...) {
    }
  }
  void fail(RunErrorCode code, std::string message) noexcept override {
    mStatus.fail(code, std::move(message));
  }
  bool stopped() const noexcept override { return mStatus.stopped(); }
  void setResultNumber(std::string const& key, double value) noexcept override {
    try {
      mNumbers.emplace_back(key, value);
    } catch (...) {
    }
  }
  void addCapture(int64_t batch, std::string const& name, std::vector<uint8_t> bytes,
                  bool wasDevicePointer) noexcept override {
    try {
      mCaptures.push_back(Capture{batch, name, std::move(bytes), wasDevicePointer});
    } catch (...) {
    }
  }
  void trace(char const* call) noexcept override {
    try {
      mTrace.emplace_back(call);
    } catch (...) {
    }
  }

 private:
  void builderMain() noexcept;
  void createViews(Napi::Env env);
  void detachViews(Napi::Env env) noexcept;
  void finish(Napi::Env env) noexcept;
  static void onTeardown(void* arg);
  void recordJsError(Napi::Env env, Napi::Value error) noexcept;
  Napi::Value callback(Napi::Env env, napi_ref ref) const {
    return ref ? Napi::Value(env, refValue(env, ref)) : env.Undefined();
  }
  static napi_value refValue(napi_env env, napi_ref ref) {
    napi_value value = nullptr;
    napi_get_reference_value(env, ref, &value);
    return value;
  }
  static void deleteRef(napi_env env, napi_ref& ref) {
    if (ref != nullptr) napi_delete_reference(env, ref);
    ref = nullptr;
  }
  napi_ref makeRef(Napi::Env env, Napi::Value value) {
    napi_ref ref = nullptr;
    NAPI_THROW_IF_FAILED(env, napi_create_reference(env, value, 1, &ref), nullptr);
    return ref;
  }

  // Copied options (read-only once the thread runs).
  CalibratorConfig mConfig;
  BuilderOptions mBuilderOptions;
  std::string mBuilderKind;
  bool mCopyBuffers{false};
  std::shared_ptr<HistogramSet> mHistograms;
  std::shared_ptr<Inference> mInference;

  // JS thread only.
  napi_env mEnv{nullptr};
  napi_deferred mDeferred{nullptr};
  napi_ref mFill{nullptr}, mReadCache{nullptr}, mWriteCache{nullptr}, mProgress{nullptr}, mProcess{nullptr};
  napi_ref mSlotObjects[BatchBuffers::kSLOTS]{nullptr, nullptr};
  std::vector<napi_ref> mSlotBuffers[BatchBuffers::kSLOTS];
  napi_ref mJsError{nullptr};
  bool mHookAdded{false};

  // Written on the JS thread inside a bridge call, read by the builder thread after the call settled.
  bool mViewsCreated{false};
  bool mExternal{true};
  FillStatus mFillResult{FillStatus::kFAILED};

  // Shared.
  RunStatus mStatus;
  std::shared_ptr<JsBridge> mBridge;
  std::thread mThread;
  std::shared_ptr<RunState> mSelf;

  // Builder thread; read on the JS thread by finish() after the join.
  std::unique_ptr<CalibratorCore> mCore;
  std::unique_ptr<Builder> mBuilder;
  JsBridge::Ticket mFillTicket;
  std::vector<Capture> mCaptures;
  std::vector<std::string> mTrace;
  std::vector<std::pair<std::string, double>> mNumbers;
  std::vector<std::pair<std::string, std::vector<uint8_t>>> mBytes;
  std::mutex mLogMutex;
  std::vector<std::string> mLog;
  bool mOnDevice{false};
  bool mPinned{false};
  bool mCacheHit{false};
  bool mCacheWritten{false};
  int64_t mBatches{0};
  CoreTimings mTimings;
  double mSeconds{0};
};

// ---- options ----

[[noreturn]] void throwType(Napi::Env env, std::string const& message) {
  Napi::TypeError error = Napi::TypeError::New(env, message);
  error.Set("code", "ERR_INVALID_OPTION");
  throw error;
}

std::vector<InputDesc> parseInputs(Napi::Env env, Napi::Value value) {
  if (!value.IsArray()) throwType(env, "startCalibration: options.inputs must be an array");
  Napi::Array array = value.As<Napi::Array>();
  std::vector<InputDesc> inputs;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value item = array.Get(i);
    if (!item.IsObject())
      throwType(env, "startCalibration: options.inputs[" + std::to_string(i) + "] must be an object");
    Napi::Object obj = item.As<Napi::Object>();
    InputDesc in;
    if (!obj.Get("name").IsString()) throwType(env, "startCalibration: input name must be a string");
    in.name = obj.Get("name").As<Napi::String>().Utf8Value();
    if (!obj.Get("dtype").IsString()) throwType(env, "startCalibration: input dtype must be a string");
    in.dtype = obj.Get("dtype").As<Napi::String>().Utf8Value();
    in.elementSize = dtypeSize(in.dtype);
    if (in.elementSize == 0) throwType(env, "startCalibration: unknown dtype \"" + in.dtype + "\"");
    if (!obj.Get("shape").IsArray()) throwType(env, "startCalibration: input shape must be an array");
    Napi::Array shape = obj.Get("shape").As<Napi::Array>();
    size_t elements = 1;
    for (uint32_t d = 0; d < shape.Length(); ++d) {
      Napi::Value dim = shape.Get(d);
      double const v = dim.IsNumber() ? dim.As<Napi::Number>().DoubleValue() : -1;
      if (!(v >= 1) || v != static_cast<double>(static_cast<int64_t>(v)) || v > 1e9) {
        throwType(env, "startCalibration: input \"" + in.name +
                           "\" has a dimension that is not a positive integer");
      }
      in.shape.push_back(static_cast<int64_t>(v));
      elements *= static_cast<size_t>(v);
    }
    if (in.shape.empty()) throwType(env, "startCalibration: input \"" + in.name + "\" has an empty shape");
    in.bytes = elements * in.elementSize;
    if (in.bytes > (size_t{1} << 34))
      throwType(env, "startCalibration: input \"" + in.name + "\" is larger than 16 GiB");
    for (InputDesc const& other : inputs) {
      if (other.name == in.name)
        throwType(env, "startCalibration: input \"" + in.name + "\" is listed twice");
    }
    inputs.push_back(std::move(in));
  }
  if (inputs.empty()) throwType(env, "startCalibration: options.inputs is empty");
  return inputs;
}

std::vector<int64_t> parseDims(Napi::Env env, Napi::Value value, std::string const& what) {
  if (!value.IsArray()) throwType(env, "startCalibration: " + what + " must be an array of dimensions");
  std::vector<int64_t> dims;
  Napi::Array array = value.As<Napi::Array>();
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value d = array.Get(i);
    if (!d.IsNumber()) throwType(env, "startCalibration: " + what + " must hold numbers");
    dims.push_back(d.As<Napi::Number>().Int64Value());
  }
  return dims;
}

// options.engine -> EngineBuildOptions (the "tensorrt" builder). lib/tensorrt validates the values.
void parseEngineOptions(Napi::Env env, Napi::Object engine, EngineBuildOptions& out) {
  Napi::Value onnx = engine.Get("onnxPath");
  if (!onnx.IsString()) throwType(env, "startCalibration: engine.onnxPath must be a string");
  out.onnxPath = onnx.As<Napi::String>().Utf8Value();
  Napi::Value shapes = engine.Get("inputShapes");
  if (shapes.IsArray()) {
    Napi::Array array = shapes.As<Napi::Array>();
    for (uint32_t i = 0; i < array.Length(); ++i) {
      if (!array.Get(i).IsObject()) throwType(env, "startCalibration: engine.inputShapes holds objects");
      Napi::Object s = array.Get(i).As<Napi::Object>();
      InputShapeProfile profile;
      profile.name = s.Get("name").ToString().Utf8Value();
      profile.min = parseDims(env, s.Get("min"), "engine.inputShapes[].min");
      profile.opt = parseDims(env, s.Get("opt"), "engine.inputShapes[].opt");
      profile.max = parseDims(env, s.Get("max"), "engine.inputShapes[].max");
      out.inputShapes.push_back(std::move(profile));
    }
  }
  if (engine.Get("fp16").IsBoolean()) out.fp16 = engine.Get("fp16").As<Napi::Boolean>().Value();
  if (engine.Get("workspaceBytes").IsNumber()) {
    out.workspaceBytes = static_cast<uint64_t>(engine.Get("workspaceBytes").As<Napi::Number>().DoubleValue());
  }
  if (engine.Get("dlaCore").IsNumber()) out.dlaCore = engine.Get("dlaCore").As<Napi::Number>().Int32Value();
  if (engine.Get("allowGpuFallback").IsBoolean()) {
    out.allowGpuFallback = engine.Get("allowGpuFallback").As<Napi::Boolean>().Value();
  }
  if (engine.Get("verbosity").IsNumber()) {
    int32_t const v = engine.Get("verbosity").As<Napi::Number>().Int32Value();
    if (v < 0 || v > 4) throwType(env, "startCalibration: engine.verbosity must be 0..4");
    out.verbosity = static_cast<LogSeverity>(v);
  }
}

Napi::Value RunState::start(Napi::CallbackInfo const& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject() || !info[1].IsObject())
    throwType(env, "startCalibration(options, callbacks) expects two objects");
  Napi::Object options = info[0].As<Napi::Object>();
  Napi::Object callbacks = info[1].As<Napi::Object>();

  auto run = std::make_shared<RunState>();
  run->mEnv = env;
  run->mConfig.inputs = parseInputs(env, options.Get("inputs"));
  Napi::Value batchSize = options.Get("batchSize");
  run->mConfig.batchSize = batchSize.IsNumber() ? batchSize.As<Napi::Number>().Int32Value()
                                                : static_cast<int32_t>(run->mConfig.inputs[0].shape[0]);
  Napi::Value algorithm = options.Get("algorithm");
  if (algorithm.IsNumber()) {
    int32_t const a = algorithm.As<Napi::Number>().Int32Value();
    if (a < 0 || a > 3) throwType(env, "startCalibration: algorithm must be 0..3");
    run->mConfig.algorithm = static_cast<CalibrationAlgo>(a);
  }
  Napi::Value memory = options.Get("memory");
  run->mConfig.memory = memory.IsString() && memory.As<Napi::String>().Utf8Value() == "host"
                            ? MemoryKind::kHOST
                            : MemoryKind::kAUTO;
  Napi::Value device = options.Get("deviceIndex");
  if (device.IsNumber()) run->mConfig.deviceIndex = device.As<Napi::Number>().Int32Value();
  Napi::Value prefetch = options.Get("prefetch");
  run->mConfig.prefetch = prefetch.IsBoolean() ? prefetch.As<Napi::Boolean>().Value() : true;
  Napi::Value inject = options.Get("injectCudaError");
  if (inject.IsString()) run->mConfig.injectCudaError = inject.As<Napi::String>().Utf8Value();
  Napi::Value copy = options.Get("copyBuffers");
  run->mCopyBuffers = copy.IsBoolean() && copy.As<Napi::Boolean>().Value();
  Napi::Value builder = options.Get("builder");
  run->mBuilderKind = builder.IsString() ? builder.As<Napi::String>().Utf8Value() : "test";
  run->mBuilder = makeBuilder(run->mBuilderKind);
  if (!run->mBuilder) throwType(env, "startCalibration: unknown builder \"" + run->mBuilderKind + "\"");

  Napi::Value names = options.Get("bindingNames");
  if (names.IsArray()) {
    Napi::Array array = names.As<Napi::Array>();
    for (uint32_t i = 0; i < array.Length(); ++i) {
      run->mBuilderOptions.bindingNames.push_back(array.Get(i).ToString().Utf8Value());
    }
  } else {
    for (InputDesc const& in : run->mConfig.inputs) run->mBuilderOptions.bindingNames.push_back(in.name);
  }
  Napi::Value histograms = options.Get("histograms");
  if (!histograms.IsUndefined() && !histograms.IsNull()) {
    run->mHistograms = unwrapHistogramSet(env, histograms);
    if (!run->mHistograms)
      throwType(env, "startCalibration: options.histograms must be a native HistogramSet");
  }
  Napi::Value inference = options.Get("inference");
  if (!inference.IsUndefined() && !inference.IsNull()) {
    run->mInference = unwrapOrtSession(env, inference);
    if (!run->mInference) throwType(env, "startCalibration: options.inference must be a native OrtSession");
  }
  Napi::Value engine = options.Get("engine");
  if (engine.IsObject()) parseEngineOptions(env, engine.As<Napi::Object>(), run->mBuilderOptions.engine);
  Napi::Value capture = options.Get("capture");
  run->mBuilderOptions.capture = capture.IsBoolean() && capture.As<Napi::Boolean>().Value();
  Napi::Value extra = options.Get("builderOptions");
  if (extra.IsObject()) {
    Napi::Object obj = extra.As<Napi::Object>();
    Napi::Array keys = obj.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      std::string const key = keys.Get(i).ToString().Utf8Value();
      Napi::Value v = obj.Get(key);
      if (v.IsNumber())
        run->mBuilderOptions.numbers[key] = v.As<Napi::Number>().DoubleValue();
      else if (v.IsString())
        run->mBuilderOptions.strings[key] = v.As<Napi::String>().Utf8Value();
      else if (v.IsBoolean())
        run->mBuilderOptions.numbers[key] = v.As<Napi::Boolean>().Value() ? 1 : 0;
    }
  }

  auto function = [&](char const* name, bool required) -> napi_ref {
    Napi::Value v = callbacks.Get(name);
    if (v.IsFunction()) return run->makeRef(env, v);
    if (required || !(v.IsUndefined() || v.IsNull())) {
      throwType(env, std::string("startCalibration: callbacks.") + name + " must be a function");
    }
    return nullptr;
  };
  run->mFill = function("fill", true);
  run->mReadCache = function("readCache", true);
  run->mWriteCache = function("writeCache", true);
  run->mProgress = function("progress", false);
  run->mProcess = function("process", false);

  // The bridge (a thread-safe function) before the cleanup hook: hooks run in reverse order, so ours runs
  // first at teardown, while Node's own handling of the thread-safe function is still ahead.
  run->mBridge = JsBridge::create(env, "trtc.calibration");
  napi_value ownPromise = nullptr;
  if (napi_create_promise(env, &run->mDeferred, &ownPromise) != napi_ok) {
    run->mBridge->release();
    throw Napi::Error::New(env, "napi_create_promise failed");
  }
  if (napi_add_env_cleanup_hook(env, &RunState::onTeardown, run.get()) != napi_ok) {
    run->mBridge->release();
    throw Napi::Error::New(env, "napi_add_env_cleanup_hook failed");
  }
  run->mHookAdded = true;
  run->mSelf = run;
  RunState* raw = run.get();
  try {
    run->mThread = std::thread([raw] { raw->builderMain(); });
  } catch (std::exception const& e) {
    napi_remove_env_cleanup_hook(env, &RunState::onTeardown, raw);
    run->mHookAdded = false;
    run->mBridge->release();
    run->mSelf.reset();
    throw Napi::Error::New(env, std::string("could not start the builder thread: ") + e.what());
  }

  Napi::Object handle = Napi::Object::New(env);
  handle.Set("promise", Napi::Value(env, ownPromise));
  std::weak_ptr<RunState> weak = run;
  handle.Set("abort", Napi::Function::New(env, [weak](Napi::CallbackInfo const& info) {
               if (auto self = weak.lock()) {
                 self->mStatus.requestAbort();
                 self->mBridge->cancelPending();
                 if (self->mInference) self->mInference->cancel();
               }
             }));
  handle.Set(
      "callOnJsThread", Napi::Function::New(env, [weak](Napi::CallbackInfo const& info) -> Napi::Value {
        auto self = weak.lock();
        if (!self) return Napi::String::New(info.Env(), "finished");
        CallOutcome const outcome = self->mBridge->call([](Napi::Env e) { return e.Undefined(); }, {}, {});
        return Napi::String::New(info.Env(), callOutcomeName(outcome));
      }));
  return handle;
}

// ---- builder thread ----

void RunState::builderMain() noexcept {
  auto const t0 = std::chrono::steady_clock::now();
  try {
    mCore = std::make_unique<CalibratorCore>(mConfig, *this, mStatus);
  } catch (CudaError const& e) {
    mStatus.fail(RunErrorCode::kCUDA, e.what());
  } catch (std::bad_alloc const&) {
    mStatus.fail(RunErrorCode::kINTERNAL, "out of memory while allocating the batch buffers");
  } catch (std::exception const& e) {
    mStatus.fail(RunErrorCode::kINTERNAL, e.what());
  }
  if (mCore) {
    mOnDevice = mCore->buffers().onDevice();
    mPinned = mOnDevice;
    if (!mStatus.stopped()) {
      CallOutcome const outcome = mBridge->call(
          [this](Napi::Env env) {
            createViews(env);
            return env.Undefined();
          },
          {}, [this](Napi::Env env, Napi::Value error) { recordJsError(env, error); }, false);
      if (outcome == CallOutcome::kCLOSED) {
        mStatus.fail(RunErrorCode::kTEARDOWN,
                     "the JavaScript environment was torn down before calibration started");
      }
      if (mViewsCreated && !mStatus.stopped()) mBuilder->build(*this);
    }
    mCore->drain();
    mCacheHit = mCore->cacheHit();
    mCacheWritten = mCore->cacheWritten();
    mBatches = mCore->batchesDelivered();
    mTimings = mCore->timings();
    if (mViewsCreated) {
      mBridge->call(
          [this](Napi::Env env) {
            detachViews(env);
            return env.Undefined();
          },
          {}, {}, false);
    }
    mCore.reset();  // frees the slots and device buffers on this thread
  }
  mBuilder.reset();
  mSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // Last act of this thread: once this is queued, the JS thread may join us at any moment.
  mBridge->postTask([this](Napi::Env env) { finish(env); });
}

void RunState::startFill(int32_t slot, int64_t batchIndex) noexcept {
  mFillTicket = mBridge->post(
      [this, slot, batchIndex](Napi::Env env) -> Napi::Value {
        Napi::Function fill = callback(env, mFill).As<Napi::Function>();
        return fill.Call({Napi::Value(env, refValue(env, mSlotObjects[slot])),
                          Napi::Number::New(env, static_cast<double>(batchIndex))});
      },
      [this, slot](Napi::Env env, Napi::Value value) {
        if (!value.ToBoolean().Value()) {
          mFillResult = FillStatus::kEXHAUSTED;
          return;
        }
        for (size_t i = 0; i < mConfig.inputs.size(); ++i) {
          InputDesc const& in = mConfig.inputs[i];
          Napi::ArrayBuffer buffer(env, refValue(env, mSlotBuffers[slot][i]));
          if (buffer.ByteLength() != in.bytes) {
            mStatus.fail(RunErrorCode::kINPUT_SHAPE,
                         "The buffer of input \"" + in.name + "\" (" + shapeText(in.shape) + " " + in.dtype +
                             ", " + std::to_string(in.bytes) +
                             " bytes) was detached or resized during fill: it now has " +
                             std::to_string(buffer.ByteLength()) +
                             " bytes. Write into the buffers you are given; do not transfer them.");
            mFillResult = FillStatus::kFAILED;
            return;
          }
          if (!mExternal) std::memcpy(mCore->buffers().host(slot, i), buffer.Data(), in.bytes);
        }
        mFillResult = FillStatus::kFILLED;
      },
      [this](Napi::Env env, Napi::Value error) { recordJsError(env, error); });
}

FillStatus RunState::waitFill() noexcept {
  CallOutcome const outcome = mBridge->wait(mFillTicket);
  mFillTicket.reset();
  switch (outcome) {
    case CallOutcome::kFULFILLED:
      return mStatus.failed() ? FillStatus::kFAILED : mFillResult;
    case CallOutcome::kCLOSED:
      mStatus.fail(RunErrorCode::kTEARDOWN, "the JavaScript environment was torn down during calibration");
      return FillStatus::kFAILED;
    case CallOutcome::kWRONG_THREAD:
      mStatus.fail(RunErrorCode::kINTERNAL,
                   "getBatch was called on the JavaScript thread; it must run on the run's builder thread");
      return FillStatus::kFAILED;
    default:
      return FillStatus::kFAILED;  // rejected (recorded) or cancelled (abort)
  }
}

bool RunState::readCache(std::vector<uint8_t>& out) noexcept {
  CallOutcome const outcome = mBridge->call(
      [this](Napi::Env env) -> Napi::Value {
        return callback(env, mReadCache).As<Napi::Function>().Call({});
      },
      [this, &out](Napi::Env env, Napi::Value value) {
        if (value.IsNull() || value.IsUndefined()) return;
        void* data = nullptr;
        size_t length = 0;
        if (!bytesOf(value, data, length)) {
          mStatus.fail(RunErrorCode::kINTERNAL, "readCache() must resolve with a Uint8Array or null");
          return;
        }
        out.assign(static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + length);
      },
      [this](Napi::Env env, Napi::Value error) { recordJsError(env, error); });
  if (outcome == CallOutcome::kCLOSED) {
    mStatus.fail(RunErrorCode::kTEARDOWN, "the JavaScript environment was torn down during calibration");
  }
  return outcome == CallOutcome::kFULFILLED && !mStatus.failed();
}

bool RunState::writeCache(uint8_t const* data, size_t length) noexcept {
  CallOutcome const outcome = mBridge->call(
      [this, data, length](Napi::Env env) -> Napi::Value {
        Napi::Buffer<uint8_t> bytes = Napi::Buffer<uint8_t>::Copy(env, data, length);
        return callback(env, mWriteCache).As<Napi::Function>().Call({bytes});
      },
      {}, [this](Napi::Env env, Napi::Value error) { recordJsError(env, error); });
  if (outcome == CallOutcome::kCLOSED) {
    mStatus.fail(RunErrorCode::kTEARDOWN, "the JavaScript environment was torn down while writing the cache");
  }
  return outcome == CallOutcome::kFULFILLED && !mStatus.failed();
}

void RunState::batchDelivered(int64_t batchesDone) noexcept {
  if (mProgress == nullptr) return;
  mBridge->postTask([this, batchesDone](Napi::Env env) {
    try {
      callback(env, mProgress)
          .As<Napi::Function>()
          .Call({Napi::Number::New(env, static_cast<double>(batchesDone))});
    } catch (Napi::Error const& e) {
      try {
        recordJsError(env, e.Value());
      } catch (...) {
      }
    }
  });
}

std::unique_ptr<HeldTensors> RunState::process(int64_t batchIndex) noexcept {
  if (mProcess == nullptr) {
    mStatus.fail(RunErrorCode::kINTERNAL, "builder \"" + mBuilderKind + "\" needs a process callback");
    return nullptr;
  }
  int32_t const slot = mCore->currentSlot();
  if (slot < 0) return nullptr;
  std::unique_ptr<HeldTensorsImpl> held;
  try {
    held = std::make_unique<HeldTensorsImpl>(mBridge);
  } catch (...) {
    return nullptr;
  }
  HeldTensorsImpl* out = held.get();
  CallOutcome const outcome = mBridge->call(
      [this, slot, batchIndex](Napi::Env env) -> Napi::Value {
        return callback(env, mProcess)
            .As<Napi::Function>()
            .Call({Napi::Value(env, refValue(env, mSlotObjects[slot])),
                   Napi::Number::New(env, static_cast<double>(batchIndex))});
      },
      [this, out](Napi::Env env, Napi::Value value) {
        if (!value.IsObject()) {
          mStatus.fail(RunErrorCode::kMODEL,
                       "process() must resolve with an object { tensorName: Float32Array }");
          return;
        }
        Napi::Object obj = value.As<Napi::Object>();
        Napi::Array keys = obj.GetPropertyNames();
        for (uint32_t i = 0; i < keys.Length(); ++i) {
          std::string const name = keys.Get(i).ToString().Utf8Value();
          Napi::Value tensor = obj.Get(name);
          if (!tensor.IsTypedArray() ||
              tensor.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
            mStatus.fail(RunErrorCode::kMODEL,
                         "process() returned a non-Float32Array value for tensor \"" + name + "\"");
            return;
          }
          void* data = nullptr;
          size_t length = 0;
          bytesOf(tensor, data, length);
          out->mPins.pin(env, tensor);
          out->mViews.push_back(TensorView{name, static_cast<float const*>(data), length / sizeof(float)});
        }
      },
      [this](Napi::Env env, Napi::Value error) { recordJsError(env, error); });
  if (outcome == CallOutcome::kCLOSED) {
    mStatus.fail(RunErrorCode::kTEARDOWN, "the JavaScript environment was torn down during calibration");
  }
  if (outcome != CallOutcome::kFULFILLED || mStatus.stopped()) return nullptr;
  return held;
}

// ---- JS thread ----

void RunState::recordJsError(Napi::Env env, Napi::Value error) noexcept {
  try {
    if (mStatus.fail(RunErrorCode::kJS_ERROR, describeJsError(env, error))) mJsError = makeRef(env, error);
  } catch (...) {
  }
}

void RunState::createViews(Napi::Env env) {
  BatchBuffers& buffers = mCore->buffers();
  bool external = !mCopyBuffers;
  for (int32_t slot = 0; slot < BatchBuffers::kSLOTS; ++slot) {
    Napi::Object views = Napi::Object::New(env);
    for (size_t i = 0; i < mConfig.inputs.size(); ++i) {
      InputDesc const& in = mConfig.inputs[i];
      napi_value raw = nullptr;
      if (external) {
        napi_status status =
            napi_create_external_arraybuffer(env, buffers.host(slot, i), in.bytes, nullptr, nullptr, &raw);
        if (status == napi_no_external_buffers_allowed) {
          external = false;  // sandboxed runtime (Electron): fall back to copying, for every slot
          for (int32_t s = 0; s < slot; ++s) {
            for (napi_ref& ref : mSlotBuffers[s]) deleteRef(env, ref);
            mSlotBuffers[s].clear();
            deleteRef(env, mSlotObjects[s]);
          }
          slot = -1;
          break;
        }
        NAPI_THROW_IF_FAILED_VOID(env, status);
      } else {
        raw = Napi::ArrayBuffer::New(env, in.bytes);
      }
      Napi::ArrayBuffer buffer(env, raw);
      views.Set(in.name, makeView(env, in.dtype, buffer, in.bytes / in.elementSize));
      mSlotBuffers[slot].push_back(makeRef(env, buffer));
    }
    if (slot >= 0) mSlotObjects[slot] = makeRef(env, views);
  }
  mExternal = external;
  mViewsCreated = true;
}

void RunState::detachViews(Napi::Env env) noexcept {
  for (int32_t slot = 0; slot < BatchBuffers::kSLOTS; ++slot) {
    for (napi_ref& ref : mSlotBuffers[slot]) {
      if (mExternal) {
        napi_value buffer = refValue(env, ref);
        if (buffer != nullptr) napi_detach_arraybuffer(env, buffer);
      }
      deleteRef(env, ref);
    }
    mSlotBuffers[slot].clear();
    deleteRef(env, mSlotObjects[slot]);
  }
}

void RunState::finish(Napi::Env env) noexcept {
  if (mThread.joinable()) mThread.join();
  if (mHookAdded) {
    napi_remove_env_cleanup_hook(env, &RunState::onTeardown, this);
    mHookAdded = false;
  }
  try {
    Napi::HandleScope scope(env);
    if (mJsError != nullptr) {
      napi_reject_deferred(env, mDeferred, refValue(env, mJsError));
    } else if (mStatus.failed() || mStatus.abortRequested()) {
      bool const aborted = !mStatus.failed();
      std::string const message = aborted ? "The calibration run was aborted" : mStatus.message();
      Napi::Error error = Napi::Error::New(env, message);
      error.Set("code", aborted ? "ERR_ABORTED" : errorCodeName(mStatus.code()));
      napi_reject_deferred(env, mDeferred, error.Value());
    } else {
      Napi::Object result = Napi::Object::New(env);
      result.Set("batches", Napi::Number::New(env, static_cast<double>(mBatches)));
      result.Set("cacheHit", mCacheHit);
      result.Set("cacheWritten", mCacheWritten);
      result.Set("onDevice", mOnDevice);
      result.Set("pinned", mPinned);
      result.Set("externalBuffers", mExternal);
      Napi::Array trace = Napi::Array::New(env, mTrace.size());
      for (size_t i = 0; i < mTrace.size(); ++i) trace.Set(static_cast<uint32_t>(i), mTrace[i]);
      result.Set("trace", trace);
      Napi::Array captures = Napi::Array::New(env, mCaptures.size());
      for (size_t i = 0; i < mCaptures.size(); ++i) {
        Napi::Object c = Napi::Object::New(env);
        c.Set("batch", Napi::Number::New(env, static_cast<double>(mCaptures[i].batch)));
        c.Set("name", mCaptures[i].name);
        c.Set("bytes",
              Napi::Buffer<uint8_t>::Copy(env, mCaptures[i].bytes.data(), mCaptures[i].bytes.size()));
        c.Set("device", mCaptures[i].device);
        captures.Set(static_cast<uint32_t>(i), c);
      }
      result.Set("captures", captures);
      Napi::Object timings = Napi::Object::New(env);
      timings.Set("getBatch", mTimings.getBatch);
      timings.Set("upload", mTimings.upload);
      timings.Set("waitFill", mTimings.waitFill);
      timings.Set("total", mSeconds);
      result.Set("timings", timings);
      Napi::Object bytes = Napi::Object::New(env);
      for (auto const& [key, value] : mBytes) {
        bytes.Set(key, Napi::Buffer<uint8_t>::Copy(env, value.data(), value.size()));
      }
      result.Set("bytes", bytes);
      Napi::Array log = Napi::Array::New(env, mLog.size());
      for (size_t i = 0; i < mLog.size(); ++i) log.Set(static_cast<uint32_t>(i), mLog[i]);
      result.Set("log", log);
      Napi::Object numbers = Napi::Object::New(env);
      for (auto const& [key, value] : mNumbers) numbers.Set(key, value);
      result.Set("numbers", numbers);
      napi_resolve_deferred(env, mDeferred, result);
    }
  } catch (...) {
  }
  deleteRef(env, mJsError);
  for (napi_ref* ref : {&mFill, &mReadCache, &mWriteCache, &mProgress, &mProcess}) deleteRef(env, *ref);
  mBridge->release();
  std::shared_ptr<RunState> self = std::move(mSelf);  // may destroy this at the end of the scope
}

void RunState::onTeardown(void* arg) {
  RunState* run = static_cast<RunState*>(arg);
  std::shared_ptr<RunState> self = run->mSelf;  // keep alive through the join
  run->mHookAdded = false;
  run->mStatus.fail(RunErrorCode::kTEARDOWN, "the JavaScript environment was torn down during calibration");
  run->mStatus.requestAbort();
  if (run->mInference) run->mInference->cancel();  // an ONNX Runtime run in progress stops early
  run->mBridge->close();                           // wakes the builder thread and refuses every later call
  if (run->mThread.joinable()) run->mThread.join();
  // No JS from here on: the environment deletes its references and the promise itself.
  run->mSelf.reset();
}

Napi::Value liveAllocationsJs(Napi::CallbackInfo const& info) {
  Napi::Env env = info.Env();
  AllocationStats const stats = liveAllocations();
  Napi::Object result = Napi::Object::New(env);
  result.Set("hostBuffers", Napi::Number::New(env, static_cast<double>(stats.hostBuffers)));
  result.Set("pinnedBuffers", Napi::Number::New(env, static_cast<double>(stats.pinnedBuffers)));
  result.Set("deviceBuffers", Napi::Number::New(env, static_cast<double>(stats.deviceBuffers)));
  result.Set("streams", Napi::Number::New(env, static_cast<double>(stats.streams)));
  result.Set("bytes", Napi::Number::New(env, static_cast<double>(stats.bytes)));
  result.Set("runs", Napi::Number::New(env, static_cast<double>(gLiveRuns.load())));
  return result;
}

Napi::Value benchBareUploadJs(Napi::CallbackInfo const& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || !info[1].IsNumber()) throwType(env, "benchBareUpload(bytes, iterations)");
  try {
    return Napi::Number::New(env,
                             benchBareUpload(static_cast<size_t>(info[0].As<Napi::Number>().DoubleValue()),
                                             info[1].As<Napi::Number>().Int32Value()));
  } catch (CudaError const& e) {
    Napi::Error error = Napi::Error::New(env, e.what());
    error.Set("code", "ERR_CUDA");
    throw error;
  }
}

}  // namespace

void initRun(Napi::Env env, Napi::Object exports) {
  exports.Set("startCalibration", Napi::Function::New(env, RunState::start, "startCalibration"));
  exports.Set("liveAllocations", Napi::Function::New(env, liveAllocationsJs, "liveAllocations"));
  exports.Set("benchBareUpload", Napi::Function::New(env, benchBareUploadJs, "benchBareUpload"));
}

}  // namespace trtc
