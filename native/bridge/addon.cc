// Addon entry point: one exports object per environment (main thread and each worker_threads Worker).
#include "bridge/addon.h"
#if TRTC_TEST_HOOKS
#include "testing/test_bindings.h"
#endif

static Napi::Object initAddon(Napi::Env env, Napi::Object exports) {
  exports.Set("addonVersion", trtc::kADDON_VERSION);
  trtc::initCapabilities(env, exports);
  trtc::initRun(env, exports);
  trtc::initHistogram(env, exports);
  trtc::initOrt(env, exports);
#if TRTC_TEST_HOOKS
  trtc::initTestHooks(env, exports);
#endif
  return exports;
}

NODE_API_MODULE(trt_calibrator, initAddon)
