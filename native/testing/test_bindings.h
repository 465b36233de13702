// The Node-API side of the test build's hooks (compiled only with TRTC_TEST_HOOKS): benchBareUpload() on the
// addon, callOnJsThread() on a run's handle, and a test builder's record (trace, captures) on a run's result.
// The release addon has none of them.
//
// Threading / lifetime: JS thread only.
#pragma once

#include <napi.h>

#include <memory>

#include "testing/test_driver.h"

namespace trtc {

class JsBridge;  // bridge/js_bridge.h

// Adds benchBareUpload(bytes, iterations) to the addon's exports.
void initTestHooks(Napi::Env env, Napi::Object exports);

// handle.callOnJsThread(): makes a bridge call from the JS thread and returns its outcome ("wrong-thread":
// the bridge refuses instead of deadlocking), or "finished" once the run's bridge is gone.
Napi::Function callOnJsThreadFunction(Napi::Env env, std::shared_ptr<JsBridge> const& bridge);

// result.trace and result.captures from a test builder's record.
void addTestRecord(Napi::Env env, Napi::Object result, TestRecord const& record);

}  // namespace trtc
