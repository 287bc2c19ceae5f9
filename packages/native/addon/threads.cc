// threads.cc — logical threads: one native thread per logical thread id, a FIFO of work, and the
// async runs that carry a run's result back to JS (hvf-facts.md §1.2, §2.4: vCPUs belong to the
// thread that created them).
#include "core.h"

#include <string>

namespace hvspec {

LogicalThread::LogicalThread(uint64_t id) : id_(id) {}

// pthread rather than std::thread: a refused thread must be an error code, not an exception that
// would abort an addon built without exceptions.
bool LogicalThread::Start() {
  auto entry = [](void *self) -> void * {
    static_cast<LogicalThread *>(self)->Loop();
    return nullptr;
  };
  started_ = pthread_create(&thread_, nullptr, entry, this) == 0;
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
// a run is pending.
struct AsyncRun {
  Napi::Promise::Deferred deferred;
  int32_t ret = 0;
  explicit AsyncRun(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
};

static void ResolveRun(Napi::Env env, Napi::Function, std::nullptr_t *, AsyncRun *run) {
  if (env != nullptr) run->deferred.Resolve(Napi::Number::New(env, static_cast<uint32_t>(run->ret)));
  delete run;
}

using RunTsfn = Napi::TypedThreadSafeFunction<std::nullptr_t, AsyncRun, ResolveRun>;

Napi::Value StartAsync(const Napi::CallbackInfo &info, uint64_t t, std::function<int32_t()> work) {
  Napi::Env env = info.Env();
  if (t == 0) {
    ThrowTypeError(env, "t must be a logical thread > 0 for hv_vcpu_run_async: thread 0 is the JS thread itself");
    return env.Undefined();
  }
  LogicalThread *thread = GetState(info)->Thread(t);
  if (thread == nullptr) return ResolvedRet(env, HV_NO_RESOURCES);
  if (thread->async_busy.load()) return ResolvedRet(env, HV_BUSY);
  AsyncRun *run = new AsyncRun(env);
  Napi::Promise promise = run->deferred.Promise();
  RunTsfn tsfn = RunTsfn::New(env, "hvspec_hv_vcpu_run_async", 0, 1);
  thread->async_busy.store(true);
  thread->Post([thread, tsfn, run, work = std::move(work)]() mutable {
    run->ret = work();
    thread->async_busy.store(false);
    if (tsfn.NonBlockingCall(run) != napi_ok) delete run;  // env closing: nobody awaits any more
    tsfn.Release();
  });
  return promise;
}

}  // namespace hvspec
