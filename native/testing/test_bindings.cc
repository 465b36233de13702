#include "testing/test_bindings.h"

#include <string>

#include "bridge/js_bridge.h"
#include "bridge/js_errors.h"
#include "core/cuda_api.h"
#include "testing/test_cuda.h"

namespace trtc {
namespace {

Napi::Value benchBareUploadJs(Napi::CallbackInfo const& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw invalidOption(env, "bytes", "a number", info[0]);
  if (!info[1].IsNumber()) throw invalidOption(env, "iterations", "a number", info[1]);
  try {
    return Napi::Number::New(env,
                             benchBareUpload(static_cast<size_t>(info[0].As<Napi::Number>().DoubleValue()),
                                             info[1].As<Napi::Number>().Int32Value()));
  } catch (CudaError const& e) {
    throw codedError(env, e.what(), "ERR_CUDA");
  }
}

}  // namespace

void initTestHooks(Napi::Env env, Napi::Object exports) {
  exports.Set("benchBareUpload", Napi::Function::New(env, benchBareUploadJs, "benchBareUpload"));
}

Napi::Function callOnJsThreadFunction(Napi::Env env, std::shared_ptr<JsBridge> const& bridge) {
  std::weak_ptr<JsBridge> weak = bridge;
  return Napi::Function::New(env, [weak](Napi::CallbackInfo const& info) -> Napi::Value {
    std::shared_ptr<JsBridge> self = weak.lock();
    if (!self) return Napi::String::New(info.Env(), "finished");
    CallOutcome const outcome = self->call([](Napi::Env e) { return e.Undefined(); }, {}, {});
    return Napi::String::New(info.Env(), callOutcomeName(outcome));
  });
}

void addTestRecord(Napi::Env env, Napi::Object result, TestRecord const& record) {
  Napi::Array trace = Napi::Array::New(env, record.trace.size());
  for (size_t i = 0; i < record.trace.size(); ++i) trace.Set(static_cast<uint32_t>(i), record.trace[i]);
  result.Set("trace", trace);
  Napi::Array captures = Napi::Array::New(env, record.captures.size());
  for (size_t i = 0; i < record.captures.size(); ++i) {
    TestRecord::Capture const& capture = record.captures[i];
    Napi::Object c = Napi::Object::New(env);
    c.Set("batch", Napi::Number::New(env, static_cast<double>(capture.batch)));
    c.Set("name", capture.name);
    c.Set("bytes", Napi::Buffer<uint8_t>::Copy(env, capture.bytes.data(), capture.bytes.size()));
    c.Set("device", capture.device);
    captures.Set(static_cast<uint32_t>(i), c);
  }
  result.Set("captures", captures);
}

}  // namespace trtc
