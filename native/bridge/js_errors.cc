#include "bridge/js_errors.h"

namespace trtc {
namespace {

constexpr size_t kSHOWN = 60;  // characters of a value shown in a message, as lib/errors.ts

std::string shorten(std::string text, bool array) {
  if (array) return text.size() > kSHOWN ? text.substr(0, kSHOWN) : text;
  return text.size() > kSHOWN ? text.substr(0, kSHOWN - 3) + "..." : text;
}

std::string jsonOf(Napi::Env env, Napi::Value value) {
  Napi::Object json = env.Global().Get("JSON").As<Napi::Object>();
  Napi::Value text = json.Get("stringify").As<Napi::Function>().Call(json, {value});
  return text.IsString() ? text.As<Napi::String>().Utf8Value() : std::string("undefined");
}

}  // namespace

Napi::Error codedError(Napi::Env env, std::string const& message, char const* code) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error;
}

std::string describeValue(Napi::Value value) {
  try {
    Napi::Env env = value.Env();
    if (value.IsNull()) return "null of type null";
    if (value.IsArray()) return shorten(jsonOf(env, value), true) + " of type array";
    std::string shown;
    std::string type;
    switch (value.Type()) {
      case napi_undefined:
        return "undefined of type undefined";
      case napi_string:
        shown = jsonOf(env, value);
        type = "string";
        break;
      case napi_function:
        shown = "[function]";
        type = "function";
        break;
      case napi_object: {
        Napi::Object toString = env.Global()
                                    .Get("Object")
                                    .As<Napi::Object>()
                                    .Get("prototype")
                                    .As<Napi::Object>()
                                    .Get("toString")
                                    .As<Napi::Object>();
        shown = toString.As<Napi::Function>().Call(value, {}).ToString().Utf8Value();
        type = "object";
        break;
      }
      default:
        shown = value.ToString().Utf8Value();
        type = value.IsNumber()    ? "number"
               : value.IsBoolean() ? "boolean"
               : value.IsBigInt()  ? "bigint"
                                   : "symbol";
        break;
    }
    return shorten(shown, false) + " of type " + type;
  } catch (...) {
    return "a value that cannot be shown";
  }
}

Napi::Error invalidArgument(Napi::Env env, std::string const& message, OptionError kind) {
  Napi::Error error = kind == OptionError::kTYPE ? Napi::Error(Napi::TypeError::New(env, message))
                                                 : Napi::Error(Napi::RangeError::New(env, message));
  error.Set("code", Napi::String::New(env, "ERR_INVALID_OPTION"));
  return error;
}

Napi::Error invalidOption(Napi::Env env, std::string const& option, std::string const& expected,
                          Napi::Value received, OptionError kind) {
  Napi::Error error = invalidArgument(
      env, "Expected " + expected + " for " + option + " but received " + describeValue(received), kind);
  error.Set("option", Napi::String::New(env, option));
  return error;
}

}  // namespace trtc
