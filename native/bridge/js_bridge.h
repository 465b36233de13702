// JsBridge: blocking calls from a native (builder) thread into JavaScript, for one run.
//
// A call posts `invoke` to the JS thread through a thread-safe function; `invoke` calls the JS function and
// returns its result. If the result is a thenable, the bridge waits for it through `.then`; otherwise the
// result settles the call directly. `onFulfilled` / `onRejected` then run on the JS thread with the value (to
// copy bytes out, check types, pin arrays with PinnedValues, or record the error) and the waiting native
// thread wakes up. Each call settles exactly once: fulfilled, rejected, cancelled (abort) or closed
// (environment teardown); a late settle of a cancelled call is ignored.
//
// Threading / lifetime:
// - Construct, cancelPending(), close(), release() and every Settle/Invoke run on the JS thread that owns the
//   environment. post()/wait()/call()/postTask() are for other threads; post() on the JS thread fails at once
//   with kWRONG_THREAD (waiting there would deadlock: the JS thread would wait for itself).
// - close() is for environment teardown (worker.terminate(), process exit): it settles every in-flight call
//   as kCLOSED and makes every later call fail at once, so a native thread blocked in wait() wakes up and can
//   be joined. Node skips queued thread-safe calls once the environment is gone (their data is only freed:
//   the thread-safe function's call-JS callback gets a null env), which is why in-flight calls must be
//   settled here rather than by their queued task.
// - The thread-safe function keeps the event loop alive until release() (JS thread, after the last post()).
// - Exceptions from JS (including V8's termination during worker.terminate()) never escape into Node: they
//   become rejections, or kCLOSED when the exception value cannot be read.
#pragma once

#include <napi.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace trtc {

enum class CallOutcome : int32_t {
  kPENDING = 0,
  kFULFILLED,
  kREJECTED,
  kCANCELLED,     // cancelPending() (abort) settled it first
  kCLOSED,        // the environment is being torn down, or the bridge was released
  kWRONG_THREAD,  // post() was called on the JS thread
};

char const* callOutcomeName(CallOutcome outcome) noexcept;

class JsBridge : public std::enable_shared_from_this<JsBridge> {
 public:
  using Invoke = std::function<Napi::Value(Napi::Env)>;
  using Settle = std::function<void(Napi::Env, Napi::Value)>;
  using Task = std::function<void(Napi::Env)>;

  // One call's shared state (settle-once). Opaque to users.
  class Call;
  using Ticket = std::shared_ptr<Call>;
  // One item queued on the thread-safe function. Opaque to users.
  struct QueuedTask;

  // JS thread. `name` names the async resource (shows in async_hooks / diagnostics).
  static std::shared_ptr<JsBridge> create(Napi::Env env, std::string const& name);
  ~JsBridge();
  JsBridge(JsBridge const&) = delete;
  JsBridge& operator=(JsBridge const&) = delete;

  // Native thread: queues the call; does not wait. onFulfilled/onRejected may be empty. A call that is not
  // `cancellable` is left alone by cancelPending() (used for the run's own bookkeeping calls, such as
  // detaching the slot ArrayBuffers before their memory is freed).
  Ticket post(Invoke invoke, Settle onFulfilled, Settle onRejected, bool cancellable = true) noexcept;
  // Native thread: waits until the call settles and returns how.
  CallOutcome wait(Ticket const& ticket) noexcept;
  // post() + wait().
  CallOutcome call(Invoke invoke, Settle onFulfilled, Settle onRejected, bool cancellable = true) noexcept;
  // Any thread but the JS thread: runs `task` on the JS thread without waiting. False when closed.
  bool postTask(Task task) noexcept;

  // JS thread: settles every in-flight call as kCANCELLED (abort). Later calls still work.
  void cancelPending() noexcept;
  // JS thread: environment teardown. Settles in-flight calls as kCLOSED and refuses new ones.
  void close() noexcept;
  // JS thread: gives the thread-safe function back (lets the event loop end). Implies close() for new calls.
  void release() noexcept;

  bool onJsThread() const noexcept { return std::this_thread::get_id() == mJsThread; }
  bool closed() const noexcept;

 private:
  JsBridge() = default;
  // The thread-safe function's call-JS callback: runs `task` on the JS thread, or only frees it when `env` is
  // null (Node drops the queue at teardown; Napi::TypedThreadSafeFunction passes that null env through).
  static void callJs(Napi::Env env, Napi::Function jsCallback, std::nullptr_t* context, QueuedTask* task);
  using Tsfn = Napi::TypedThreadSafeFunction<std::nullptr_t, QueuedTask, &JsBridge::callJs>;
  void runCall(Napi::Env env, Ticket const& ticket);
  void settle(Ticket const& ticket, CallOutcome outcome) noexcept;
  void settleWith(Napi::Env env, Ticket const& ticket, Napi::Value value, bool fulfilled) noexcept;

  Tsfn mTsfn;
  std::thread::id mJsThread;
  mutable std::mutex mMutex;
  bool mClosed{false};
  bool mReleased{false};
  std::set<Ticket> mInFlight;
};

// napi References to JS values (e.g. the Float32Arrays a `process` callback returned) that keep their memory
// alive and in place while native code reads it. Created and filled on the JS thread (inside a Settle); may
// be destroyed on any thread: the references are then deleted on the JS thread through the bridge (or left to
// the environment's own cleanup when it is being torn down). Raw napi_ref, not Napi::Reference: a
// Napi::Reference deletes itself wherever it is destroyed, and here that may be a builder thread or a task
// that Node drops at teardown without running it.
class PinnedValues {
 public:
  explicit PinnedValues(std::shared_ptr<JsBridge> bridge) : mBridge(std::move(bridge)) {}
  ~PinnedValues();
  PinnedValues(PinnedValues const&) = delete;
  PinnedValues& operator=(PinnedValues const&) = delete;

  // JS thread: pins `value` until this object is destroyed.
  void pin(Napi::Env env, Napi::Value value);
  size_t size() const noexcept { return mRefs.size(); }

 private:
  std::shared_ptr<JsBridge> mBridge;
  napi_env mEnv{nullptr};
  std::vector<napi_ref> mRefs;
};

// Pointer and byte length of an ArrayBuffer or ArrayBufferView's bytes (JS thread). False for other values.
bool bytesOf(Napi::Value value, void*& data, size_t& length);

}  // namespace trtc
