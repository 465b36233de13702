// The error kinds a calibration run can end with, as codes. They cross into JavaScript as the `code` property
// of the Error the run rejects with (errorCodeName(): the codes of lib/errors.ts), never as text to parse.
//
// Threading / lifetime: plain values and a pure function, usable from any thread.
#pragma once

#include <cstdint>
#include <string>

namespace trtc {

enum class RunErrorCode : int32_t {
  kNONE = 0,
  kJS_ERROR,     // a JavaScript callback threw or rejected: the run keeps the JS value itself
  kINPUT_NAME,   // ERR_INPUT_NAME
  kINPUT_SHAPE,  // ERR_INPUT_SHAPE
  kINPUT_DTYPE,  // ERR_INPUT_DTYPE
  kCUDA,         // ERR_CUDA (message starts with the CUDA error name)
  kIO,           // ERR_IO
  kMODEL,        // ERR_MODEL
  kTEARDOWN,     // ERR_INTERNAL: the JavaScript environment is shutting down (worker terminate, exit)
  kINTERNAL,     // ERR_INTERNAL
  kDEGENERATE,   // ERR_DEGENERATE_TENSOR
  kTENSORRT_UNAVAILABLE,  // ERR_TENSORRT_UNAVAILABLE
  kTENSORRT_BUILD,        // ERR_TENSORRT_BUILD
  kABORTED,               // ERR_ABORTED: the engine build was cancelled
};

// A code and its message (the message never repeats the code).
struct RunError {
  RunErrorCode code{RunErrorCode::kNONE};
  std::string message;
};

// "ERR_INPUT_NAME" etc.; kJS_ERROR gives "ERR_BATCH_FACTORY" (the usual source of JS errors), kNONE "".
inline char const* errorCodeName(RunErrorCode code) noexcept {
  switch (code) {
    case RunErrorCode::kNONE:
      return "";
    case RunErrorCode::kJS_ERROR:
      return "ERR_BATCH_FACTORY";
    case RunErrorCode::kINPUT_NAME:
      return "ERR_INPUT_NAME";
    case RunErrorCode::kINPUT_SHAPE:
      return "ERR_INPUT_SHAPE";
    case RunErrorCode::kINPUT_DTYPE:
      return "ERR_INPUT_DTYPE";
    case RunErrorCode::kCUDA:
      return "ERR_CUDA";
    case RunErrorCode::kIO:
      return "ERR_IO";
    case RunErrorCode::kMODEL:
      return "ERR_MODEL";
    case RunErrorCode::kDEGENERATE:
      return "ERR_DEGENERATE_TENSOR";
    case RunErrorCode::kTENSORRT_UNAVAILABLE:
      return "ERR_TENSORRT_UNAVAILABLE";
    case RunErrorCode::kTENSORRT_BUILD:
      return "ERR_TENSORRT_BUILD";
    case RunErrorCode::kABORTED:
      return "ERR_ABORTED";
    case RunErrorCode::kTEARDOWN:
    case RunErrorCode::kINTERNAL:
      return "ERR_INTERNAL";
  }
  return "ERR_INTERNAL";
}

}  // namespace trtc
