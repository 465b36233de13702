// Shared declarations of the addon's modules. Each module adds its exports in an Init* function called once
// per environment (main thread and every worker_threads Worker) from addon.cc.
#pragma once

#include <napi.h>

namespace trtc {

// Addon version, kept equal to package.json's by a test.
inline constexpr char kADDON_VERSION[] = "0.1.0";

// capabilities(): what was compiled in and what the machine offers.
void initCapabilities(Napi::Env env, Napi::Object exports);

}  // namespace trtc
