// core.cc — logical threads, host buffers, the shared exit record, argument checks, teardown and
// the module entry. Shared by every platform and API flavour.
#include "core.h"

#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <cstring>

namespace hvspec {

// ---------------------------------------------------------------------------------------------
// Logical threads

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

// ---------------------------------------------------------------------------------------------
// State

State *GetState(Napi::Env env) { return env.GetInstanceData<State>(); }

int State::AllocSlot() {
  for (uint32_t i = 0; i < kSlots; i++) {
    if (!slot_used[i]) {
      slot_used[i] = true;
      if (records) std::memset(Slot(i), 0, kSlotWords * sizeof(uint64_t));
      return static_cast<int>(i);
    }
  }
  return -1;
}

void State::FreeSlot(uint32_t slot) {
  if (slot >= kSlots) return;
  slot_used[slot] = false;
  if (records) std::memset(Slot(slot), 0, kSlotWords * sizeof(uint64_t));
}

LogicalThread *State::Thread(uint64_t id) {
  auto it = threads.find(id);
  if (it != threads.end()) return it->second.get();
  auto thread = std::make_unique<LogicalThread>(id);
  if (!thread->Start()) return nullptr;
  LogicalThread *raw = thread.get();
  threads.emplace(id, std::move(thread));
  return raw;
}

void State::Teardown() {
  // 1. Async runs still in the guest: kick their threads' vCPUs until they return. A kick is sticky
  //    (hvf-facts.md §1.7, §2.4 [H/R]), so a run that has not entered the guest yet also returns.
  //    If a run never returns (a broken provider), its thread is abandoned rather than the process
  //    hanging at exit, and the VM and buffers it may use are deliberately leaked.
  bool abandoned = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    std::vector<uint64_t> kick;
    bool busy = false;
    for (auto &entry : threads) {
      if (!entry.second->async_busy.load()) continue;
      busy = true;
      for (auto &v : vcpus)
        if (v.second.owner == entry.first) kick.push_back(v.second.handle);
    }
    if (!busy) break;
    if (std::chrono::steady_clock::now() > deadline) {
      abandoned = true;
      break;
    }
    if (!kick.empty()) FlavourKick(kick);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }

  // 2. vCPUs are destroyed on their owning threads: a cross-thread hv_vcpu_destroy is forbidden and
  //    was reported to panic macOS hosts (hvf-facts.md §3, §5.17 [H rule / R]).
  for (auto &v : vcpus) {
    const VcpuEntry &entry = v.second;
    if (entry.owner == 0) {
      FlavourDestroyVcpu(entry.handle);
      continue;
    }
    auto it = threads.find(entry.owner);
    if (it == threads.end() || it->second->async_busy.load()) continue;
    uint64_t handle = entry.handle;
    it->second->RunSync([handle] { FlavourDestroyVcpu(handle); });
  }
  for (auto &v : vcpus) FreeSlot(v.second.slot);
  vcpus.clear();

  // 3. Then the VM ("requires all vCPUs be destroyed", §2.3 [H]); hv_vm_destroy is per process, so
  //    any thread may call it.
  if (vm_created && !abandoned) {
    if (FlavourDestroyVm() == 0) vm_created = false;
  }
  for (auto &c : configs) FlavourReleaseConfig(c.second);
  configs.clear();

  // 4. Threads.
  for (auto &entry : threads) {
    if (entry.second->async_busy.load()) {
      (void)entry.second.release();  // abandoned: never joined, never freed
    } else {
      entry.second->Join();
    }
  }
  threads.clear();

  // 5. Host buffers, unless a VM we could not destroy may still map them.
  if (!vm_created) {
    for (auto &b : buffers) munmap(b.second.base, b.second.size);
  }
  buffers.clear();
  vm_created = false;
}

State::~State() {
  if (!torn_down) Teardown();
  torn_down = true;
  // The env is going away; its references die with it.
  records_ref.SuppressDestruct();
  out_ref.SuppressDestruct();
}

// ---------------------------------------------------------------------------------------------
// Arguments

static std::string Describe(const Napi::Value &v) {
  switch (v.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "boolean";
    case napi_number: return "number " + v.ToString().Utf8Value();
    case napi_string: return "string";
    case napi_bigint: return "bigint";
    case napi_object: return "an object";
    default: return "a " + std::string(v.IsFunction() ? "function" : "value");
  }
}

static bool TypeErr(Napi::Env env, const std::string &msg) {
  Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
  return false;
}

bool ArgThread(const Napi::CallbackInfo &info, size_t i, uint64_t *out) {
  Napi::Value v = info[i];
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (d >= 0 && d <= 9007199254740991.0 && d == static_cast<double>(static_cast<uint64_t>(d))) {
      *out = static_cast<uint64_t>(d);
      return true;
    }
  }
  return TypeErr(info.Env(), "t (logical thread) must be a non-negative integer, got " + Describe(v));
}

bool ArgU32(const Napi::CallbackInfo &info, size_t i, const char *name, uint32_t *out) {
  Napi::Value v = info[i];
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (d >= 0 && d <= 4294967295.0 && d == static_cast<double>(static_cast<uint32_t>(d))) {
      *out = static_cast<uint32_t>(d);
      return true;
    }
  }
  return TypeErr(info.Env(), std::string(name) + " must be an integer in [0, 2^32), got " + Describe(v));
}

bool ArgU64(const Napi::CallbackInfo &info, size_t i, const char *name, uint64_t *out) {
  Napi::Value v = info[i];
  if (v.IsBigInt()) {
    bool lossless = false;
    uint64_t value = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (lossless) {
      *out = value;
      return true;
    }
  }
  return TypeErr(info.Env(), std::string(name) + " must be a bigint in [0, 2^64), got " + Describe(v));
}

bool ArgBool(const Napi::CallbackInfo &info, size_t i, const char *name, bool *out) {
  Napi::Value v = info[i];
  if (v.IsBoolean()) {
    *out = v.As<Napi::Boolean>().Value();
    return true;
  }
  return TypeErr(info.Env(), std::string(name) + " must be a boolean, got " + Describe(v));
}

bool ArgHandleList(const Napi::CallbackInfo &info, size_t i, const char *name, size_t count_index,
                   std::vector<uint64_t> *out) {
  Napi::Value v = info[i];
  if (!v.IsArray()) return TypeErr(info.Env(), std::string(name) + " must be an array of vCPU handles");
  Napi::Array array = v.As<Napi::Array>();
  uint32_t count = 0;
  if (!ArgU32(info, count_index, "vcpu_count", &count)) return false;
  if (count > array.Length())
    return TypeErr(info.Env(), "vcpu_count must not exceed the length of " + std::string(name));
  out->clear();
  for (uint32_t k = 0; k < count; k++) {
    Napi::Value e = array.Get(k);
    double d = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0 && d <= 4294967295.0 && d == static_cast<double>(static_cast<uint32_t>(d))))
      return TypeErr(info.Env(), std::string(name) + "[" + std::to_string(k) +
                                     "] must be an integer in [0, 2^32), got " + Describe(e));
    out->push_back(static_cast<uint64_t>(d));
  }
  return true;
}

HostBuffer *ArgBuffer(const Napi::CallbackInfo &info, size_t i, const char *name) {
  uint32_t id = 0;
  if (!ArgU32(info, i, name, &id)) return nullptr;
  State *state = GetState(info.Env());
  auto it = state->buffers.find(id);
  if (it == state->buffers.end()) {
    TypeErr(info.Env(), std::string(name) + " is not a live host buffer of this backend (id " +
                            std::to_string(id) + ")");
    return nullptr;
  }
  return &it->second;
}

Napi::Value Ret(Napi::Env env, int32_t ret) { return Napi::Number::New(env, static_cast<uint32_t>(ret)); }

bool Dispatch(const Napi::CallbackInfo &info, uint64_t t, const std::function<void()> &fn) {
  if (t == 0) {
    fn();
    return true;
  }
  State *state = GetState(info.Env());
  LogicalThread *thread = state->Thread(t);
  if (thread == nullptr) {
    Napi::Error::New(info.Env(), "could not start logical thread " + std::to_string(t) + " (pthread_create failed)")
        .ThrowAsJavaScriptException();
    return false;
  }
  if (thread->async_busy.load()) {
    Napi::Error::New(info.Env(), "logical thread " + std::to_string(t) +
                                     " is busy in hv_vcpu_run_async; a synchronous call on it would "
                                     "wait for the guest (await the run first)")
        .ThrowAsJavaScriptException();
    return false;
  }
  thread->RunSync(fn);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Host memory (not hv_* calls): page-aligned mmap'd buffers referenced by id

static Napi::Value HostAlloc(const Napi::CallbackInfo &info) {
  State *state = GetState(info.Env());
  uint32_t size = 0;
  if (!ArgU32(info, 0, "size", &size)) return info.Env().Undefined();
  if (size == 0) {
    Napi::RangeError::New(info.Env(), "size must be at least 1").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  size_t rounded = (static_cast<size_t>(size) + state->page_size - 1) & ~(state->page_size - 1);
  void *base = mmap(nullptr, rounded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) {
    Napi::Error::New(info.Env(), "host_alloc: mmap of " + std::to_string(rounded) + " bytes failed")
        .ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  uint32_t id = state->next_buffer++;
  state->buffers[id] = HostBuffer{base, rounded};
  Napi::Array result = Napi::Array::New(info.Env(), 2);
  result.Set(0u, Napi::Number::New(info.Env(), id));
  result.Set(1u, Napi::Number::New(info.Env(), static_cast<double>(rounded)));
  return result;
}

static bool RangeOk(const Napi::CallbackInfo &info, const HostBuffer &b, uint32_t offset, size_t len) {
  if (static_cast<uint64_t>(offset) + len > b.size) {
    Napi::RangeError::New(info.Env(), "range [" + std::to_string(offset) + ", " +
                                          std::to_string(static_cast<uint64_t>(offset) + len) +
                                          ") is outside the buffer of " + std::to_string(b.size) +
                                          " bytes")
        .ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

static Napi::Value HostWrite(const Napi::CallbackInfo &info) {
  HostBuffer *b = ArgBuffer(info, 0, "mem");
  uint32_t offset = 0;
  if (!b || !ArgU32(info, 1, "offset", &offset)) return info.Env().Undefined();
  if (!info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    TypeErr(info.Env(), "bytes must be a Uint8Array");
    return info.Env().Undefined();
  }
  Napi::Uint8Array bytes = info[2].As<Napi::Uint8Array>();
  if (!RangeOk(info, *b, offset, bytes.ByteLength())) return info.Env().Undefined();
  if (bytes.ByteLength()) std::memcpy(static_cast<uint8_t *>(b->base) + offset, bytes.Data(), bytes.ByteLength());
  return info.Env().Undefined();
}

static Napi::Value HostRead(const Napi::CallbackInfo &info) {
  HostBuffer *b = ArgBuffer(info, 0, "mem");
  uint32_t offset = 0, size = 0;
  if (!b || !ArgU32(info, 1, "offset", &offset) || !ArgU32(info, 2, "size", &size)) return info.Env().Undefined();
  if (!RangeOk(info, *b, offset, size)) return info.Env().Undefined();
  Napi::Uint8Array out = Napi::Uint8Array::New(info.Env(), size);
  if (size) std::memcpy(out.Data(), static_cast<uint8_t *>(b->base) + offset, size);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Lifecycle and platform

static Napi::Value Reset(const Napi::CallbackInfo &info) {
  GetState(info.Env())->Teardown();
  return info.Env().Undefined();
}

static Napi::Value Probe(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  State *state = GetState(env);
  PlatformInfo p;
  if (state->vm_created) {
    // The addon holds a VM, so the system evidently allows one; probing again would disturb it.
    p = PlatformProbe();
    p.available = true;
  } else {
    p = PlatformProbe();
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("available", p.available);
  o.Set("reason", p.reason);
  o.Set("fix", p.fix);
  o.Set("backend", p.backend);
  o.Set("arch", FlavourArch());
  o.Set("pageSize", Napi::Number::New(env, static_cast<double>(state->page_size)));
  o.Set("enforcedPermissionsMask", Napi::Number::New(env, p.enforced_permissions_mask));
  Napi::Array devs = Napi::Array::New(env, p.deviations.size());
  for (size_t k = 0; k < p.deviations.size(); k++) {
    Napi::Object d = Napi::Object::New(env);
    d.Set("id", p.deviations[k].id);
    d.Set("description", p.deviations[k].description);
    d.Set("permissionsMask", Napi::Number::New(env, p.deviations[k].permissions_mask));
    devs.Set(static_cast<uint32_t>(k), d);
  }
  o.Set("deviations", devs);
  return o;
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
    Napi::Error::New(env, "hv_vcpu_run_async needs a logical thread > 0: thread 0 is the JS thread itself")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  LogicalThread *thread = GetState(env)->Thread(t);
  if (thread == nullptr) {
    Napi::Error::New(env, "could not start logical thread " + std::to_string(t) + " (pthread_create failed)")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (thread->async_busy.load()) {
    Napi::Error::New(env, "logical thread " + std::to_string(t) + " is already busy in hv_vcpu_run_async")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
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

static void CleanupHook(State *state) {
  state->Teardown();
  state->torn_down = true;
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  State *state = new State(env);
  long page = sysconf(_SC_PAGESIZE);
  if (page > 0) state->page_size = static_cast<size_t>(page);
  env.SetInstanceData<State>(state);
  env.AddCleanupHook(CleanupHook, state);

  Napi::ArrayBuffer records = Napi::ArrayBuffer::New(env, kSlots * kSlotWords * sizeof(uint64_t));
  std::memset(records.Data(), 0, records.ByteLength());
  state->records = static_cast<uint64_t *>(records.Data());
  state->records_ref = Napi::Persistent(records);
  Napi::ArrayBuffer out = Napi::ArrayBuffer::New(env, kOutWords * sizeof(uint64_t));
  state->out = static_cast<uint64_t *>(out.Data());
  state->out_ref = Napi::Persistent(out);

  exports.Set("records", records);
  exports.Set("out", out);
  exports.Set("slotWords", Napi::Number::New(env, kSlotWords));
  exports.Set("arch", Napi::String::New(env, FlavourArch()));
  exports.Set("probe", Napi::Function::New(env, Probe, "probe"));
  exports.Set("reset", Napi::Function::New(env, Reset, "reset"));
  exports.Set("host_alloc", Napi::Function::New(env, HostAlloc, "host_alloc"));
  exports.Set("host_write", Napi::Function::New(env, HostWrite, "host_write"));
  exports.Set("host_read", Napi::Function::New(env, HostRead, "host_read"));
  RegisterFlavour(env, exports);
  return exports;
}

}  // namespace hvspec

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return hvspec::Init(env, exports); }

NODE_API_MODULE(hvspec_native, InitModule)
