// Shared declarations of the addon's Node-API modules (this folder). Each module adds its exports in an init*
// function called once per environment (main thread and every worker_threads Worker) from addon.cc; the test
// build adds testing/test_bindings.h's.
#pragma once

#include <napi.h>

#include <memory>

namespace trtc {

// Addon version, kept equal to package.json's by a test.
inline constexpr char kADDON_VERSION[] = "0.1.0";

// capabilities(): what was compiled in and what the machine offers.
void initCapabilities(Napi::Env env, Napi::Object exports);

// startCalibration(), liveAllocations(): the calibration run and its memory (run.h).
void initRun(Napi::Env env, Napi::Object exports);

// HistogramSet class and formatCacheText() (histogram_binding.cc).
class HistogramSet;
void initHistogram(Napi::Env env, Napi::Object exports);
// The C++ set behind a JS HistogramSet (shared ownership), or nullptr when `value` is not one.
std::shared_ptr<HistogramSet> unwrapHistogramSet(Napi::Env env, Napi::Value value);

// loadOnnxRuntime() and createOrtSession() (ort_binding.cc): ONNX Runtime's C API driven from the builtin
// builder's thread.
class Inference;
void initOrt(Napi::Env env, Napi::Object exports);
// The session behind a JS OrtSession (shared ownership), or nullptr when `value` is not one.
std::shared_ptr<Inference> unwrapOrtSession(Napi::Env env, Napi::Value value);

// A DerivationPlan (builtin/derived.h) from its JS form: an array, in graph order, of fetched tensor names
// (strings) and derived tensors ({ name, root, op, inputs: (string | number)[] }). Throws a JS TypeError with
// code ERR_INVALID_OPTION, naming `what` and the item, for a malformed or inconsistent plan.
class DerivationPlan;
std::shared_ptr<DerivationPlan> derivationPlanFromJs(Napi::Env env, Napi::Value value, char const* what);

}  // namespace trtc
