#include "bridge/js_bridge.h"

#include <atomic>
#include <chrono>
#include <utility>

#include "bridge/js_errors.h"

namespace trtc {

namespace {
constexpr int64_t kSPIN_MICROSECONDS = 100;
}  // namespace

class JsBridge::Call {
 public:
  Invoke invoke;
  Settle onFulfilled;
  Settle onRejected;
  bool cancellable{true};
  std::mutex mutex;
  std::condition_variable settled;
  CallOutcome outcome{CallOutcome::kPENDING};
  std::atomic<bool> done{false};  // outcome != kPENDING, readable without the mutex (spin in wait())

  bool pending() {
    std::lock_guard<std::mutex> lock(mutex);
    return outcome == CallOutcome::kPENDING;
  }
  // Settle-once: true when this call moved it out of kPENDING.
  bool finish(CallOutcome result) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (outcome != CallOutcome::kPENDING) return false;
      outcome = result;
      done.store(true, std::memory_order_release);
    }
    settled.notify_all();
    return true;
  }
};

char const* callOutcomeName(CallOutcome outcome) noexcept {
  switch (outcome) {
    case CallOutcome::kPENDING:
      return "pending";
    case CallOutcome::kFULFILLED:
      return "fulfilled";
    case CallOutcome::kREJECTED:
      return "rejected";
    case CallOutcome::kCANCELLED:
      return "cancelled";
    case CallOutcome::kCLOSED:
      return "closed";
    case CallOutcome::kWRONG_THREAD:
      return "wrong-thread";
  }
  return "unknown";
}

// The thread-safe function's queued item.
struct JsBridge::QueuedTask {
  Task run;
};

std::shared_ptr<JsBridge> JsBridge::create(Napi::Env env, std::string const& name) {
  std::shared_ptr<JsBridge> bridge(new JsBridge());  // private constructor: make_shared cannot reach it
  bridge->mJsThread = std::this_thread::get_id();
  // No JS function (each task calls what it needs), an unbounded queue, one thread using it until release().
  try {
    bridge->mTsfn = Tsfn::New(env, name, 0, 1);
  } catch (Napi::Error const& e) {
    throw codedError(env, std::string("napi_create_threadsafe_function failed: ") + e.Message(),
                     "ERR_INTERNAL");
  }
  return bridge;
}

JsBridge::~JsBridge() = default;

bool JsBridge::closed() const noexcept {
  std::lock_guard<std::mutex> lock(mMutex);
  return mClosed;
}

void JsBridge::callJs(Napi::Env env, Napi::Function, std::nullptr_t*, QueuedTask* data) {
  std::unique_ptr<QueuedTask> task(data);
  // env is null when Node tears the thread-safe function down with items still queued: only free them.
  if (env == nullptr || task == nullptr) return;
  try {
    task->run(env);
  } catch (...) {
    // Never let an exception reach Node (it would abort the process during worker termination).
  }
}

JsBridge::Ticket JsBridge::post(Invoke invoke, Settle onFulfilled, Settle onRejected,
                                bool cancellable) noexcept {
  Ticket ticket;
  try {
    ticket = std::make_shared<Call>();
    ticket->invoke = std::move(invoke);
    ticket->onFulfilled = std::move(onFulfilled);
    ticket->onRejected = std::move(onRejected);
    ticket->cancellable = cancellable;
    if (onJsThread()) {
      ticket->finish(CallOutcome::kWRONG_THREAD);
      return ticket;
    }
    std::lock_guard<std::mutex> lock(mMutex);
    if (mClosed) {
      ticket->finish(CallOutcome::kCLOSED);
      return ticket;
    }
    mInFlight.insert(ticket);
    std::weak_ptr<JsBridge> weak = weak_from_this();
    auto task = std::make_unique<QueuedTask>();
    task->run = [weak, ticket](Napi::Env env) {
      if (auto self = weak.lock()) self->runCall(env, ticket);
    };
    // Under mMutex: close()/release() cannot run between the mClosed check and the queueing.
    if (mTsfn.NonBlockingCall(task.get()) != napi_ok) {
      mInFlight.erase(ticket);
      ticket->finish(CallOutcome::kCLOSED);
      return ticket;
    }
    task.release();
  } catch (...) {
    if (ticket) {
      {
        std::lock_guard<std::mutex> lock(mMutex);
        mInFlight.erase(ticket);
      }
      ticket->finish(CallOutcome::kCLOSED);
    }
  }
  return ticket;
}

CallOutcome JsBridge::wait(Ticket const& ticket) noexcept {
  if (!ticket) return CallOutcome::kCLOSED;
  // Most calls settle within tens of microseconds (a sync fill, a resolved promise): spin briefly before
  // sleeping, so the builder thread does not pay a futex wake-up on top of the JS thread's own.
  auto const spinUntil = std::chrono::steady_clock::now() + std::chrono::microseconds(kSPIN_MICROSECONDS);
  while (!ticket->done.load(std::memory_order_acquire) && std::chrono::steady_clock::now() < spinUntil) {
    std::this_thread::yield();
  }
  std::unique_lock<std::mutex> lock(ticket->mutex);
  ticket->settled.wait(lock, [&] { return ticket->outcome != CallOutcome::kPENDING; });
  return ticket->outcome;
}

CallOutcome JsBridge::call(Invoke invoke, Settle onFulfilled, Settle onRejected, bool cancellable) noexcept {
  return wait(post(std::move(invoke), std::move(onFulfilled), std::move(onRejected), cancellable));
}

bool JsBridge::postTask(Task task) noexcept {
  try {
    if (onJsThread()) {
      // Only reachable from destructors running on the JS thread; the caller holds a live env there.
      return false;
    }
    std::lock_guard<std::mutex> lock(mMutex);
    if (mClosed) return false;
    auto queued = std::make_unique<QueuedTask>();
    queued->run = std::move(task);
    if (mTsfn.NonBlockingCall(queued.get()) != napi_ok) return false;
    queued.release();
    return true;
  } catch (...) {
    return false;
  }
}

void JsBridge::settle(Ticket const& ticket, CallOutcome outcome) noexcept {
  ticket->finish(outcome);
  std::lock_guard<std::mutex> lock(mMutex);
  mInFlight.erase(ticket);
}

void JsBridge::settleWith(Napi::Env env, Ticket const& ticket, Napi::Value value, bool fulfilled) noexcept {
  if (!ticket->pending()) return;  // cancelled or closed first: ignore the late result
  try {
    Settle const& handler = fulfilled ? ticket->onFulfilled : ticket->onRejected;
    if (handler) handler(env, value);
  } catch (Napi::Error const& e) {
    // A handler that throws turns the call into a rejection with that error.
    try {
      Napi::Value error = e.Value();
      if (fulfilled && ticket->onRejected && !error.IsEmpty()) ticket->onRejected(env, error);
    } catch (...) {
    }
    settle(ticket, CallOutcome::kREJECTED);
    return;
  } catch (...) {
    settle(ticket, CallOutcome::kREJECTED);
    return;
  }
  settle(ticket, fulfilled ? CallOutcome::kFULFILLED : CallOutcome::kREJECTED);
}

void JsBridge::runCall(Napi::Env env, Ticket const& ticket) {
  if (!ticket->pending()) return;  // cancelled while queued
  Napi::Value result;
  try {
    result = ticket->invoke(env);
  } catch (Napi::Error const& e) {
    Napi::Value error;
    try {
      error = e.Value();
    } catch (...) {
    }
    // No readable exception value: V8 is terminating this environment (worker.terminate()).
    if (error.IsEmpty() || env.IsExceptionPending()) {
      if (env.IsExceptionPending()) {
        try {
          env.GetAndClearPendingException();
        } catch (...) {
        }
      }
      settle(ticket, CallOutcome::kCLOSED);
      return;
    }
    settleWith(env, ticket, error, false);
    return;
  } catch (...) {
    settle(ticket, CallOutcome::kCLOSED);
    return;
  }
  try {
    if (!result.IsEmpty() && (result.IsObject() || result.IsFunction())) {
      Napi::Value then = result.As<Napi::Object>().Get("then");
      if (then.IsFunction()) {
        std::weak_ptr<JsBridge> weak = weak_from_this();
        auto onFulfilled = Napi::Function::New(env, [weak, ticket](Napi::CallbackInfo const& info) {
          if (auto self = weak.lock()) self->settleWith(info.Env(), ticket, info[0], true);
        });
        auto onRejected = Napi::Function::New(env, [weak, ticket](Napi::CallbackInfo const& info) {
          if (auto self = weak.lock()) self->settleWith(info.Env(), ticket, info[0], false);
        });
        then.As<Napi::Function>().Call(result, {onFulfilled, onRejected});
        return;
      }
    }
  } catch (Napi::Error const& e) {
    Napi::Value error;
    try {
      error = e.Value();
    } catch (...) {
    }
    if (error.IsEmpty()) {
      settle(ticket, CallOutcome::kCLOSED);
    } else {
      settleWith(env, ticket, error, false);
    }
    return;
  } catch (...) {
    settle(ticket, CallOutcome::kCLOSED);
    return;
  }
  settleWith(env, ticket, result, true);
}

void JsBridge::cancelPending() noexcept {
  std::vector<Ticket> cancelled;
  {
    std::lock_guard<std::mutex> lock(mMutex);
    for (auto it = mInFlight.begin(); it != mInFlight.end();) {
      if ((*it)->cancellable) {
        cancelled.push_back(*it);
        it = mInFlight.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (Ticket const& ticket : cancelled) ticket->finish(CallOutcome::kCANCELLED);
}

void JsBridge::close() noexcept {
  std::set<Ticket> inFlight;
  {
    std::lock_guard<std::mutex> lock(mMutex);
    mClosed = true;
    inFlight.swap(mInFlight);
  }
  for (Ticket const& ticket : inFlight) ticket->finish(CallOutcome::kCLOSED);
}

void JsBridge::release() noexcept {
  close();
  std::lock_guard<std::mutex> lock(mMutex);
  if (mReleased) return;
  mReleased = true;
  mTsfn.Release();
}

// ---- PinnedValues ----

void PinnedValues::pin(Napi::Env env, Napi::Value value) {
  napi_ref ref = nullptr;
  if (napi_create_reference(env, value, 1, &ref) != napi_ok) {
    throw codedError(env, "napi_create_reference failed", "ERR_INTERNAL");
  }
  mEnv = env;
  mRefs.push_back(ref);
}

PinnedValues::~PinnedValues() {
  if (mRefs.empty()) return;
  if (mBridge && mBridge->onJsThread()) {
    for (napi_ref ref : mRefs) napi_delete_reference(mEnv, ref);
    return;
  }
  std::vector<napi_ref> refs = std::move(mRefs);
  if (mBridge) {
    mBridge->postTask([refs](Napi::Env env) {
      for (napi_ref ref : refs) napi_delete_reference(env, ref);
    });
  }
  // When the bridge is closed (environment teardown) the environment deletes its references itself.
}

bool bytesOf(Napi::Value value, void*& data, size_t& length) {
  napi_env env = value.Env();
  bool is = false;
  if (napi_is_typedarray(env, value, &is) == napi_ok && is) {
    napi_typedarray_type type;
    size_t elements = 0;
    napi_value buffer;
    size_t offset = 0;
    if (napi_get_typedarray_info(env, value, &type, &elements, &data, &buffer, &offset) != napi_ok)
      return false;
    length = value.As<Napi::TypedArray>().ByteLength();
    return true;
  }
  if (napi_is_dataview(env, value, &is) == napi_ok && is) {
    napi_value buffer;
    size_t offset = 0;
    return napi_get_dataview_info(env, value, &length, &data, &buffer, &offset) == napi_ok;
  }
  if (value.IsArrayBuffer()) {
    Napi::ArrayBuffer ab = value.As<Napi::ArrayBuffer>();
    data = ab.Data();
    length = ab.ByteLength();
    return true;
  }
  return false;
}

}  // namespace trtc
