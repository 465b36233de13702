// The errors the addon throws or rejects with. Every one is an Error object whose `code` property is set
// here, natively (the codes of lib/errors.ts), so TypeScript reads the kind from the code and never from the
// text. Option and argument errors follow lib/errors.ts invalidOption(): a TypeError for a wrong type, a
// RangeError for a wrong value, code ERR_INVALID_OPTION, and the message
//   "Expected <what> for <option> but received <value> of type <type>".
//
// Threading / lifetime: JS thread only (they create JS values).
#pragma once

#include <napi.h>

#include <string>

namespace trtc {

// An Error with `code`.
Napi::Error codedError(Napi::Env env, std::string const& message, char const* code);

enum class OptionError { kTYPE, kRANGE };

// "Expected <expected> for <option> but received <value> of type <type>": a TypeError (kTYPE) or RangeError
// (kRANGE) with code ERR_INVALID_OPTION and `option`.
Napi::Error invalidOption(Napi::Env env, std::string const& option, std::string const& expected,
                          Napi::Value received, OptionError kind = OptionError::kTYPE);

// A TypeError (kTYPE) or RangeError (kRANGE) with code ERR_INVALID_OPTION and a message of the caller's.
Napi::Error invalidArgument(Napi::Env env, std::string const& message, OptionError kind = OptionError::kTYPE);

// `value` as lib/errors.ts describeValue() shows it: "\"8\" of type string", "null of type null", ...
std::string describeValue(Napi::Value value);

}  // namespace trtc
