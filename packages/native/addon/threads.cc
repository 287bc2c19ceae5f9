// threads.cc — logical threads: one native thread per logical thread id, a FIFO of work, and the
// async runs that carry a run's result back to JS (hvf-facts.md §1.2, §2.4: vCPUs belong to the
// thread that created them).
#include "core.h"

#include <errno.h>

#include <new>
#include <string>

#include "faults.h"

namespace hvspec {

LogicalThread::LogicalThread(uint64_t id) : id_(id) {}

// pthread rather than std::thread: a refused thread must be an error code, not an exception that
// would abort an addon built without exceptions.
bool LogicalThread::Start() {
  auto entry = [](void *self) -> void * {
    static_cast<LogicalThread *>(self)->Loop();
    return nullptr;
  };
  started_ = !FaultFails(kFaultThread) && pthread_create(&thread_, nullptr, entry, this) == 0;
  return started_;
}

LogicalThread::~LogicalThread() { Join(); }

void LogicalThread::Loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    work_cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop_ and drained
    std::function<void()> work = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    work();
    lock.lock();
  }
}

void LogicalThread::RunSync(const std::function<void()> &fn) {
  bool done = false;
  std::unique_lock<std::mutex> lock(mutex_);
  queue_.push_back([this, &fn, &done] {
    fn();
    std::lock_guard<std::mutex> guard(mutex_);
    done = true;
    done_cv_.notify_all();
  });
  work_cv_.notify_one();
  done_cv_.wait(lock, [&done] { return done; });
}

void LogicalThread::Post(std::function<void()> fn) {
  std::lock_guard<std::mutex> guard(mutex_);
  queue_.push_back(std::move(fn));
  work_cv_.notify_one();
}

void LogicalThread::Join() {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    stop_ = true;
    work_cv_.notify_one();
  }
  if (started_) pthread_join(thread_, nullptr);
  started_ = false;
}

hv_return_t Dispatch(State *state, uint64_t t, const std::function<void()> &fn) {
  if (t == 0) {
    fn();
    return HV_SUCCESS;
  }
  LogicalThread *thread = state->Thread(t);
  if (thread == nullptr) return HV_NO_RESOURCES;
  if (thread->async_busy.load()) return HV_BUSY;
  thread->RunSync(fn);
  return HV_SUCCESS;
}

// Async runs: the work runs on the owner thread; a ThreadSafeFunction carries the result back to
// the JS thread and resolves the Promise. One TSFN per run keeps the event loop alive exactly while
// a run is pending. The TSFN is driven through the C API (not Napi::TypedThreadSafeFunction) so that
// each failure is a status the addon answers, never an exception in an addon built without them.
//
// Who frees the record: the TSFN's call (CallRun) runs on the JS thread before the TSFN's finalizer
// (FinalizeRun) in normal operation, but after it when the environment is torn down (Node empties
// the queue after finalizing). A run whose result never entered the queue (the call failed) is
// settled by the finalizer instead, so its Promise still resolves with the run's own code.
struct AsyncRun {
  State *state;
  uint64_t t;
  uint64_t generation;  // State::generation when the run started: a reset() since means hands off
  napi_deferred deferred = nullptr;
  napi_threadsafe_function tsfn = nullptr;
  int32_t ret = HV_ERROR;
  std::atomic<bool> finished{false};  // the worker has written ret
  std::atomic<bool> queued{false};    // ret is in the TSFN's queue: CallRun will see the record
  bool delivered = false;             // JS thread: CallRun has run
  bool finalized = false;             // JS thread: the finalizer ran first and left the record to CallRun
  AsyncRun(State *s, uint64_t thread) : state(s), t(thread), generation(s->generation) {}
};

// Settles the Promise once and releases the run's logical thread if it owns no vCPU (an async run
// from a thread that owns nothing must not pin an OS thread until reset()). During teardown the
// resolve fails harmlessly (no JS can run) and the thread is the teardown's.
static void Settle(napi_env env, AsyncRun *run) {
  if (run->deferred == nullptr) return;
  napi_value value = nullptr;
  if (napi_create_uint32(env, static_cast<uint32_t>(run->ret), &value) == napi_ok)
    napi_resolve_deferred(env, run->deferred, value);
  run->deferred = nullptr;
  if (run->generation == run->state->generation) run->state->ReleaseIdle(run->t);
}

static void CallRun(napi_env env, napi_value, void *, void *data) {
  AsyncRun *run = static_cast<AsyncRun *>(data);
  if (env != nullptr) Settle(env, run);
  if (run->finalized) {
    delete run;
  } else {
    run->delivered = true;
  }
}

static void FinalizeRun(napi_env env, void *data, void *) {
  AsyncRun *run = static_cast<AsyncRun *>(data);
  // A worker still in the guest (a run teardown had to abandon, state.cc) keeps its record.
  if (!run->finished.load()) return;
  if (!run->queued.load()) {
    Settle(env, run);
    delete run;
  } else if (run->delivered) {
    delete run;
  } else {
    run->finalized = true;
  }
}

// An async run refused before it started: its thread is released if idle, the Promise resolved.
static Napi::Value Refused(Napi::Env env, State *state, uint64_t t, hv_return_t ret) {
  state->ReleaseIdle(t);
  return ResolvedRet(env, ret);
}

Napi::Value StartAsync(const Napi::CallbackInfo &info, uint64_t t, std::function<int32_t()> work) {
  Napi::Env env = info.Env();
  if (t == 0) {
    ThrowTypeError(env, "t must be a logical thread > 0 for hv_vcpu_run_async: thread 0 is the JS thread itself");
    return env.Undefined();
  }
  State *state = GetState(info);
  LogicalThread *thread = state->Thread(t);
  if (thread == nullptr) return ResolvedRet(env, HV_NO_RESOURCES);
  if (thread->async_busy.load()) return Refused(env, state, t, HV_BUSY);
  AsyncRun *run = FaultFails(kFaultAlloc) ? nullptr : new (std::nothrow) AsyncRun(state, t);
  if (run == nullptr) return Refused(env, state, t, HV_NO_RESOURCES);
  napi_value promise = nullptr;
  if (napi_create_promise(env, &run->deferred, &promise) != napi_ok) {
    delete run;
    return Refused(env, state, t, HV_NO_RESOURCES);
  }
  napi_value name = nullptr;
  napi_create_string_utf8(env, "hvspec_hv_vcpu_run_async", NAPI_AUTO_LENGTH, &name);
  if (FaultFails(kFaultTsfn) || napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, run, FinalizeRun,
                                                                 nullptr, CallRun, &run->tsfn) != napi_ok) {
    run->ret = HV_NO_RESOURCES;
    Settle(env, run);
    delete run;
    return Napi::Value(env, promise);
  }
  thread->async_busy.store(true);
  thread->Post([thread, run, work = std::move(work)]() {
    run->ret = work();
    thread->async_busy.store(false);
    napi_threadsafe_function tsfn = run->tsfn;
    run->queued.store(true);
    run->finished.store(true);
    // After a successful call the record belongs to the JS thread; only the local handle is used.
    if (FaultFails(kFaultTsfnCall) || napi_call_threadsafe_function(tsfn, run, napi_tsfn_nonblocking) != napi_ok)
      run->queued.store(false);
    napi_release_threadsafe_function(tsfn, napi_tsfn_release);
  });
  return Napi::Value(env, promise);
}

}  // namespace hvspec
