// JS bindings of the C++ ONNX Runtime sessions (ort_session.h).
//
// Exports: loadOnnxRuntime(libraryPath) -> Promise<{ ok, version?, error? }>;
// loadOnnxRuntimeSync(libraryPath)
// -> the same, blocking; createOrtSession(modelBytes | modelBytes[], { threads?, fetch? }) ->
// Promise<OrtSession handle>. (Process exit quiesces ONNX Runtime from an atexit handler that loadOnnxRuntime
// installs: nothing for JS to call.)
//
// Threading / lifetime: loadOnnxRuntime loads the library and creates ONNX Runtime's environment on a libuv
// pool thread (20-30 ms on the JS thread otherwise); loadOnnxRuntimeSync does it on the calling thread, for
// the synchronous capabilities(). createOrtSession copies the model bytes (the pieces concatenated) on the JS
// thread, since JS could detach or change them later, and creates the session on a libuv pool thread (ONNX
// Runtime's session creation takes 0.1-1 s: never on the JS thread). The handle is a plain object,
// type-tagged, that owns a std::shared_ptr<OrtSession>; startCalibration takes the same pointer
// (unwrapOrtSession), so a run keeps its session alive even if the handle is closed or collected meanwhile.
// close() drops the handle's reference at once; the last reference, wherever it goes (close, the handle's
// finalizer, the end of a run), destroys the session on a thread of its own (ort_session.h), never on the JS
// thread.
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "bridge/addon.h"
#include "bridge/js_errors.h"
#include "builtin/derived.h"
#include "builtin/ort_session.h"

namespace trtc {
namespace {

constexpr napi_type_tag kORT_SESSION_TAG = {0x3b9f6c2e81d047a5ULL, 0xc4d2e7195a6f0b38ULL};

struct Holder {
  std::shared_ptr<OrtSession> session;
};

Napi::Array stringArray(Napi::Env env, std::vector<std::string> const& items) {
  Napi::Array array = Napi::Array::New(env, items.size());
  for (size_t i = 0; i < items.size(); ++i) array.Set(static_cast<uint32_t>(i), items[i]);
  return array;
}

Holder* holderOf(Napi::Env env, Napi::Value value) {
  if (!value.IsObject()) return nullptr;
  bool tagged = false;
  if (napi_check_object_type_tag(env, value, &kORT_SESSION_TAG, &tagged) != napi_ok || !tagged)
    return nullptr;
  void* data = nullptr;
  if (napi_unwrap(env, value, &data) != napi_ok) return nullptr;
  return static_cast<Holder*>(data);
}

Napi::Object wrapSession(Napi::Env env, std::shared_ptr<OrtSession> session) {
  Napi::Object handle = Napi::Object::New(env);
  handle.Set("inputs", stringArray(env, session->inputNames()));
  Napi::Array outputs = Napi::Array::New(env, session->outputs().size());
  for (size_t i = 0; i < session->outputs().size(); ++i) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", session->outputs()[i].name);
    o.Set("type", onnxElementTypeName(session->outputs()[i].elementType));
    outputs.Set(static_cast<uint32_t>(i), o);
  }
  handle.Set("outputs", outputs);
  handle.Set("fetched", stringArray(env, session->fetched()));
  handle.Set("setFetch", Napi::Function::New(env, [](Napi::CallbackInfo const& info) -> Napi::Value {
               Napi::Env env = info.Env();
               Holder* holder = holderOf(env, info.This());
               if (holder == nullptr || !holder->session)
                 throw codedError(env, "the session is closed", "ERR_INTERNAL");
               if (info.Length() < 1 || !info[0].IsArray())
                 throw invalidArgument(env, "Expected an array of names");
               Napi::Array array = info[0].As<Napi::Array>();
               bool derived = false;
               for (uint32_t i = 0; i < array.Length() && !derived; ++i) derived = array.Get(i).IsObject();
               // Derived tensors: fetch the plan's own, compute the others while histogramming (derived.h).
               std::shared_ptr<DerivationPlan> plan =
                   derived ? derivationPlanFromJs(env, array, "setFetch") : nullptr;
               std::vector<std::string> names;
               if (!derived) {
                 for (uint32_t i = 0; i < array.Length(); ++i)
                   names.push_back(array.Get(i).ToString().Utf8Value());
               }
               try {
                 if (derived) {
                   holder->session->setFetch(std::move(plan));
                 } else {
                   holder->session->setFetch(names);
                 }
               } catch (std::exception const& e) {
                 // A name that is not a float32 output of the model.
                 throw invalidArgument(env, e.what(), OptionError::kRANGE);
               }
               Napi::Array fetched = stringArray(env, holder->session->fetched());
               info.This().As<Napi::Object>().Set("fetched", fetched);
               return fetched;
             }));
  // Drops the handle's reference; if it was the last one the session is destroyed on another thread.
  handle.Set("close", Napi::Function::New(env, [](Napi::CallbackInfo const& info) {
               Holder* holder = holderOf(info.Env(), info.This());
               if (holder != nullptr) holder->session.reset();
             }));
  auto* holder = new Holder{std::move(session)};
  napi_status status = napi_wrap(
      env, handle, holder, [](napi_env, void* data, void*) { delete static_cast<Holder*>(data); }, nullptr,
      nullptr);
  if (status != napi_ok) {
    delete holder;
    throw codedError(env, "napi_wrap failed", "ERR_INTERNAL");
  }
  if (napi_type_tag_object(env, handle, &kORT_SESSION_TAG) != napi_ok) {
    throw codedError(env, "could not tag the ONNX Runtime session", "ERR_INTERNAL");
  }
  return handle;
}

// { ok: true, version } or { ok: false, error } for what loadOnnxRuntime() returned.
Napi::Object loadResult(Napi::Env env, std::string const& error, std::string const& version) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("ok", error.empty());
  if (error.empty()) {
    result.Set("version", version);
  } else {
    result.Set("error", error);
  }
  return result;
}

std::string libraryPathArgument(Napi::CallbackInfo const& info) {
  if (info.Length() < 1 || !info[0].IsString())
    throw invalidArgument(info.Env(), "Expected a string for libraryPath");
  return info[0].As<Napi::String>().Utf8Value();
}

Napi::Value loadOnnxRuntimeSyncJs(Napi::CallbackInfo const& info) {
  std::string const error = loadOnnxRuntime(libraryPathArgument(info));
  return loadResult(info.Env(), error, error.empty() ? onnxRuntimeVersion() : "");
}

// Loads the library on a libuv pool thread; the promise always resolves (a failure is { ok: false }).
class LoadWorker : public Napi::AsyncWorker {
 public:
  LoadWorker(Napi::Env env, std::string path)
      : Napi::AsyncWorker(env, "trtc.loadOnnxRuntime"),
        mDeferred(Napi::Promise::Deferred::New(env)),
        mPath(std::move(path)) {}
  Napi::Promise promise() const { return mDeferred.Promise(); }

 protected:
  void Execute() override {
    mError = loadOnnxRuntime(mPath);
    if (mError.empty()) mVersion = onnxRuntimeVersion();
  }
  void OnOK() override { mDeferred.Resolve(loadResult(Env(), mError, mVersion)); }

 private:
  Napi::Promise::Deferred mDeferred;
  std::string mPath;
  std::string mError;
  std::string mVersion;
};

Napi::Value loadOnnxRuntimeJs(Napi::CallbackInfo const& info) {
  auto* worker = new LoadWorker(info.Env(), libraryPathArgument(info));  // AsyncWorker deletes itself
  worker->Queue();
  return worker->promise();
}

class CreateWorker : public Napi::AsyncWorker {
 public:
  CreateWorker(Napi::Env env, std::vector<uint8_t> model, OrtSessionOptions options)
      : Napi::AsyncWorker(env, "trtc.createOrtSession"),
        mDeferred(Napi::Promise::Deferred::New(env)),
        mModel(std::move(model)),
        mOptions(std::move(options)) {}
  Napi::Promise promise() const { return mDeferred.Promise(); }

 protected:
  void Execute() override {
    try {
      mSession = OrtSession::create(mModel.data(), mModel.size(), mOptions);
    } catch (std::exception const& e) {
      SetError(e.what());
    }
    std::vector<uint8_t>().swap(mModel);
  }
  void OnOK() override { mDeferred.Resolve(wrapSession(Env(), std::move(mSession))); }
  // ONNX Runtime refused the model (or is not loaded): its message, code ERR_MODEL.
  void OnError(Napi::Error const& error) override {
    Napi::Error coded = error;
    coded.Set("code", Napi::String::New(Env(), "ERR_MODEL"));
    mDeferred.Reject(coded.Value());
  }

 private:
  Napi::Promise::Deferred mDeferred;
  std::vector<uint8_t> mModel;
  OrtSessionOptions mOptions;
  std::shared_ptr<OrtSession> mSession;
};

bool isUint8Array(Napi::Value value) {
  return value.IsTypedArray() && value.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array;
}

Napi::Value createOrtSessionJs(Napi::CallbackInfo const& info) {
  Napi::Env env = info.Env();
  // The model as one Uint8Array or as pieces whose concatenation is the model (calibration-model.ts splices
  // the added outputs into the file's bytes that way, without encoding the model again).
  std::vector<Napi::Uint8Array> pieces;
  if (info.Length() >= 1 && isUint8Array(info[0])) {
    pieces.push_back(info[0].As<Napi::Uint8Array>());
  } else if (info.Length() >= 1 && info[0].IsArray()) {
    Napi::Array array = info[0].As<Napi::Array>();
    for (uint32_t i = 0; i < array.Length(); ++i) {
      Napi::Value piece = array.Get(i);
      if (!isUint8Array(piece))
        throw invalidArgument(env, "Expected a Uint8Array or an array of them for modelBytes");
      pieces.push_back(piece.As<Napi::Uint8Array>());
    }
  } else {
    throw invalidArgument(env, "Expected a Uint8Array or an array of them for modelBytes");
  }
  OrtSessionOptions options;
  if (info.Length() > 1 && info[1].IsObject()) {
    Napi::Object o = info[1].As<Napi::Object>();
    Napi::Value threads = o.Get("threads");
    if (threads.IsNumber()) options.intraOpThreads = threads.As<Napi::Number>().Int32Value();
    Napi::Value fetch = o.Get("fetch");
    if (fetch.IsArray()) {
      Napi::Array array = fetch.As<Napi::Array>();
      for (uint32_t i = 0; i < array.Length(); ++i)
        options.fetch.push_back(array.Get(i).ToString().Utf8Value());
    }
  }
  size_t total = 0;
  for (Napi::Uint8Array const& piece : pieces) total += piece.ByteLength();
  std::vector<uint8_t> model;
  model.reserve(total);
  for (Napi::Uint8Array const& piece : pieces)
    model.insert(model.end(), piece.Data(), piece.Data() + piece.ByteLength());
  auto* worker = new CreateWorker(env, std::move(model), std::move(options));  // AsyncWorker deletes itself
  worker->Queue();
  return worker->promise();
}

}  // namespace

std::shared_ptr<DerivationPlan> derivationPlanFromJs(Napi::Env env, Napi::Value value, char const* what) {
  std::string const where(what);
  auto invalid = [&](std::string const& message) { return invalidArgument(env, message); };
  if (!value.IsArray()) throw invalid("Expected an array of tensors for " + where);
  Napi::Array items = value.As<Napi::Array>();
  auto plan = std::make_shared<DerivationPlan>();
  auto text = [&](Napi::Object o, char const* key, uint32_t i) {
    Napi::Value v = o.Get(key);
    if (!v.IsString()) {
      throw invalid(where + ": item " + std::to_string(i) + " needs a string " + key);
    }
    return v.As<Napi::String>().Utf8Value();
  };
  try {
    for (uint32_t i = 0; i < items.Length(); ++i) {
      Napi::Value item = items.Get(i);
      if (item.IsString()) {
        plan->addFetched(item.As<Napi::String>().Utf8Value());
        continue;
      }
      if (!item.IsObject()) {
        throw invalid(where + ": item " + std::to_string(i) + " is neither a name nor a derived tensor");
      }
      Napi::Object o = item.As<Napi::Object>();
      Napi::Value inputsValue = o.Get("inputs");
      if (!inputsValue.IsArray()) {
        throw invalid(where + ": item " + std::to_string(i) + " needs an inputs array");
      }
      Napi::Array inputs = inputsValue.As<Napi::Array>();
      std::vector<DerivationPlan::Input> parsed;
      for (uint32_t k = 0; k < inputs.Length(); ++k) {
        Napi::Value in = inputs.Get(k);
        DerivationPlan::Input input;
        if (in.IsNumber()) {
          input.isConstant = true;
          input.constant = static_cast<float>(in.As<Napi::Number>().DoubleValue());
        } else if (in.IsString()) {
          input.tensor = in.As<Napi::String>().Utf8Value();
        } else {
          throw invalid(where + ": item " + std::to_string(i) +
                        " has an input that is neither a name nor a number");
        }
        parsed.push_back(std::move(input));
      }
      plan->addDerived(text(o, "name", i), text(o, "root", i), text(o, "op", i), parsed);
    }
  } catch (std::invalid_argument const& e) {
    throw invalid(where + ": " + e.what());
  }
  return plan;
}

std::shared_ptr<Inference> unwrapOrtSession(Napi::Env env, Napi::Value value) {
  Holder* holder = holderOf(env, value);
  return holder == nullptr ? nullptr : holder->session;
}

void initOrt(Napi::Env env, Napi::Object exports) {
  exports.Set("loadOnnxRuntime", Napi::Function::New<loadOnnxRuntimeJs>(env, "loadOnnxRuntime"));
  exports.Set("loadOnnxRuntimeSync", Napi::Function::New<loadOnnxRuntimeSyncJs>(env, "loadOnnxRuntimeSync"));
  exports.Set("createOrtSession", Napi::Function::New<createOrtSessionJs>(env, "createOrtSession"));
#if TRTC_TEST_HOOKS
  // { live, destroyedOnOwnThread }: sessions not yet destroyed, and sessions destroyed on threads of their
  // own, in the whole process.
  exports.Set("ortSessionCounts",
              Napi::Function::New(
                  env,
                  [](Napi::CallbackInfo const& info) {
                    OrtSessionCounts const counts = ortSessionCounts();
                    Napi::Object result = Napi::Object::New(info.Env());
                    result.Set("live", Napi::Number::New(info.Env(), static_cast<double>(counts.live)));
                    result.Set(
                        "destroyedOnOwnThread",
                        Napi::Number::New(info.Env(), static_cast<double>(counts.destroyedOnOwnThread)));
                    return result;
                  },
                  "ortSessionCounts"));
#endif
}

}  // namespace trtc
