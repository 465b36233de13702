// JS bindings of the histogram set, the threshold algorithms and the cache text writer.
//
// Exports: class HistogramSet (new HistogramSet(bytes?)), function formatCacheText(version, algorithm,
// entries).
//
// Threading / lifetime: a JS HistogramSet owns a std::shared_ptr<trtc::HistogramSet>; the builtin builder
// gets the same pointer through unwrapHistogramSet() and may fill it from its own thread while JS holds the
// object (trtc::HistogramSet locks per tensor). computeAll() runs on a libuv pool thread (bounded CPU work,
// never a wait on JS) and keeps its own reference to the set, so the JS object may be collected meanwhile.
// Objects are type-tagged at construction, so a foreign object handed to merge() is rejected instead of
// unwrapped.
#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "bridge/addon.h"
#include "bridge/js_errors.h"
#include "builtin/derived.h"
#include "builtin/histogram.h"
#include "builtin/parallel.h"
#include "builtin/thresholds.h"
#include "core/cache_text.h"

namespace trtc {
namespace {

constexpr napi_type_tag kHISTOGRAM_SET_TAG = {0x7a3c1e5f0b2d4c69ULL, 0x91e84a07d6f2b3c5ULL};

std::string stringArg(Napi::CallbackInfo const& info, size_t index, char const* what) {
  if (info.Length() <= index || !info[index].IsString()) {
    throw invalidArgument(info.Env(), std::string("Expected a string for ") + what);
  }
  return info[index].As<Napi::String>().Utf8Value();
}

AmaxAlgorithm algorithmArg(Napi::CallbackInfo const& info, size_t index) {
  std::string const name = stringArg(info, index, "algorithm");
  AmaxAlgorithm algorithm;
  if (!parseAmaxAlgorithm(name, algorithm)) {
    throw invalidArgument(info.Env(),
                          "Expected \"entropy\", \"minmax\", \"percentile\" or \"mse\" for algorithm",
                          OptionError::kRANGE);
  }
  return algorithm;
}

AmaxOptions optionsArg(Napi::CallbackInfo const& info, size_t index) {
  AmaxOptions options;
  if (info.Length() <= index || info[index].IsUndefined()) return options;
  if (!info[index].IsObject()) throw invalidArgument(info.Env(), "Expected an object for options");
  Napi::Value percentile = info[index].As<Napi::Object>().Get("percentile");
  if (!percentile.IsUndefined()) {
    if (!percentile.IsNumber()) throw invalidArgument(info.Env(), "Expected a number for percentile");
    options.percentile = percentile.As<Napi::Number>().DoubleValue();
    if (!(options.percentile > 0.0 && options.percentile <= 100.0)) {
      throw invalidArgument(info.Env(), "Expected a number in (0, 100] for percentile", OptionError::kRANGE);
    }
  }
  return options;
}

Napi::Object resultObject(Napi::Env env, AmaxResult const& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("status", amaxStatusName(r.status));
  o.Set("amax", r.amax);
  o.Set("bin", static_cast<double>(r.bin));
  return o;
}

class HistogramSetWrap : public Napi::ObjectWrap<HistogramSetWrap> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "HistogramSet",
                       {
                           InstanceMethod<&HistogramSetWrap::add>("add"),
                           InstanceMethod<&HistogramSetWrap::addAll>("addAll"),
                           InstanceMethod<&HistogramSetWrap::setBinWidth>("setBinWidth"),
                           InstanceMethod<&HistogramSetWrap::beginBatch>("beginBatch"),
                           InstanceMethod<&HistogramSetWrap::endPass>("endPass"),
                           InstanceMethod<&HistogramSetWrap::abandonBatch>("abandonBatch"),
                           InstanceMethod<&HistogramSetWrap::names>("names"),
                           InstanceMethod<&HistogramSetWrap::has>("has"),
                           InstanceMethod<&HistogramSetWrap::stats>("stats"),
                           InstanceMethod<&HistogramSetWrap::counts>("counts"),
                           InstanceMethod<&HistogramSetWrap::computeAmax>("computeAmax"),
                           InstanceMethod<&HistogramSetWrap::computeAll>("computeAll"),
                           InstanceMethod<&HistogramSetWrap::serialize>("serialize"),
                           InstanceMethod<&HistogramSetWrap::merge>("merge"),
                       });
  }

  explicit HistogramSetWrap(Napi::CallbackInfo const& info) : Napi::ObjectWrap<HistogramSetWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() > 0 && !info[0].IsUndefined()) {
      if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
        throw invalidArgument(env, "Expected a Uint8Array for bytes");
      }
      Napi::Uint8Array bytes = info[0].As<Napi::Uint8Array>();
      try {
        mSet = std::shared_ptr<HistogramSet>(HistogramSet::deserialize(bytes.Data(), bytes.ByteLength()));
      } catch (HistogramError const& e) {
        throw codedError(env, std::string("Invalid histogram data: ") + e.what(), "ERR_HISTOGRAM");
      }
    } else {
      mSet = std::make_shared<HistogramSet>();
    }
    napi_status status = napi_type_tag_object(env, info.This(), &kHISTOGRAM_SET_TAG);
    if (status != napi_ok) throw codedError(env, "could not tag HistogramSet", "ERR_INTERNAL");
  }

  std::shared_ptr<HistogramSet> const& set() const { return mSet; }

  static HistogramSetWrap* fromValue(Napi::Env env, Napi::Value value) {
    if (!value.IsObject()) return nullptr;
    bool tagged = false;
    if (napi_check_object_type_tag(env, value, &kHISTOGRAM_SET_TAG, &tagged) != napi_ok || !tagged)
      return nullptr;
    return Napi::ObjectWrap<HistogramSetWrap>::Unwrap(value.As<Napi::Object>());
  }

 private:
  void add(Napi::CallbackInfo const& info) {
    std::string const name = stringArg(info, 0, "name");
    if (info.Length() < 2 || !info[1].IsTypedArray() ||
        info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      throw invalidArgument(info.Env(), "Expected a Float32Array for data");
    }
    Napi::Float32Array data = info[1].As<Napi::Float32Array>();
    mSet->add(name, data.Data(), data.ElementLength());
  }

  // addAll(names, arrays, plan?): adds arrays[i] to names[i] for every i, the tensors in parallel over the
  // cores (largest first), each tensor's data in one add; with a plan (derivationPlanFromJs), also the
  // tensors it derives from them. Synchronous: it blocks the calling thread until done, so call it from a
  // worker thread (the builtin backend's ONNX Runtime worker does). New tensors are created in the given
  // order (the plan's, when given) first, so the set's order does not depend on the threads.
  void addAll(Napi::CallbackInfo const& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsArray())
      throw invalidArgument(env, "Expected arrays of names and Float32Arrays for addAll");
    Napi::Array names = info[0].As<Napi::Array>();
    Napi::Array arrays = info[1].As<Napi::Array>();
    if (names.Length() != arrays.Length())
      throw invalidArgument(env, "Expected as many Float32Arrays as names for addAll", OptionError::kRANGE);
    struct Item {
      std::string name;
      float const* data;
      std::size_t count;
    };
    std::vector<Item> items;
    items.reserve(names.Length());
    for (uint32_t i = 0; i < names.Length(); ++i) {
      Napi::Value name = names.Get(i);
      Napi::Value array = arrays.Get(i);
      if (!name.IsString())
        throw invalidArgument(env, "Expected a string for names[" + std::to_string(i) + "]");
      if (!array.IsTypedArray() || array.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
        throw invalidArgument(env, "Expected a Float32Array for arrays[" + std::to_string(i) + "]");
      Napi::Float32Array data = array.As<Napi::Float32Array>();
      items.push_back(Item{name.As<Napi::String>().Utf8Value(), data.Data(), data.ElementLength()});
    }
    std::shared_ptr<DerivationPlan> plan;
    if (info.Length() > 2 && !info[2].IsUndefined()) plan = derivationPlanFromJs(env, info[2], "addAll");
    for (std::size_t i = 0; plan && i < items.size(); ++i) {
      if (plan->derives(items[i].name)) {
        throw invalidArgument(env, "addAll: tensor \"" + items[i].name +
                                       "\" is derived by the plan; give its root's values only");
      }
    }
    try {
      std::vector<DerivedGroup const*> groups(items.size(), nullptr);
      std::vector<std::size_t> values(items.size());
      if (plan) createPlanEntries(*mSet, *plan);
      for (std::size_t i = 0; i < items.size(); ++i) {
        mSet->add(items[i].name, nullptr, 0);  // creates a missing entry only
        if (plan) groups[i] = plan->group(items[i].name);
        values[i] = valuesWithDerived(items[i].count, groups[i]);
      }
      // The typed arrays stay alive: their handles belong to this call's scope until it returns.
      parallelFor(largestFirst(items.size(), [&](std::size_t i) { return values[i]; }), [&](std::size_t i) {
        addWithDerived(*mSet, items[i].name, items[i].data, items[i].count, groups[i]);
      });
    } catch (HistogramError const& e) {
      throw codedError(env, e.what(), "ERR_HISTOGRAM");
    } catch (std::exception const& e) {
      throw codedError(env, e.what(), "ERR_INTERNAL");
    }
  }

  // setBinWidth(name, width, bins?): bins defaults to kHISTOGRAM_BINS; the C++ side checks the ranges.
  void setBinWidth(Napi::CallbackInfo const& info) {
    std::string const name = stringArg(info, 0, "name");
    if (info.Length() < 2 || !info[1].IsNumber())
      throw invalidArgument(info.Env(), "Expected a number for width");
    std::size_t bins = kHISTOGRAM_BINS;
    if (info.Length() > 2 && !info[2].IsUndefined()) {
      if (!info[2].IsNumber()) throw invalidArgument(info.Env(), "Expected a number for bins");
      double const value = info[2].As<Napi::Number>().DoubleValue();
      if (!(value >= 1 && value <= static_cast<double>(kHISTOGRAM_MAX_BINS) && value == std::floor(value)))
        throw invalidArgument(info.Env(), "Expected an integer in [1, 65536] for bins", OptionError::kRANGE);
      bins = static_cast<std::size_t>(value);
    }
    try {
      mSet->setBinWidth(name, info[1].As<Napi::Number>().DoubleValue(), bins);
    } catch (HistogramError const& e) {
      throw codedError(info.Env(), e.what(), "ERR_HISTOGRAM");
    }
  }

  // beginBatch(names) -> boolean, endPass() -> boolean, abandonBatch(): one batch given in parts
  // (HistogramSet::beginBatch in builtin/histogram.h); the ONNX Runtime worker drives them around its runs.
  Napi::Value beginBatch(Napi::CallbackInfo const& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsArray())
      throw invalidArgument(env, "Expected an array of names for names");
    Napi::Array array = info[0].As<Napi::Array>();
    std::vector<std::string> names;
    names.reserve(array.Length());
    for (uint32_t i = 0; i < array.Length(); ++i) {
      Napi::Value name = array.Get(i);
      if (!name.IsString())
        throw invalidArgument(env, "Expected a string for names[" + std::to_string(i) + "]");
      names.push_back(name.As<Napi::String>().Utf8Value());
    }
    try {
      return Napi::Boolean::New(env, mSet->beginBatch(names));
    } catch (std::logic_error const& e) {
      throw codedError(env, e.what(), "ERR_HISTOGRAM");
    }
  }

  Napi::Value endPass(Napi::CallbackInfo const& info) {
    return Napi::Boolean::New(info.Env(), mSet->endPass());
  }

  void abandonBatch(Napi::CallbackInfo const&) { mSet->abandonBatch(); }

  Napi::Value names(Napi::CallbackInfo const& info) {
    std::vector<std::string> const all = mSet->names();
    Napi::Array out = Napi::Array::New(info.Env(), all.size());
    for (size_t i = 0; i < all.size(); ++i) out.Set(static_cast<uint32_t>(i), all[i]);
    return out;
  }

  Napi::Value has(Napi::CallbackInfo const& info) {
    return Napi::Boolean::New(info.Env(), mSet->has(stringArg(info, 0, "name")));
  }

  Histogram histogram(Napi::CallbackInfo const& info) {
    std::string const name = stringArg(info, 0, "name");
    try {
      return mSet->get(name);
    } catch (std::out_of_range const&) {
      throw codedError(info.Env(), "No histogram for tensor \"" + name + "\"", "ERR_HISTOGRAM");
    }
  }

  Napi::Value stats(Napi::CallbackInfo const& info) {
    Histogram const h = histogram(info);
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("count", static_cast<double>(h.count()));
    o.Set("finiteCount", static_cast<double>(h.finiteCount()));
    o.Set("nanCount", static_cast<double>(h.nanCount()));
    o.Set("posInfCount", static_cast<double>(h.posInfCount()));
    o.Set("negInfCount", static_cast<double>(h.negInfCount()));
    o.Set("min", static_cast<double>(h.min()));
    o.Set("max", static_cast<double>(h.max()));
    o.Set("absMax", static_cast<double>(h.absMax()));
    o.Set("nbins", static_cast<double>(h.nbins()));
    o.Set("binWidth", h.binWidth());
    o.Set("pendingZeros", static_cast<double>(h.pendingZeros()));
    return o;
  }

  Napi::Value counts(Napi::CallbackInfo const& info) {
    Histogram const h = histogram(info);
    Napi::Float64Array out = Napi::Float64Array::New(info.Env(), h.nbins());
    for (size_t i = 0; i < h.nbins(); ++i) out[i] = static_cast<double>(h.counts()[i]);
    return out;
  }

  Napi::Value computeAmax(Napi::CallbackInfo const& info) {
    Histogram const h = histogram(info);
    AmaxAlgorithm const algorithm = algorithmArg(info, 1);
    AmaxOptions const options = optionsArg(info, 2);
    return resultObject(info.Env(), trtc::computeAmax(h, algorithm, options));
  }

  class ComputeAllWorker : public Napi::AsyncWorker {
   public:
    ComputeAllWorker(Napi::Env env, std::shared_ptr<HistogramSet> set, AmaxAlgorithm algorithm,
                     AmaxOptions options)
        : Napi::AsyncWorker(env, "trtc.computeAll"),
          mDeferred(Napi::Promise::Deferred::New(env)),
          mSet(std::move(set)),
          mAlgorithm(algorithm),
          mOptions(options) {}
    Napi::Promise promise() const { return mDeferred.Promise(); }

   protected:
    void Execute() override {
      try {
        for (std::string const& name : mSet->names()) {
          mResults.emplace_back(name, trtc::computeAmax(mSet->get(name), mAlgorithm, mOptions));
        }
      } catch (std::exception const& e) {
        SetError(e.what());
      }
    }
    void OnOK() override {
      Napi::Env env = Env();
      Napi::Array out = Napi::Array::New(env, mResults.size());
      for (size_t i = 0; i < mResults.size(); ++i) {
        Napi::Object o = resultObject(env, mResults[i].second);
        o.Set("name", mResults[i].first);
        out.Set(static_cast<uint32_t>(i), o);
      }
      mDeferred.Resolve(out);
    }
    void OnError(Napi::Error const& error) override {
      Napi::Error coded = error;
      coded.Set("code", Napi::String::New(Env(), "ERR_INTERNAL"));
      mDeferred.Reject(coded.Value());
    }

   private:
    Napi::Promise::Deferred mDeferred;
    std::shared_ptr<HistogramSet> mSet;
    AmaxAlgorithm mAlgorithm;
    AmaxOptions mOptions;
    std::vector<std::pair<std::string, AmaxResult>> mResults;
  };

  Napi::Value computeAll(Napi::CallbackInfo const& info) {
    AmaxAlgorithm const algorithm = algorithmArg(info, 0);
    AmaxOptions const options = optionsArg(info, 1);
    auto* worker = new ComputeAllWorker(info.Env(), mSet, algorithm, options);  // AsyncWorker deletes itself
    worker->Queue();
    return worker->promise();
  }

  Napi::Value serialize(Napi::CallbackInfo const& info) {
    std::vector<uint8_t> bytes;
    try {
      bytes = mSet->serialize();
    } catch (HistogramError const& e) {  // a batch given in parts is open
      throw codedError(info.Env(), e.what(), "ERR_HISTOGRAM");
    }
    return Napi::Buffer<uint8_t>::Copy(info.Env(), bytes.data(), bytes.size());
  }

  void merge(Napi::CallbackInfo const& info) {
    HistogramSetWrap* other = info.Length() > 0 ? fromValue(info.Env(), info[0]) : nullptr;
    if (other == nullptr) throw invalidArgument(info.Env(), "Expected a HistogramSet for other");
    try {
      mSet->merge(*other->mSet);
    } catch (HistogramError const& e) {
      throw codedError(info.Env(), e.what(), "ERR_HISTOGRAM");
    }
  }

  std::shared_ptr<HistogramSet> mSet;
};

Napi::Value formatCacheTextJs(Napi::CallbackInfo const& info) {
  Napi::Env env = info.Env();
  std::string const version = stringArg(info, 0, "version");
  std::string const algorithm = stringArg(info, 1, "algorithm");
  if (info.Length() < 3 || !info[2].IsArray()) throw invalidArgument(env, "Expected an array for entries");
  Napi::Array array = info[2].As<Napi::Array>();
  std::vector<CacheEntry> entries;
  entries.reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value item = array.Get(i);
    if (!item.IsObject()) throw invalidArgument(env, "Expected {name, amax} objects in entries");
    Napi::Object o = item.As<Napi::Object>();
    Napi::Value name = o.Get("name");
    Napi::Value amax = o.Get("amax");
    if (!name.IsString() || !amax.IsNumber()) {
      throw invalidArgument(env,
                            "Expected {name: string, amax: number} in entries[" + std::to_string(i) + "]");
    }
    entries.push_back({name.As<Napi::String>().Utf8Value(), amax.As<Napi::Number>().DoubleValue()});
  }
  try {
    return Napi::String::New(env, formatCacheText(version, algorithm, entries));
  } catch (std::invalid_argument const& e) {
    throw invalidArgument(env, e.what(), OptionError::kRANGE);
  }
}

}  // namespace

std::shared_ptr<HistogramSet> unwrapHistogramSet(Napi::Env env, Napi::Value value) {
  HistogramSetWrap* wrap = HistogramSetWrap::fromValue(env, value);
  return wrap == nullptr ? nullptr : wrap->set();
}

void initHistogram(Napi::Env env, Napi::Object exports) {
  exports.Set("HistogramSet", HistogramSetWrap::define(env));
  exports.Set("formatCacheText", Napi::Function::New<formatCacheTextJs>(env, "formatCacheText"));
}

}  // namespace trtc
