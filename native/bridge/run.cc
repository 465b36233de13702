// Threading / lifetime of a run (RunState):
// - Created on the JS thread by startCalibration(); it owns itself (mSelf) until it has finished or the
//   environment is torn down. The builder thread (mThread) is started there and joined on the JS thread,
//   either by the finish task (posted by the builder thread as its very last act, so the join is immediate)
//   or by the environment cleanup hook (after the bridge is closed, which wakes every blocked call).
// - Everything the builder thread uses was copied into RunOptions before it started. JS values live only in
//   Napi references (callbacks, slot objects, the JS error), created on the JS thread and released there: by
//   finish() (deleted) or, at teardown, left to the environment, which deletes its references itself.
// - The promise settles exactly once, in finish() on the JS thread; at teardown it is never settled (no JS
//   may run any more) and the environment drops it.
// - Batch memory is allocated, uploaded and freed on the builder thread (CUDA contexts never touch the JS
//   thread). The JS side sees the host slots as external ArrayBuffers (or, where those are refused, as
//   V8-owned ArrayBuffers whose bytes are copied into the slot when a fill settles); external ones are
//   detached on the JS thread before the memory is freed, so no JS view can outlive it.
// - Abort (JS thread) sets the atomic abort flag and cancels in-flight calls: the blocked getBatch returns
//   false at once. Bookkeeping calls (create/detach views) are not cancellable.
// - process.exit() on the main thread runs no cleanup hooks: the builder thread is blocked on a condition
//   variable in heap memory and simply ends with the process; nothing it touches has a static destructor.
#include "bridge/run.h"

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bridge/addon.h"
#include "bridge/js_bridge.h"
#include "bridge/js_errors.h"
#include "bridge/run_options.h"
#include "builtin/builtin_builder.h"
#include "builtin/inference.h"
#include "core/buffers.h"
#include "core/builder.h"
#include "core/calibrator_core.h"
#include "core/cuda_api.h"
#include "core/run_options.h"
#include "tensorrt/engine_builder.h"
#include "tensorrt/tensorrt_builder.h"
#if TRTC_TEST_HOOKS
#include "testing/test_bindings.h"
#include "testing/test_driver.h"
#endif

namespace trtc {
namespace {

std::atomic<int64_t> gLiveRuns{0};

class HeldTensorsImpl final : public HeldTensors {
 public:
  explicit HeldTensorsImpl(std::shared_ptr<JsBridge> bridge) : mPins(std::move(bridge)) {}
  size_t size() const noexcept override { return mViews.size(); }
  TensorView const& at(size_t index) const noexcept override { return mViews[index]; }
  PinnedValues mPins;
  std::vector<TensorView> mViews;
};

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
  std::vector<InputDesc> const& inputs() const noexcept override { return mOptions.calibrator.inputs; }
  RunOptions const& options() const noexcept override { return mOptions; }
  std::vector<char const*> bindingNamePointers() const override {
    std::vector<char const*> names;
    for (std::string const& name : mOptions.bindingNames) names.push_back(name.c_str());
    return names;
  }
  void const* hostBatch(size_t input) const noexcept override {
    int32_t const slot = mCore->currentSlot();
    return slot < 0 ? nullptr : mCore->buffers().host(slot, input);
  }
  int64_t batchesDelivered() const noexcept override { return mCore->batchesDelivered(); }
  std::unique_ptr<HeldTensors> process(int64_t batchIndex) noexcept override;
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
  void setTensorStatuses(std::vector<TensorStatus> statuses) noexcept override {
    mTensorStatuses = std::move(statuses);
    mHasTensorStatuses = true;
  }

 private:
  using CleanupHook = Napi::Env::CleanupHook<void (*)(RunState*), RunState>;

  std::unique_ptr<Builder> makeBuilder();
  void builderMain() noexcept;
  void createViews(Napi::Env env);
  void detachViews(Napi::Env env) noexcept;
  void finish(Napi::Env env) noexcept;
  Napi::Object result(Napi::Env env);
  static void onTeardown(RunState* run);
  void recordJsError(Napi::Env env, Napi::Value error) noexcept;

  // Parsed options (read-only once the thread runs).
  RunOptions mOptions;

  // JS thread only.
  std::unique_ptr<Napi::Promise::Deferred> mDeferred;
  Napi::FunctionReference mFill, mReadCache, mWriteCache, mProgress, mProcess;
  Napi::ObjectReference mSlotObjects[BatchBuffers::kSLOTS];
  std::vector<Napi::Reference<Napi::ArrayBuffer>> mSlotBuffers[BatchBuffers::kSLOTS];
  Napi::Reference<Napi::Value> mJsError;
  // Added in start(); removed by finish(), unless it ran (teardown): node-addon-api frees its data then.
  CleanupHook mCleanupHook;
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
  std::vector<std::pair<std::string, double>> mNumbers;
  std::vector<std::pair<std::string, std::vector<uint8_t>>> mBytes;
  std::mutex mLogMutex;
  std::vector<std::string> mLog;
  std::vector<TensorStatus> mTensorStatuses;
  bool mHasTensorStatuses{false};
#if TRTC_TEST_HOOKS
  TestRecord mTestRecord;  // what the test builders did (result.trace, result.captures)
#endif
  bool mOnDevice{false};
  bool mPinned{false};
  bool mCacheHit{false};
  bool mCacheRejected{false};
  bool mCacheWritten{false};
  int64_t mBatches{0};
  CoreTimings mTimings;
  double mSeconds{0};
};

// The builder the options name. The test build's builders exist only there (the parser refuses them in the
// release addon).
std::unique_ptr<Builder> RunState::makeBuilder() {
  switch (mOptions.builder) {
    case BuilderKind::kBUILTIN:
      return makeBuiltinBuilder();
    case BuilderKind::kTENSORRT:
      return makeTensorrtBuilder();
#if TRTC_TEST_HOOKS
    case BuilderKind::kTEST:
      return makeTestDriver(mTestRecord, mOptions.testHooks.capture);
    case BuilderKind::kSUM:
      return makeSumBuilder(mTestRecord);
#endif
    default:
      return nullptr;
  }
}

Napi::Value RunState::start(Napi::CallbackInfo const& info) {
  Napi::Env env = info.Env();
  if (!info[1].IsObject()) throw invalidOption(env, "callbacks", "an object", info[1]);
  Napi::Object callbacks = info[1].As<Napi::Object>();

  auto run = std::make_shared<RunState>();
  run->mOptions = parseRunOptions(env, info[0]);
  run->mBuilder = run->makeBuilder();
  if (!run->mBuilder) {
    throw invalidArgument(
        env, std::string("builder \"") + builderKindName(run->mOptions.builder) + "\" is not in this addon",
        OptionError::kRANGE);
  }

  auto function = [&](char const* name, bool required) -> Napi::FunctionReference {
    Napi::Value v = callbacks.Get(name);
    if (v.IsFunction()) return Napi::Persistent(v.As<Napi::Function>());
    if (required || !(v.IsUndefined() || v.IsNull()))
      throw invalidOption(env, std::string("callbacks.") + name, "a function", v);
    return Napi::FunctionReference();
  };
  run->mFill = function("fill", true);
  run->mReadCache = function("readCache", true);
  run->mWriteCache = function("writeCache", true);
  run->mProgress = function("progress", false);
  run->mProcess = function("process", false);

  // The bridge (a thread-safe function) before the cleanup hook: hooks run in reverse order, so ours runs
  // first at teardown, while Node's own handling of the thread-safe function is still ahead.
  run->mBridge = JsBridge::create(env, "trtc.calibration");
  run->mDeferred = std::make_unique<Napi::Promise::Deferred>(Napi::Promise::Deferred::New(env));
  run->mCleanupHook = env.AddCleanupHook(&RunState::onTeardown, run.get());
  if (run->mCleanupHook.IsEmpty()) {
    run->mBridge->release();
    throw codedError(env, "napi_add_env_cleanup_hook failed", "ERR_INTERNAL");
  }
  run->mHookAdded = true;
  run->mSelf = run;
  RunState* raw = run.get();
  try {
    run->mThread = std::thread([raw] { raw->builderMain(); });
  } catch (std::exception const& e) {
    run->mCleanupHook.Remove(env);
    run->mHookAdded = false;
    run->mBridge->release();
    run->mSelf.reset();
    throw codedError(env, std::string("could not start the builder thread: ") + e.what(), "ERR_INTERNAL");
  }

  Napi::Object handle = Napi::Object::New(env);
  handle.Set("promise", run->mDeferred->Promise());
  std::weak_ptr<RunState> weak = run;
  handle.Set("abort", Napi::Function::New(env, [weak](Napi::CallbackInfo const& info) {
               if (auto self = weak.lock()) {
                 self->mStatus.requestAbort();
                 self->mBridge->cancelPending();
                 if (self->mOptions.inference) self->mOptions.inference->cancel();
               }
             }));
#if TRTC_TEST_HOOKS
  handle.Set("callOnJsThread", callOnJsThreadFunction(env, run->mBridge));
#endif
  return handle;
}

// ---- builder thread ----

void RunState::builderMain() noexcept {
  auto const t0 = std::chrono::steady_clock::now();
  try {
    mCore = std::make_unique<CalibratorCore>(mOptions.calibrator, *this, mStatus);
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
      // TensorRT's getBatch contract is device memory: its builder reads every binding on the GPU. The parser
      // refuses memory "host" for it; this is the "auto" case on a machine where no CUDA device is usable (or
      // an addon built without CUDA). Without TensorRT compiled in, the builder's own
      // ERR_TENSORRT_UNAVAILABLE says more, so it goes first.
      if (mOptions.builder == BuilderKind::kTENSORRT && tensorrtCompiledIn() && !mOnDevice) {
        cuda::DeviceQuery const query = cuda::queryDevices();
        mStatus.fail(
            RunErrorCode::kCUDA,
            "builder \"tensorrt\" needs a CUDA device: TensorRT's calibrator takes its batches in device "
            "memory, but no CUDA device is usable here (" +
                (query.error.empty() ? std::string("no device found") : query.error) + ")");
      }
      if (mViewsCreated && !mStatus.stopped()) mBuilder->build(*this);
    }
    mCore->drain();
    mCacheHit = mCore->cacheHit();
    mCacheRejected = mCore->cacheRejected();
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
        return mFill.Value().Call(
            {mSlotObjects[slot].Value(), Napi::Number::New(env, static_cast<double>(batchIndex))});
      },
      [this, slot](Napi::Env env, Napi::Value value) {
        if (!value.ToBoolean().Value()) {
          mFillResult = FillStatus::kEXHAUSTED;
          return;
        }
        std::vector<InputDesc> const& inputs = mOptions.calibrator.inputs;
        for (size_t i = 0; i < inputs.size(); ++i) {
          InputDesc const& in = inputs[i];
          Napi::ArrayBuffer buffer = mSlotBuffers[slot][i].Value();
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
      [this](Napi::Env env) -> Napi::Value { return mReadCache.Value().Call({}); },
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
        return mWriteCache.Value().Call({bytes});
      },
      {}, [this](Napi::Env env, Napi::Value error) { recordJsError(env, error); });
  if (outcome == CallOutcome::kCLOSED) {
    mStatus.fail(RunErrorCode::kTEARDOWN, "the JavaScript environment was torn down while writing the cache");
  }
  return outcome == CallOutcome::kFULFILLED && !mStatus.failed();
}

void RunState::batchDelivered(int64_t batchesDone) noexcept {
  if (mProgress.IsEmpty()) return;
  mBridge->postTask([this, batchesDone](Napi::Env env) {
    try {
      mProgress.Value().Call({Napi::Number::New(env, static_cast<double>(batchesDone))});
    } catch (Napi::Error const& e) {
      try {
        recordJsError(env, e.Value());
      } catch (...) {
      }
    }
  });
}

std::unique_ptr<HeldTensors> RunState::process(int64_t batchIndex) noexcept {
  if (mProcess.IsEmpty()) {
    mStatus.fail(RunErrorCode::kINTERNAL, std::string("builder \"") + builderKindName(mOptions.builder) +
                                              "\" needs a process callback");
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
        return mProcess.Value().Call(
            {mSlotObjects[slot].Value(), Napi::Number::New(env, static_cast<double>(batchIndex))});
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
    // The JS value itself is what the run rejects with (first error wins). A value Node-API cannot reference
    // (a primitive) keeps only its message.
    if (mStatus.fail(RunErrorCode::kJS_ERROR, describeJsError(env, error)))
      mJsError = Napi::Persistent(error);
  } catch (...) {
  }
}

void RunState::createViews(Napi::Env env) {
  BatchBuffers& buffers = mCore->buffers();
  std::vector<InputDesc> const& inputs = mOptions.calibrator.inputs;
  bool external = !mOptions.testHooks.copyBuffers;
  for (int32_t slot = 0; slot < BatchBuffers::kSLOTS; ++slot) {
    Napi::Object views = Napi::Object::New(env);
    for (size_t i = 0; i < inputs.size(); ++i) {
      InputDesc const& in = inputs[i];
      Napi::ArrayBuffer buffer;
      if (external) {
        // Raw Node-API: the fallback needs the status napi_no_external_buffers_allowed, which
        // Napi::ArrayBuffer::New(env, data, length) turns into an exception without it.
        napi_value raw = nullptr;
        napi_status status =
            napi_create_external_arraybuffer(env, buffers.host(slot, i), in.bytes, nullptr, nullptr, &raw);
        if (status == napi_no_external_buffers_allowed) {
          external = false;  // sandboxed runtime (Electron): fall back to copying, for every slot
          for (int32_t s = 0; s < slot; ++s) {
            mSlotBuffers[s].clear();
            mSlotObjects[s].Reset();
          }
          mSlotBuffers[slot].clear();
          slot = -1;
          break;
        }
        NAPI_THROW_IF_FAILED_VOID(env, status);
        buffer = Napi::ArrayBuffer(env, raw);
      } else {
        buffer = Napi::ArrayBuffer::New(env, in.bytes);
      }
      views.Set(in.name, makeView(env, in.dtype, buffer, in.bytes / in.elementSize));
      mSlotBuffers[slot].push_back(Napi::Persistent(buffer));
    }
    if (slot >= 0) mSlotObjects[slot] = Napi::Persistent(views);
  }
  mExternal = external;
  mViewsCreated = true;
}

void RunState::detachViews(Napi::Env env) noexcept {
  for (int32_t slot = 0; slot < BatchBuffers::kSLOTS; ++slot) {
    for (Napi::Reference<Napi::ArrayBuffer>& ref : mSlotBuffers[slot]) {
      try {
        if (mExternal) {
          Napi::ArrayBuffer buffer = ref.Value();
          if (!buffer.IsEmpty() && !buffer.IsDetached()) buffer.Detach();
        }
      } catch (...) {
      }
    }
    mSlotBuffers[slot].clear();
    mSlotObjects[slot].Reset();
  }
}

Napi::Object RunState::result(Napi::Env env) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("batches", Napi::Number::New(env, static_cast<double>(mBatches)));
  result.Set("cacheHit", mCacheHit);
  result.Set("cacheRejected", mCacheRejected);
  result.Set("cacheWritten", mCacheWritten);
  result.Set("onDevice", mOnDevice);
  result.Set("pinned", mPinned);
  result.Set("externalBuffers", mExternal);
  Napi::Object timings = Napi::Object::New(env);
  timings.Set("getBatch", mTimings.getBatch);
  timings.Set("upload", mTimings.upload);
  timings.Set("waitFill", mTimings.waitFill);
  timings.Set("total", mSeconds);
  result.Set("timings", timings);
  Napi::Object bytes = Napi::Object::New(env);
  for (auto const& [key, value] : mBytes)
    bytes.Set(key, Napi::Buffer<uint8_t>::Copy(env, value.data(), value.size()));
  result.Set("bytes", bytes);
  Napi::Array log = Napi::Array::New(env, mLog.size());
  for (size_t i = 0; i < mLog.size(); ++i) log.Set(static_cast<uint32_t>(i), mLog[i]);
  result.Set("log", log);
  Napi::Object numbers = Napi::Object::New(env);
  for (auto const& [key, value] : mNumbers) numbers.Set(key, value);
  result.Set("numbers", numbers);
  if (mHasTensorStatuses) {
    Napi::Array statuses = Napi::Array::New(env, mTensorStatuses.size());
    for (size_t i = 0; i < mTensorStatuses.size(); ++i) {
      Napi::Object status = Napi::Object::New(env);
      status.Set("name", mTensorStatuses[i].name);
      status.Set("status", mTensorStatuses[i].status);
      statuses.Set(static_cast<uint32_t>(i), status);
    }
    result.Set("tensorStatuses", statuses);
  }
#if TRTC_TEST_HOOKS
  addTestRecord(env, result, mTestRecord);
#endif
  return result;
}

void RunState::finish(Napi::Env env) noexcept {
  if (mThread.joinable()) mThread.join();
  if (mHookAdded) {
    mCleanupHook.Remove(env);
    mHookAdded = false;
  }
  try {
    Napi::HandleScope scope(env);
    if (!mJsError.IsEmpty()) {
      mDeferred->Reject(mJsError.Value());
    } else if (mStatus.failed() || mStatus.abortRequested()) {
      bool const aborted = !mStatus.failed();
      std::string const message = aborted ? "The calibration run was aborted" : mStatus.message();
      mDeferred->Reject(
          codedError(env, message, aborted ? "ERR_ABORTED" : errorCodeName(mStatus.code())).Value());
    } else {
      mDeferred->Resolve(result(env));
    }
  } catch (...) {
  }
  // Deletes the references on this thread, while the environment is alive.
  mJsError.Reset();
  for (Napi::FunctionReference* ref : {&mFill, &mReadCache, &mWriteCache, &mProgress, &mProcess})
    ref->Reset();
  mBridge->release();
  std::shared_ptr<RunState> self = std::move(mSelf);  // may destroy this at the end of the scope
}

void RunState::onTeardown(RunState* run) {
  std::shared_ptr<RunState> self = run->mSelf;  // keep alive through the join
  run->mHookAdded = false;                      // node-addon-api frees the hook's data after this returns
  run->mStatus.fail(RunErrorCode::kTEARDOWN, "the JavaScript environment was torn down during calibration");
  run->mStatus.requestAbort();
  if (run->mOptions.inference)
    run->mOptions.inference->cancel();  // an ONNX Runtime run in progress stops early
  run->mBridge->close();                // wakes the builder thread and refuses every later call
  if (run->mThread.joinable()) run->mThread.join();
  // No JS from here on: the environment deletes its references and drops the promise itself, so none of ours
  // is deleted here.
  for (Napi::FunctionReference* ref :
       {&run->mFill, &run->mReadCache, &run->mWriteCache, &run->mProgress, &run->mProcess}) {
    ref->SuppressDestruct();
  }
  run->mJsError.SuppressDestruct();
  for (int32_t slot = 0; slot < BatchBuffers::kSLOTS; ++slot) {
    run->mSlotObjects[slot].SuppressDestruct();
    for (Napi::Reference<Napi::ArrayBuffer>& ref : run->mSlotBuffers[slot]) ref.SuppressDestruct();
  }
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

}  // namespace

void initRun(Napi::Env env, Napi::Object exports) {
  exports.Set("startCalibration", Napi::Function::New(env, RunState::start, "startCalibration"));
  exports.Set("liveAllocations", Napi::Function::New(env, liveAllocationsJs, "liveAllocations"));
}

}  // namespace trtc
