// ONNX Runtime sessions driven from C++ (the builtin builder's thread), through the C API of the shared
// library the onnxruntime-node package ships, loaded at run time (ort_api.h). An OrtSession is the builtin
// builder's Inference (inference.h).
//
// Why not onnxruntime-node from JavaScript: it copies every output into a new JS ArrayBuffer on the thread
// that runs the model. The calibration model outputs every activation (173 MB per image for the PaddleOCR
// detector at 320×320), so that copy and its allocation cost more than the inference itself. Here each run's
// outputs are read in place from ONNX Runtime's own memory (its arena reuses it run after run) and dropped.
//
// Threading / lifetime: loadOnnxRuntime() may be called from any thread (the first success wins; it creates
// ONNX Runtime's environment, tens of ms: the addon calls it on a libuv pool thread). A session is created on
// any thread, then run() by one thread at a time; the outputs of a run may be read and released on another
// thread, also while the next run executes; they must be released before the session is destroyed. cancel()
// and quiesceOnnxRuntime() are thread-safe. create() hands out the session in a shared_ptr whose last
// reference, wherever it is dropped (the JS thread included), destroys the session on a thread of its own:
// ONNX Runtime's ReleaseSession takes 10-20 ms for the PaddleOCR detector, too long for an event loop. A run
// holds a reference, so the destructor never runs under a live run. That thread is detached, so the addon
// pins itself in memory first (Node unloads an addon with the last environment that loaded it, which could
// leave the thread running unmapped code). Process exit waits for the destructions in progress
// (quiesceOnnxRuntime) and skips the ones not yet started. The library stays loaded and the ONNX
// Runtime environment alive until the process ends (the environment is a process-wide singleton, shared with
// onnxruntime-node).
//
// Pure C++ (no Node-API).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "builtin/derived.h"
#include "builtin/inference.h"

namespace trtc {
namespace ortc {
struct Api;
struct Session;
struct RunOptions;
struct MemoryInfo;
}  // namespace ortc

// Loads ONNX Runtime from `path` (the first successful call wins; later calls return its result). Returns ""
// when the C API is usable, else why not (library missing, no OrtGetApiBase, a version older than 1.13, or a
// table that fails the layout check).
std::string loadOnnxRuntime(std::string const& path);
// ONNX Runtime's version string ("1.30.0"), "" before a successful loadOnnxRuntime().
std::string onnxRuntimeVersion();

// Process exit (an atexit handler installed by loadOnnxRuntime): refuses every later run, cancels the runs in
// progress and waits (up to timeoutMs) until they have ended and their outputs are released, and until the
// sessions being destroyed are gone, so that ONNX Runtime's static destructors never run under a session in
// use; sessions released after this are left to the process's end. Returns the runs (or held outputs) and
// destructions still in progress at the deadline (0 normally).
int quiesceOnnxRuntime(int timeoutMs) noexcept;

// For tests: sessions created and not yet destroyed, and sessions destroyed so far on threads of their own.
struct OrtSessionCounts {
  int64_t live{0};
  int64_t destroyedOnOwnThread{0};
};
OrtSessionCounts ortSessionCounts() noexcept;

// The package's name of an ONNX element type ("float32", "int64", "float64"…); "non-tensor" for 0 (what
// OrtOutputInfo holds for a non-tensor output), "other" for types the package has no name for.
char const* onnxElementTypeName(int type) noexcept;

// One ONNX Runtime output of a session.
struct OrtOutputInfo {
  std::string name;
  int elementType{0};  // ONNXTensorElementDataType; 0 for non-tensors
};

struct OrtSessionOptions {
  int intraOpThreads{0};  // 0: ONNX Runtime's default (one per core)
  // Outputs run() fetches: these names, float32 ones only. Empty: every float32 output of the session.
  std::vector<std::string> fetch;
};

class OrtSession final : public Inference {
 public:
  // Creates a CPU session from model bytes (ONNX Runtime parses them during the call; they may be freed
  // after). Throws std::runtime_error with ONNX Runtime's message (load, graph or operator errors) or why
  // the library is not loaded. The last reference to the session destroys it on a thread of its own.
  static std::shared_ptr<OrtSession> create(void const* model, size_t bytes,
                                            OrtSessionOptions const& options);
  ~OrtSession() override;
  OrtSession(OrtSession const&) = delete;
  OrtSession& operator=(OrtSession const&) = delete;

  std::vector<std::string> const& inputNames() const noexcept { return mInputNames; }
  std::vector<OrtOutputInfo> const& outputs() const noexcept { return mOutputs; }
  // The names run() fetches, in order.
  std::vector<std::string> const& fetched() const noexcept { return mFetch; }
  // Fetch exactly these outputs from now on (the float32 ones among them; none for an empty list). Throws
  // std::runtime_error for a name that is not an output. Not while a run is in progress (call it before
  // handing the session to a run).
  void setFetch(std::vector<std::string> const& names);
  // The same for plan.fetched(), every one of which must be a float32 output; the plan's derived tensors
  // are computed from them by whoever histograms the outputs (InferenceOutputs::derivations()).
  void setFetch(std::shared_ptr<DerivationPlan const> plan);

  std::unique_ptr<InferenceOutputs> run(std::vector<InferenceInput> const& inputs,
                                        std::string& error) override;
  void cancel() noexcept override;

 private:
  OrtSession();
  // The output called `name`; throws std::runtime_error when there is none.
  OrtOutputInfo const& output(std::string const& name) const;

  ortc::Api const* mApi{nullptr};
  ortc::Session* mSession{nullptr};
  ortc::RunOptions* mRunOptions{nullptr};
  ortc::MemoryInfo* mCpu{nullptr};
  std::vector<std::string> mInputNames;
  std::vector<OrtOutputInfo> mOutputs;
  std::vector<std::string> mFetch;
  std::vector<char const*> mFetchPointers;
  std::shared_ptr<DerivationPlan const> mPlan;  // what run() fetches, and what is derived from it
};

}  // namespace trtc
