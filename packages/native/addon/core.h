// core.h — what every flavour of the addon shares: logical threads (threads.cc), the process state
// and its teardown (state.cc), argument readers (args.cc), host buffers and the module (module.cc).
// Nothing here calls hv_* except through the flavour hooks (Flavour below), so the same core serves
// the x86 and the arm64 API; the per-function argument table is generated from the spec's registry
// (generated/calls_<flavour>.inc).
#ifndef HVSPEC_ADDON_CORE_H
#define HVSPEC_ADDON_CORE_H

#include <napi.h>

#include "hv_api.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <pthread.h>
#include <time.h>
#include <vector>

namespace hvspec {

// A logical thread N > 0: a native thread owned by the addon with a FIFO work queue. hv_* calls
// bind vCPUs to the calling thread (hvf-facts.md §1.2, §2.4 [H]), so every call the JS side makes
// "on thread N" is executed here, never on the libuv pool.
class LogicalThread {
 public:
  explicit LogicalThread(uint64_t id);
  ~LogicalThread();
  // Starts the native thread; false when the system refuses one (no exception, no abort).
  bool Start();
  LogicalThread(const LogicalThread &) = delete;
  LogicalThread &operator=(const LogicalThread &) = delete;

  uint64_t id() const { return id_; }
  // Runs fn on this thread and blocks the caller until it has returned.
  void RunSync(const std::function<void()> &fn);
  // Queues fn and returns at once (async runs).
  void Post(std::function<void()> fn);
  // Stops after the queued work and joins. Idempotent.
  void Join();

  // True from the moment an async hv_vcpu_run is queued until it has returned on this thread.
  std::atomic<bool> async_busy{false};

 private:
  void Loop();
  uint64_t id_;
  std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  std::deque<std::function<void()>> queue_;
  bool stop_ = false;
  bool started_ = false;
  pthread_t thread_{};
};

// A page-aligned host buffer from mmap (hv_vm_map wants a single VM region, not malloc: §1.2 [H]), or
// memory the framework allocated (arm64 hv_vm_allocate), which only hv_vm_deallocate frees.
struct HostBuffer {
  void *base = nullptr;
  size_t size = 0;
  bool framework = false;
};

// An OS object of the arm64 API (hv_vm_config_t, hv_vcpu_config_t, hv_gic_config_t, hv_gic_state_t)
// and which of them it is: an id of one kind passed as another is refused, never reinterpreted.
struct ConfigObject {
  void *object = nullptr;
  uint32_t kind = 0;
};

// A live vCPU as the addon knows it: its handle, the logical thread that created (owns) it, its
// slot in the shared exit record, and (arm64) the framework's exit pointer.
struct VcpuEntry {
  uint64_t handle = 0;
  uint64_t owner = 0;
  uint32_t slot = 0;
  const void *exit_ptr = nullptr;
};

// The shared exit record: kSlots slots of kSlotWords u64 words, then the shared run call, in one
// ArrayBuffer that the TS wrapper views as a BigUint64Array and a Uint32Array. hv_vcpu_run fills the
// vCPU's slot on its own thread, so one crossing into C returns everything a VMM reads after an exit
// (DESIGN.md "native backend"). Words 0..kSlotAddonWords-1 of a slot are the addon's; the rest
// belong to the TS wrapper (src/base.ts keeps its memo of results there, next to the values), and
// the addon neither reads nor clears them.
constexpr uint32_t kSlots = 256;
constexpr uint32_t kSlotWords = 16;
constexpr uint32_t kSlotAddonWords = 8;

// The shared run call (run_shared), the u64 word after the slots, as two u32 halves: the vCPU
// handle in the first, the hv_return_t the run leaves in the second; the logical thread is 0 (the
// JS thread, whose vCPU loop this is). hv_vcpu_run is the one crossing of every exit, and N-API's
// argument reads and its returned Number are most of what a crossing costs beyond the call itself
// (packages/bench: about 2% of an exit here), so the exit path passes them through memory instead.
constexpr uint32_t kRunCallWord = kSlots * kSlotWords;
constexpr uint32_t kRecordWords = kRunCallWord + 1;

// Word kDeferredWord of a vCPU's slot holds writes the TS wrapper answered itself and left for the
// addon (flavour-defined flags; x86: VMCS_GUEST_RIP, hv_x86_calls.cc), 0 for none. The addon applies
// them on the owner thread before that vCPU's next call reaches the framework (CallEntry, async runs,
// the baseline loop), the way KVM applies kvm_run's kvm_dirty_regs at the next KVM_RUN: what the
// framework sees is the same calls in the same order, one crossing fewer per exit (DESIGN.md
// "native backend").
constexpr uint32_t kDeferredWord = 6;

// Out-values of the last synchronous call (JS is single threaded, so one scratch area suffices).
constexpr uint32_t kOutWords = 8;

// At most this many logical threads are live at once (each is an OS thread). A thread without a vCPU
// is released after its call, so this bounds the threads that own vCPUs or run asynchronously.
constexpr size_t kMaxLiveThreads = 512;

// The largest host buffer, after rounding to pages: HOST_ALLOC_MAX of @hvspec/spec (one limit for
// every backend; the model's is Node's largest ArrayBuffer, 2^32 bytes in Node 20). The module
// exports it as `host_alloc_max` and a test checks the two agree.
constexpr uint64_t kMaxHostAlloc = 1ull << 32;

struct State {
  Napi::Env env;
  explicit State(Napi::Env e) : env(e) {}
  ~State();

  std::map<uint64_t, std::unique_ptr<LogicalThread>> threads;
  std::map<uint32_t, HostBuffer> buffers;
  uint32_t next_buffer = 1;
  std::map<uint64_t, VcpuEntry> vcpus;
  bool slot_used[kSlots] = {};
  bool vm_created = false;
  size_t page_size = 4096;

  Napi::Reference<Napi::ArrayBuffer> records_ref;
  uint64_t *records = nullptr;
  Napi::Reference<Napi::ArrayBuffer> out_ref;
  uint64_t *out = nullptr;

  // arm64 OS objects by the small ids JS sees (VmConfig, VcpuConfig, GicConfig, GicState); unused on x86.
  std::map<uint32_t, ConfigObject> configs;
  uint32_t next_config = 1;
  // Bytes the last synchronous call returned (hv_gic_state_get_data), until JS takes them.
  std::vector<uint8_t> out_bytes;

  bool torn_down = false;
  // Bumped by every Teardown: an async run that started before it leaves the threads alone.
  uint64_t generation = 0;

  uint64_t *Slot(uint32_t slot) { return records + static_cast<size_t>(slot) * kSlotWords; }
  // The shared run call's two halves: [0] the vCPU, [1] the hv_return_t.
  uint32_t *RunCall() { return reinterpret_cast<uint32_t *>(records + kRunCallWord); }
  // The live vCPU with this handle, or nullptr. (The pointer stays valid until RemoveVcpu.)
  VcpuEntry *FindVcpu(uint64_t handle) {
    auto it = vcpus.find(handle);
    return it == vcpus.end() ? nullptr : &it->second;
  }
  int AllocSlot();
  void FreeSlot(uint32_t slot);
  // Records a vCPU hv_vcpu_create just made on thread `owner`, with its exit-record slot; out[0] =
  // the handle, out[1] = the slot (what the JS wrapper reads). A stale entry of the same handle goes.
  void AddVcpu(uint64_t handle, uint64_t owner, uint32_t slot, const void *exit_ptr);
  // Forgets a destroyed vCPU and frees its slot.
  void RemoveVcpu(uint64_t handle);
  // Creates the thread on first use (id > 0); nullptr when the system cannot start one or
  // kMaxLiveThreads are live.
  LogicalThread *Thread(uint64_t id);
  // Joins and forgets thread t when it owns no vCPU and is not in an async run.
  void ReleaseIdle(uint64_t t);
  // Releases vCPUs, VM, configs, threads and buffers, as process exit would. Safe to repeat.
  void Teardown();
};

State *GetState(Napi::Env env);
// The state of the env whose exported function is running: every export carries it as its data
// (Export), which spares the entry points an N-API call on every call.
inline State *GetState(const Napi::CallbackInfo &info) { return static_cast<State *>(info.Data()); }

// hv_return_t as an unsigned 32-bit Number.
inline Napi::Value Ret(Napi::Env env, int32_t ret) { return Napi::Number::New(env, static_cast<uint32_t>(ret)); }

// Runs fn on logical thread t (inline when t == 0) and returns HV_SUCCESS once it has run. When it
// cannot run, fn does not run and the code says why, with no exception: HV_BUSY when t is inside an
// async run (a call there would wait for the guest: the thread is busy, as a real vCPU thread inside
// hv_vcpu_run is), HV_NO_RESOURCES when no thread can be started for t (the system refused one, or
// kMaxLiveThreads logical threads are live).
hv_return_t Dispatch(State *state, uint64_t t, const std::function<void()> &fn);

// Dispatch without wrapping `fn` in a std::function on thread 0 (the exit loop's fast path: its
// captures outgrow std::function's small buffer, so that was a malloc and a free per call).
template <class F>
hv_return_t RunOn(State *state, uint64_t t, F &&fn) {
  if (t == 0) {
    fn();
    return HV_SUCCESS;
  }
  return Dispatch(state, t, std::function<void()>(std::forward<F>(fn)));
}

// Runs the loop of a bench C baseline (DESIGN.md "Bench") on thread t, timed by CLOCK_MONOTONIC:
// out[0] = the exits it counted (`count`, which `loop` sets), out[1] = nanoseconds in the loop.
// Returns whether it ran (a dispatch failure leaves out[] as it was).
template <class F>
hv_return_t RunBaseline(State *state, uint64_t t, uint64_t &count, F &&loop) {
  uint64_t ns = 0;
  hv_return_t ran = RunOn(state, t, [&] {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    loop();
    clock_gettime(CLOCK_MONOTONIC, &b);
    ns = static_cast<uint64_t>(b.tv_sec - a.tv_sec) * 1000000000ull + static_cast<uint64_t>(b.tv_nsec) -
         static_cast<uint64_t>(a.tv_nsec);
  });
  if (ran != HV_SUCCESS) return ran;
  state->out[0] = count;
  state->out[1] = ns;
  return HV_SUCCESS;
}

// The end of every entry point: a logical thread that now owns no vCPU and runs nothing is released
// (its OS thread joined), so ids that are used once do not pile up threads; then the return code.
inline Napi::Value Finish(Napi::Env env, State *state, uint64_t t, hv_return_t ret) {
  if (t != 0) state->ReleaseIdle(t);  // thread 0 is the JS thread, never released
  return Ret(env, ret);
}

// Applies and clears the deferred writes in `slot` (kDeferredWord) with the flavour's hv_* calls, on
// the vCPU's owner thread; the code of the first that failed, or HV_SUCCESS.
hv_return_t FlavourApplyDeferred(uint64_t vcpu, uint64_t *slot);

// Whether a call by thread t on `vcpu` must apply the vCPU's deferred writes first: only its owner's
// calls can see the state they change (the framework refuses the others before looking at it).
inline bool HasDeferred(State *s, const VcpuEntry *vcpu, uint64_t t) {
  return vcpu != nullptr && vcpu->owner == t && s->Slot(vcpu->slot)[kDeferredWord] != 0;
}

// Everything an entry point does after reading its arguments into `c`: the record's guards, then
// on the logical thread the vCPU's deferred writes (a failure is the call's code, and the call is not
// made), the C call and `on_thread(ret, vcpu)` (vcpu: the addon's entry for the call's vCPU, or
// nullptr), then `after(state, ret)` on the JS thread and the release of an idle logical thread
// (see Finish). Returns the call's code.
template <class Call, class OnThread, class After>
hv_return_t Perform(State *s, Call &c, OnThread &&on_thread, After &&after) {
  hv_return_t ret = c.Check(s);
  if (ret != HV_SUCCESS) return ret;
  VcpuEntry *vcpu = Call::kOnVcpu ? s->FindVcpu(c.Vcpu()) : nullptr;
  bool deferred = HasDeferred(s, vcpu, c.t);
  hv_return_t ran = RunOn(s, c.t, [&] {
    ret = deferred ? FlavourApplyDeferred(c.Vcpu(), s->Slot(vcpu->slot)) : HV_SUCCESS;
    if (ret == HV_SUCCESS) ret = c.Invoke();
    on_thread(ret, vcpu);
  });
  if (ran != HV_SUCCESS) {
    ret = ran;
  } else {
    after(s, ret);
  }
  if (c.t != 0) s->ReleaseIdle(c.t);
  return ret;
}

// The shape of every entry point over a generated call record (generated/calls_*.inc): read the JS
// arguments (a TypeError leaves undefined), then Perform.
template <class Call, class OnThread, class After>
Napi::Value CallEntry(const Napi::CallbackInfo &info, Call &c, OnThread &&on_thread, After &&after) {
  if (!c.Read(info)) return info.Env().Undefined();
  return Ret(info.Env(), Perform(GetState(info), c, std::forward<OnThread>(on_thread), std::forward<After>(after)));
}

template <class Call, class After>
Napi::Value CallEntry(const Napi::CallbackInfo &info, Call &c, After &&after) {
  return CallEntry(info, c, [](hv_return_t, VcpuEntry *) {}, std::forward<After>(after));
}

// hv_vm_create / hv_vm_destroy: the addon remembers whether it holds the process's VM (teardown).
template <class Call>
Napi::Value VmEntry(const Napi::CallbackInfo &info, bool creates) {
  Call c;
  return CallEntry(info, c, [creates](State *s, hv_return_t ret) {
    if (ret == HV_SUCCESS) s->vm_created = creates;
  });
}

// hv_vcpu_create: the new vCPU gets a slot of the shared exit record (out[0] = the handle, out[1] =
// the slot); `exit_ptr` is the flavour's exit record pointer, if it has one.
template <class Call, class ExitPtr>
Napi::Value VcpuCreateEntry(const Napi::CallbackInfo &info, ExitPtr &&exit_ptr) {
  Call c;
  if (!c.Read(info)) return info.Env().Undefined();
  State *s = GetState(info);
  int slot = s->AllocSlot();
  if (slot < 0) return Ret(info.Env(), HV_NO_RESOURCES);  // no exit-record slot left
  hv_return_t ret = 0;
  hv_return_t ran = RunOn(s, c.t, [&] { ret = c.Invoke(); });
  if (ran != HV_SUCCESS || ret != HV_SUCCESS) {
    s->FreeSlot(static_cast<uint32_t>(slot));
    return Finish(info.Env(), s, c.t, ran != HV_SUCCESS ? ran : ret);
  }
  s->AddVcpu(c.vcpu, c.t, static_cast<uint32_t>(slot), exit_ptr(c));
  return Finish(info.Env(), s, c.t, ret);
}

// hv_vcpu_destroy: the slot is freed. A cross-thread hv_vcpu_destroy was reported to panic the macOS
// host kernel (hvf-facts.md §3, §5.17 [R]): the record's Check refuses it there first (OwnerOk).
template <class Call>
Napi::Value VcpuDestroyEntry(const Napi::CallbackInfo &info) {
  Call c;
  return CallEntry(info, c, [&](State *s, hv_return_t ret) {
    if (ret == HV_SUCCESS) s->RemoveVcpu(c.vcpu);
  });
}

// Argument readers. On a wrong type they throw a TypeError naming the parameter and return false.
// The TS wrapper checks first (packages/spec/src/validate.ts); these keep a direct caller from
// crashing the process.
bool ArgThread(const Napi::CallbackInfo &info, size_t i, uint64_t *out);
bool ArgU32(const Napi::CallbackInfo &info, size_t i, const char *name, uint32_t *out);
bool ArgU64(const Napi::CallbackInfo &info, size_t i, const char *name, uint64_t *out);
// A Number that is a non-negative safe integer (sizes and offsets of host buffers).
bool ArgSafeInt(const Napi::CallbackInfo &info, size_t i, const char *name, uint64_t *out);
bool ArgBool(const Napi::CallbackInfo &info, size_t i, const char *name, bool *out);
bool ArgHandleList(const Napi::CallbackInfo &info, size_t i, const char *name, size_t count_index,
                   std::vector<uint64_t> *out);
// baseline_exit_loop's arguments: (t, vcpu, iterations).
bool ArgBaseline(const Napi::CallbackInfo &info, uint64_t *t, uint32_t *vcpu, uint32_t *iterations);
// A Uint8Array's bytes, copied (a call's `const void *` input).
bool ArgBytes(const Napi::CallbackInfo &info, size_t i, const char *name, std::vector<uint8_t> *out);
// A host buffer by id, and a byte range of it. Unknown ids are a TypeError; a range outside the
// buffer is a RangeError (host_read/host_write) — hv_vm_map checks its own range (see callers).
HostBuffer *ArgBuffer(const Napi::CallbackInfo &info, size_t i, const char *name);

// A Promise already resolved with `ret` (an async run refused before it started).
Napi::Value ResolvedRet(Napi::Env env, int32_t ret);
// Throws a TypeError; returns false so that readers can `return ThrowTypeError(...)`.
bool ThrowTypeError(Napi::Env env, const std::string &msg);
// An object of named numbers (the fault sites and ioctl requests the testing object lists).
Napi::Object NumberTable(Napi::Env env, std::initializer_list<std::pair<const char *, double>> entries);

// One exported function of a flavour (the generated table lists them).
struct ExportEntry {
  const char *name;
  Napi::Value (*fn)(const Napi::CallbackInfo &);
};

// Sets exports[name] to fn, with the env's state as the function's data (GetState(info)).
inline void Export(Napi::Env env, Napi::Object exports, const char *name, Napi::Value (*fn)(const Napi::CallbackInfo &),
                   State *state) {
  exports.Set(name, Napi::Function::New(env, fn, name, state));
}

// Whether thread t may make a per-vCPU call on `vcpu` without the framework seeing it first
// (platform_*.cc). macOS: only the owner — a cross-thread call is forbidden (hvf-facts.md §1.2, §2.4
// [H]) and cross-thread destroy was reported to panic the host (§5.17 [R]), so the addon answers
// HV_BAD_ARGUMENT itself. Linux: always true — the KVM provider enforces ownership itself, and the
// conformance tests check it there. Unknown handles are passed through for the framework to judge.
bool OwnerOk(State *state, uint64_t vcpu, uint64_t t);
// The framework object behind an object id the addon issued for an object of `kind` (arm64 OS objects,
// generated/calls_arm64.inc numbers the kinds); false for an id it never issued or of another kind.
// Defined by the flavour that has such objects.
bool ConfigArg(State *state, uint32_t id, uint32_t kind, void **out);

// Starts `work` (an hv_vcpu_run) on logical thread t > 0 and returns a Promise of its hv_return_t.
// The thread counts as busy until the work returns; calls on it meanwhile get HV_BUSY (see Dispatch).
// t == 0 is a TypeError (the JS thread cannot wait in the guest); a busy thread or one that cannot be
// started resolves with HV_BUSY / HV_NO_RESOURCES at once.
Napi::Value StartAsync(const Napi::CallbackInfo &info, uint64_t t, std::function<int32_t()> work);

// What an async run answers before it starts: undefined after a TypeError, or Check's refusal as the
// Promise the caller awaits (t == 0 is StartAsync's refusal, checked there); an empty value when the
// run may start.
template <class Call>
Napi::Value AsyncRefusal(const Napi::CallbackInfo &info, Call &c, State *state) {
  if (!c.Read(info)) return info.Env().Undefined();
  hv_return_t early = c.t == 0 ? HV_SUCCESS : c.Check(state);
  if (early != HV_SUCCESS) return ResolvedRet(info.Env(), early);
  return Napi::Value();
}

// ---- Flavour hooks, implemented once per API flavour (hv_x86_calls.cc / hv_arm64_calls.cc) ----
// Registers the flavour's hv_* functions on exports (with Export).
void RegisterFlavour(Napi::Env env, Napi::Object exports, State *state);
// Destroys one vCPU; called on its owner thread during teardown.
int32_t FlavourDestroyVcpu(uint64_t handle);
// Forces the listed vCPUs out of hv_vcpu_run (any thread).
void FlavourKick(const std::vector<uint64_t> &handles);
int32_t FlavourDestroyVm();
void FlavourReleaseConfig(void *config);
// Frees memory the framework allocated for a host buffer (arm64 hv_vm_allocate).
void FlavourDeallocate(void *base, size_t size);
const char *FlavourArch();  // "x86_64" | "arm64"

// ---- Platform hooks (platform_linux.cc / platform_macos.cc) ----
struct PlatformDeviation {
  std::string id;
  std::string description;
  uint32_t permissions_mask = 0;
  // Basic exit reasons this backend never reports (what causes them is handled elsewhere).
  std::vector<uint32_t> exit_reasons;
};
struct PlatformInfo {
  bool available = false;
  std::string reason;
  std::string fix;
  std::string backend;                 // "native-kvm" | "native-hvf"
  uint32_t enforced_permissions_mask = 0xff;
  std::vector<PlatformDeviation> deviations;
};
// Whether hv_vm_create can work here, and why not. May create and destroy a VM to find out (macOS),
// so it is only called while the addon holds no VM.
PlatformInfo PlatformProbe();
// Adds the platform's test-only hooks to the module's `testing` object (Linux: the KVM provider's
// fault injection, hvkvm_inject_fault, with the KVM ioctl numbers a test names).
void PlatformTesting(Napi::Env env, Napi::Object testing);

}  // namespace hvspec

#endif  // HVSPEC_ADDON_CORE_H
