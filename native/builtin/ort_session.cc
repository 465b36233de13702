// ONNX Runtime through its C API, loaded at run time (see ort_session.h and ort_api.h).
#include "builtin/ort_session.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>

#include "builtin/ort_api.h"

#ifdef _WIN32
#include <windows.h>
#else
#include <dlfcn.h>
#endif

namespace trtc {
namespace {

using ortc::Api;

// The loaded library's table, its environment and version; written once under gLoadMutex.
struct Loaded {
  std::mutex mutex;
  bool tried{false};
  std::string error;
  Api const* api{nullptr};
  ortc::Env* env{nullptr};
  std::string version;
};

// Heap-allocated and never destroyed: nothing here may have a static destructor that runs at exit while a
// builder thread still uses it.
Loaded& loaded() {
  static Loaded* instance = new Loaded();
  return *instance;
}

// Runs in progress and sessions being destroyed, for quiesceOnnxRuntime().
struct Registry {
  std::mutex mutex;
  std::condition_variable idle;
  bool exiting{false};
  int inFlight{0};
  int destroying{0};
  std::multiset<OrtSession*> running;
};

Registry& registry() {
  static Registry* instance = new Registry();
  return *instance;
}

std::atomic<int64_t> gLiveSessions{0};
std::atomic<int64_t> gDestroyedOnOwnThread{0};

// Keeps this addon mapped until the process ends; true on success. Node unloads an addon (dlclose) when the
// last environment that loaded it is destroyed, e.g. a worker_threads Worker that was the only user: a
// destruction thread still running then would execute unmapped code. Pinning costs nothing in a process that
// keeps the addon anyway.
bool pinThisLibrary() noexcept {
  static char const kAnchor = 0;  // any address inside this library
#ifdef _WIN32
  HMODULE self = nullptr;
  return GetModuleHandleExA(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_PIN, &kAnchor,
                            &self) != 0;
#else
  Dl_info info{};
  if (dladdr(&kAnchor, &info) == 0 || info.dli_fname == nullptr) return false;
  return dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) != nullptr;
#endif
}

// The deleter of every session create() hands out: destroys it on a thread of its own (the addon pinned
// first), counted in the registry so that process exit waits for it. Once the process is exiting the session
// is left as it is: ONNX Runtime's static destructors run next and must not race a ReleaseSession, and the
// process ends anyway. Where no thread can be started, or the addon cannot be pinned, it is destroyed on the
// calling thread.
void destroyInBackground(OrtSession* session) noexcept {
  static bool const pinned = pinThisLibrary();
  Registry& r = registry();
  {
    std::lock_guard<std::mutex> lock(r.mutex);
    if (r.exiting) return;
    r.destroying += 1;
  }
  auto destroy = [session] {
    delete session;
    Registry& reg = registry();
    {
      std::lock_guard<std::mutex> lock(reg.mutex);
      reg.destroying -= 1;
    }
    reg.idle.notify_all();
  };
  if (!pinned) return destroy();
  try {
    std::thread([destroy] {
      gDestroyedOnOwnThread.fetch_add(1);
      destroy();
    }).detach();
  } catch (...) {
    destroy();
  }
}

// ONNX Runtime's message for a failed status (and releases it); "" for success.
std::string takeError(Api const* api, ortc::Status* status) {
  if (status == nullptr) return {};
  char const* message = api->GetErrorMessage(status);
  std::string text = message != nullptr && *message != '\0' ? message : "unknown ONNX Runtime error";
  api->ReleaseStatus(status);
  return text;
}

void check(Api const* api, ortc::Status* status, char const* what) {
  std::string const error = takeError(api, status);
  if (!error.empty())
    throw std::runtime_error(error.rfind(what, 0) == 0 ? error : std::string(what) + ": " + error);
}

void* openLibrary(std::string const& path, std::string& error) {
#ifdef _WIN32
  HMODULE handle = LoadLibraryA(path.c_str());
  if (handle == nullptr) error = "LoadLibrary failed (error " + std::to_string(GetLastError()) + ")";
  return reinterpret_cast<void*>(handle);
#else
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    char const* why = dlerror();
    error = why != nullptr ? why : "dlopen failed";
  }
  return handle;
#endif
}

void* findSymbol(void* library, char const* name) {
#ifdef _WIN32
  return reinterpret_cast<void*>(GetProcAddress(reinterpret_cast<HMODULE>(library), name));
#else
  return dlsym(library, name);
#endif
}

// Calls whose results are known: a table with another layout fails here instead of crashing later.
std::string checkLayout(Api const* api) {
  ortc::Status* status = api->CreateStatus(ortc::kFAIL, "trt-calibrator layout check");
  if (status == nullptr) return "CreateStatus returned nothing";
  bool const statusOk = api->GetErrorCode(status) == ortc::kFAIL &&
                        std::strcmp(api->GetErrorMessage(status), "trt-calibrator layout check") == 0;
  api->ReleaseStatus(status);
  if (!statusOk) return "the status functions do not behave as documented";
  ortc::MemoryInfo* info = nullptr;
  if (!takeError(api, api->CreateCpuMemoryInfo(ortc::kARENA_ALLOCATOR, ortc::kMEM_DEFAULT, &info)).empty() ||
      info == nullptr) {
    return "CreateCpuMemoryInfo failed";
  }
  char const* name = nullptr;
  std::string const error = takeError(api, api->MemoryInfoGetName(info, &name));
  bool const infoOk = error.empty() && name != nullptr && std::strcmp(name, "Cpu") == 0;
  api->ReleaseMemoryInfo(info);
  return infoOk ? "" : "the memory-info functions do not behave as documented";
}

// ONNX element types by the dtype names used across the package (InputDesc::dtype, onnxruntime-node's types).
struct ElementTypeName {
  int type;
  char const* name;
};
constexpr ElementTypeName kELEMENT_TYPES[] = {
    {ortc::kFLOAT, "float32"},  {ortc::kUINT8, "uint8"}, {ortc::kINT8, "int8"},
    {ortc::kINT16, "int16"},    {ortc::kINT32, "int32"}, {ortc::kINT64, "int64"},
    {ortc::kSTRING, "string"},  {ortc::kBOOL, "bool"},   {ortc::kFLOAT16, "float16"},
    {ortc::kDOUBLE, "float64"},
};

int elementTypeOf(std::string const& dtype) {
  for (ElementTypeName const& e : kELEMENT_TYPES) {
    if (dtype == e.name) return e.type;
  }
  return ortc::kUNDEFINED;
}

// Owns the OrtValues of one run.
class Values {
 public:
  explicit Values(Api const* api, size_t n) : mApi(api), mValues(n, nullptr) {}
  ~Values() {
    for (ortc::Value* v : mValues) {
      if (v != nullptr) mApi->ReleaseValue(v);
    }
  }
  Values(Values const&) = delete;
  Values& operator=(Values const&) = delete;
  ortc::Value*& operator[](size_t i) { return mValues[i]; }
  ortc::Value** data() { return mValues.data(); }
  size_t size() const { return mValues.size(); }

 private:
  Api const* mApi;
  std::vector<ortc::Value*> mValues;
};

// Counts a run in progress for quiesceOnnxRuntime(); refused once the process exits.
class InFlight {
 public:
  explicit InFlight(OrtSession* session) : mSession(session) {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    if (r.exiting) return;
    r.inFlight += 1;
    r.running.insert(session);
    mAdmitted = true;
  }
  ~InFlight() {
    if (!mAdmitted) return;
    Registry& r = registry();
    {
      std::lock_guard<std::mutex> lock(r.mutex);
      r.inFlight -= 1;
      r.running.erase(r.running.find(mSession));
    }
    r.idle.notify_all();
  }
  InFlight(InFlight const&) = delete;
  InFlight& operator=(InFlight const&) = delete;
  bool admitted() const { return mAdmitted; }

 private:
  OrtSession* mSession;
  bool mAdmitted{false};
};

}  // namespace

std::string loadOnnxRuntime(std::string const& path) {
  Loaded& l = loaded();
  std::lock_guard<std::mutex> lock(l.mutex);
  if (l.tried && l.api != nullptr) return "";
  l.tried = true;
  std::string error;
  void* library = openLibrary(path, error);
  if (library == nullptr) return l.error = "cannot load " + path + ": " + error;
  auto getBase = reinterpret_cast<ortc::GetApiBaseFn>(findSymbol(library, ortc::kGET_API_BASE_SYMBOL));
  if (getBase == nullptr) return l.error = path + " has no " + ortc::kGET_API_BASE_SYMBOL;
  ortc::ApiBase const* base = getBase();
  char const* version =
      base != nullptr && base->GetVersionString != nullptr ? base->GetVersionString() : nullptr;
  Api const* api = base != nullptr ? base->GetApi(ortc::kAPI_VERSION) : nullptr;
  if (api == nullptr) {
    return l.error = "ONNX Runtime " + std::string(version != nullptr ? version : "(unknown version)") +
                     " at " + path + " does not offer C API version " + std::to_string(ortc::kAPI_VERSION) +
                     " (ONNX Runtime 1.13 or newer is needed)";
  }
  std::string const layout = checkLayout(api);
  if (!layout.empty())
    return l.error = "ONNX Runtime at " + path + " failed the C API layout check: " + layout;
  ortc::Env* env = nullptr;
  std::string const envError = takeError(api, api->CreateEnv(ortc::kLOG_WARNING, "trt-calibrator", &env));
  if (!envError.empty() || env == nullptr)
    return l.error = "ONNX Runtime could not create its environment: " + envError;
  // The library stays loaded and the environment alive until the process ends. exit() (process.exit() too)
  // runs ONNX Runtime's static destructors, registered when the library loaded and so run after this handler:
  // first, stop and wait for any run still in progress, whichever thread started it. (A worker_threads run is
  // normally joined earlier, by its environment's cleanup hook.)
  std::atexit([] { quiesceOnnxRuntime(30000); });
  l.api = api;
  l.env = env;
  l.version = version != nullptr ? version : "";
  l.error.clear();
  return "";
}

char const* onnxElementTypeName(int type) noexcept {
  if (type == ortc::kUNDEFINED) return "non-tensor";
  for (ElementTypeName const& e : kELEMENT_TYPES) {
    if (type == e.type) return e.name;
  }
  return "other";
}

std::string onnxRuntimeVersion() {
  Loaded& l = loaded();
  std::lock_guard<std::mutex> lock(l.mutex);
  return l.api != nullptr ? l.version : "";
}

int quiesceOnnxRuntime(int timeoutMs) noexcept {
  Registry& r = registry();
  std::unique_lock<std::mutex> lock(r.mutex);
  r.exiting = true;
  for (OrtSession* s : r.running) s->cancel();
  r.idle.wait_for(lock, std::chrono::milliseconds(std::max(timeoutMs, 0)),
                  [&] { return r.inFlight == 0 && r.destroying == 0; });
  return r.inFlight + r.destroying;
}

OrtSessionCounts ortSessionCounts() noexcept { return {gLiveSessions.load(), gDestroyedOnOwnThread.load()}; }

OrtSession::OrtSession() { gLiveSessions.fetch_add(1); }

std::shared_ptr<OrtSession> OrtSession::create(void const* model, size_t bytes,
                                               OrtSessionOptions const& options) {
  Api const* api = nullptr;
  ortc::Env* env = nullptr;
  {
    Loaded& l = loaded();
    std::lock_guard<std::mutex> lock(l.mutex);
    api = l.api;
    env = l.env;
    if (api == nullptr) {
      throw std::runtime_error(l.error.empty() ? "ONNX Runtime is not loaded (loadOnnxRuntime)" : l.error);
    }
  }
  // Owned plainly until it is complete: a session that fails half-way is destroyed on this thread.
  std::unique_ptr<OrtSession> self(new OrtSession());
  self->mApi = api;

  ortc::SessionOptions* so = nullptr;
  check(api, api->CreateSessionOptions(&so), "CreateSessionOptions");
  std::unique_ptr<ortc::SessionOptions, void (*)(ortc::SessionOptions*)> ownedOptions(
      so, api->ReleaseSessionOptions);
  check(api, api->SetIntraOpNumThreads(so, std::max(options.intraOpThreads, 0)), "SetIntraOpNumThreads");
  check(api, api->SetSessionGraphOptimizationLevel(so, ortc::kOPT_ALL), "SetSessionGraphOptimizationLevel");
  // Errors come back as statuses (and reach the user as ERR_MODEL): ONNX Runtime's own log lines about them,
  // or warnings about the edited graph, would only repeat them on stderr.
  check(api, api->SetSessionLogSeverityLevel(so, ortc::kLOG_FATAL), "SetSessionLogSeverityLevel");
  // Between runs the builder histograms the activations on every core: ONNX Runtime's pool threads must
  // sleep then, not spin-wait for the next run (they would hold the cores the histograms need).
  check(api, api->AddSessionConfigEntry(so, "session.intra_op.allow_spinning", "0"), "AddSessionConfigEntry");
  check(api, api->CreateSessionFromArray(env, model, bytes, so, &self->mSession), "");
  check(api, api->CreateRunOptions(&self->mRunOptions), "CreateRunOptions");
  check(api, api->CreateCpuMemoryInfo(ortc::kARENA_ALLOCATOR, ortc::kMEM_DEFAULT, &self->mCpu),
        "CreateCpuMemoryInfo");

  ortc::Allocator* allocator = nullptr;
  check(api, api->GetAllocatorWithDefaultOptions(&allocator), "GetAllocatorWithDefaultOptions");
  auto takeName = [&](char* name) {
    std::string text = name != nullptr ? name : "";
    if (name != nullptr) takeError(api, api->AllocatorFree(allocator, name));
    return text;
  };
  size_t inputs = 0;
  check(api, api->SessionGetInputCount(self->mSession, &inputs), "SessionGetInputCount");
  for (size_t i = 0; i < inputs; ++i) {
    char* name = nullptr;
    check(api, api->SessionGetInputName(self->mSession, i, allocator, &name), "SessionGetInputName");
    self->mInputNames.push_back(takeName(name));
  }
  size_t outputs = 0;
  check(api, api->SessionGetOutputCount(self->mSession, &outputs), "SessionGetOutputCount");
  for (size_t i = 0; i < outputs; ++i) {
    char* name = nullptr;
    check(api, api->SessionGetOutputName(self->mSession, i, allocator, &name), "SessionGetOutputName");
    OrtOutputInfo info;
    info.name = takeName(name);
    ortc::TypeInfo* type = nullptr;
    check(api, api->SessionGetOutputTypeInfo(self->mSession, i, &type), "SessionGetOutputTypeInfo");
    ortc::ValueKind kind = ortc::kVALUE_UNKNOWN;
    std::string error = takeError(api, api->GetOnnxTypeFromTypeInfo(type, &kind));
    if (error.empty() && kind == ortc::kVALUE_TENSOR) {
      ortc::TensorTypeAndShapeInfo const* tensor = nullptr;  // owned by `type`
      error = takeError(api, api->CastTypeInfoToTensorInfo(type, &tensor));
      ortc::ElementType element = ortc::kUNDEFINED;
      if (error.empty() && tensor != nullptr)
        error = takeError(api, api->GetTensorElementType(tensor, &element));
      info.elementType = element;
    }
    api->ReleaseTypeInfo(type);
    if (!error.empty()) throw std::runtime_error("output type of " + info.name + ": " + error);
    self->mOutputs.push_back(std::move(info));
  }

  if (options.fetch.empty()) {
    std::vector<std::string> floats;
    for (OrtOutputInfo const& o : self->mOutputs) {
      if (o.elementType == ortc::kFLOAT) floats.push_back(o.name);
    }
    self->setFetch(floats);
  } else {
    self->setFetch(options.fetch);
  }
  return std::shared_ptr<OrtSession>(self.release(), destroyInBackground);
}

OrtOutputInfo const& OrtSession::output(std::string const& name) const {
  auto it =
      std::find_if(mOutputs.begin(), mOutputs.end(), [&](OrtOutputInfo const& o) { return o.name == name; });
  if (it == mOutputs.end()) throw std::runtime_error("the model has no output named \"" + name + "\"");
  return *it;
}

void OrtSession::setFetch(std::vector<std::string> const& names) {
  auto plan = std::make_shared<DerivationPlan>();
  for (std::string const& name : names) {
    if (output(name).elementType == ortc::kFLOAT) plan->addFetched(name);
  }
  setFetch(std::move(plan));
}

void OrtSession::setFetch(std::shared_ptr<DerivationPlan const> plan) {
  for (std::string const& name : plan->fetched()) {
    int const type = output(name).elementType;
    if (type != ortc::kFLOAT) {
      throw std::runtime_error("output \"" + name + "\" is " + onnxElementTypeName(type) + ", not float32");
    }
  }
  mPlan = std::move(plan);
  mFetch = mPlan->fetched();
  mFetchPointers.clear();
  for (std::string const& name : mFetch) mFetchPointers.push_back(name.c_str());
}

OrtSession::~OrtSession() {
  gLiveSessions.fetch_sub(1);
  if (mApi == nullptr) return;
  if (mCpu != nullptr) mApi->ReleaseMemoryInfo(mCpu);
  if (mRunOptions != nullptr) mApi->ReleaseRunOptions(mRunOptions);
  if (mSession != nullptr) mApi->ReleaseSession(mSession);
}

void OrtSession::cancel() noexcept {
  if (mRunOptions != nullptr) takeError(mApi, mApi->RunOptionsSetTerminate(mRunOptions));
}

namespace {

// One run's outputs: ONNX Runtime's values and float views into them. Counts as a run in progress until
// destroyed, so that process exit (quiesceOnnxRuntime) waits until they are released too.
class OrtOutputs final : public InferenceOutputs {
 public:
  OrtOutputs(OrtSession* session, Api const* api, size_t count, std::shared_ptr<DerivationPlan const> plan)
      : guard(session), values(api, count), plan(std::move(plan)) {}
  std::vector<TensorView> const& tensors() const noexcept override { return views; }
  DerivationPlan const* derivations() const noexcept override { return plan.get(); }

  InFlight guard;
  Values values;
  std::vector<TensorView> views;
  std::shared_ptr<DerivationPlan const> plan;
};

}  // namespace

std::unique_ptr<InferenceOutputs> OrtSession::run(std::vector<InferenceInput> const& inputs,
                                                  std::string& error) {
  Api const* api = mApi;
  auto out = std::make_unique<OrtOutputs>(this, api, mFetchPointers.size(), mPlan);
  if (!out->guard.admitted()) {
    error = "the process is exiting";
    return nullptr;
  }
  // Nothing to calibrate (no float activation): no run is needed (ONNX Runtime refuses a run without
  // outputs).
  if (mFetchPointers.empty()) return out;
  Values feeds(api, inputs.size());
  std::vector<char const*> names;
  names.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    InferenceInput const& in = inputs[i];
    int const type = elementTypeOf(in.dtype);
    if (type == ortc::kUNDEFINED) {
      error = "input \"" + in.name + "\" has unsupported dtype " + in.dtype;
      return nullptr;
    }
    std::string const failure =
        takeError(api, api->CreateTensorWithDataAsOrtValue(mCpu, const_cast<void*>(in.data), in.bytes,
                                                           in.dims.data(), in.dims.size(),
                                                           static_cast<ortc::ElementType>(type), &feeds[i]));
    if (!failure.empty()) {
      error = "input \"" + in.name + "\": " + failure;
      return nullptr;
    }
    names.push_back(in.name.c_str());
  }
  error = takeError(api, api->Run(mSession, mRunOptions, names.data(), feeds.data(), feeds.size(),
                                  mFetchPointers.data(), mFetchPointers.size(), out->values.data()));
  if (!error.empty()) return nullptr;
  out->views.reserve(out->values.size());
  for (size_t i = 0; i < out->values.size(); ++i) {
    ortc::TensorTypeAndShapeInfo* info = nullptr;
    std::string failure = takeError(api, api->GetTensorTypeAndShape(out->values[i], &info));
    size_t count = 0;
    ortc::ElementType element = ortc::kUNDEFINED;
    if (failure.empty()) {
      failure = takeError(api, api->GetTensorShapeElementCount(info, &count));
      if (failure.empty()) failure = takeError(api, api->GetTensorElementType(info, &element));
      api->ReleaseTensorTypeAndShapeInfo(info);
    }
    void* data = nullptr;
    if (failure.empty() && count > 0)
      failure = takeError(api, api->GetTensorMutableData(out->values[i], &data));
    if (!failure.empty()) {
      error = "output \"" + mFetch[i] + "\": " + failure;
      return nullptr;
    }
    if (element != ortc::kFLOAT) continue;  // declared float, but never trust a cast
    out->views.push_back(TensorView{mFetch[i], static_cast<float const*>(data), count});
  }
  return out;
}

}  // namespace trtc
