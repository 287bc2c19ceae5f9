// hv_x86_calls.cc — the x86 hv_* API (hv_x86.h on Linux via the KVM provider; Hypervisor.framework
// on Intel Macs). The same code runs on both systems: it only calls hv_* functions.
//
// Every function takes the logical thread first and returns the hv_return_t as an unsigned Number;
// out-values go to the shared `out` words (JS reads them right after the call).
#include "hv_api.h"

#ifdef HVSPEC_X86

#include "core.h"

namespace hvspec {

// x86 exit-record slot layout (u64 words). Bit k of word 0 says word k holds the value of its field
// (hv_vmx_vcpu_read_vmcs right after the run returned HV_SUCCESS, or a deferred write since); a
// failed read leaves it unset so the TS side asks the API instead of inventing a value.
enum : uint32_t {
  kX86Mask = 0,
  kX86ExitReason = 1,      // VMCS_RO_EXIT_REASON
  kX86ExitQualific = 2,    // VMCS_RO_EXIT_QUALIFIC
  kX86GuestPhysical = 3,   // VMCS_GUEST_PHYSICAL_ADDRESS
  kX86InstrLen = 4,        // VMCS_RO_VMEXIT_INSTR_LEN
  kX86GuestRip = 5,        // VMCS_GUEST_RIP
  // kDeferredWord (6): bit 0 = hv_vmx_vcpu_write_vmcs(VMCS_GUEST_RIP, word 5) is owed (src/x86.ts).
  kX86Runs = 7,            // runs completed on this vCPU (diagnostics)
};
static_assert(kDeferredWord == 6, "word 6 is the deferred writes");
constexpr uint64_t kDeferredRip = 1;

// The RIP write a VMM makes after every exit the JS wrapper answers at once and leaves in the slot
// (src/x86.ts): the spec's rows make it HV_SUCCESS for the owner of a live vCPU [T], and the owner
// thread is the only one whose calls see it, so it is made here, on that thread, before the vCPU's
// next call — the same call, in the same order, without a crossing of its own.
hv_return_t FlavourApplyDeferred(uint64_t vcpu, uint64_t *slot) {
  uint64_t deferred = slot[kDeferredWord];
  slot[kDeferredWord] = 0;
  if (deferred & kDeferredRip)
    return hv_vmx_vcpu_write_vmcs(static_cast<hv_vcpuid_t>(vcpu), VMCS_GUEST_RIP, slot[kX86GuestRip]);
  return HV_SUCCESS;
}

// One read of the exit record: word `word` of the slot gets what hv_vmx_vcpu_read_vmcs answered,
// and its mask bit is set, when it answered HV_SUCCESS.
static inline void Record(hv_vcpuid_t vcpu, uint32_t field, uint64_t *slot, uint32_t word, uint64_t *mask) {
  if (hv_vmx_vcpu_read_vmcs(vcpu, field, &slot[word]) == HV_SUCCESS) *mask |= 1ull << word;
}

// On the owner thread, right after hv_vcpu_run*: the reads every VMM makes after an exit
// (hvf-facts.md §1.6, §1.7 [T]), so that JS gets them without four more crossings.
// VMCS_GUEST_PHYSICAL_ADDRESS only means something after an EPT violation or misconfiguration (Intel
// SDM Vol. 3 §28.2.1), so it is only read for those; after any other exit its bit stays clear and a
// JS read of it goes to hv_vmx_vcpu_read_vmcs, which answers the same (the field is read-only and only
// the next run changes it). That keeps one read off every I/O, HLT and interrupt exit.
static void FillExit(hv_vcpuid_t vcpu, int32_t ret, uint64_t *slot) {
  if (slot == nullptr) return;
  uint64_t mask = 0;
  if (ret == HV_SUCCESS) {
    Record(vcpu, VMCS_RO_EXIT_REASON, slot, kX86ExitReason, &mask);
    Record(vcpu, VMCS_RO_EXIT_QUALIFIC, slot, kX86ExitQualific, &mask);
    uint64_t basic = slot[kX86ExitReason] & 0xffff;
    if ((mask & (1ull << kX86ExitReason)) && (basic == VMX_REASON_EPT_VIOLATION || basic == VMX_REASON_EPT_MISCONFIG))
      Record(vcpu, VMCS_GUEST_PHYSICAL_ADDRESS, slot, kX86GuestPhysical, &mask);
    Record(vcpu, VMCS_RO_VMEXIT_INSTR_LEN, slot, kX86InstrLen, &mask);
    Record(vcpu, VMCS_GUEST_RIP, slot, kX86GuestRip, &mask);
  }
  slot[kX86Runs] += 1;
  slot[kX86Mask] = mask;
}

// The exit-record slot a call by thread t on `v` may fill: only the owner's. A run of someone else's
// vCPU fails in the framework, and its bookkeeping must not race the owner's run writing the same slot.
static uint64_t *OwnedSlot(State *state, const VcpuEntry *v, uint64_t t) {
  return v == nullptr || v->owner != t ? nullptr : state->Slot(v->slot);
}

#include "generated/calls_x86_64.inc"

// ---- Entry points with addon state around the call ------------------------------------------------

static Napi::Value js_hv_vm_create(const Napi::CallbackInfo &info) { return VmEntry<hv_vm_create_call>(info, true); }
static Napi::Value js_hv_vm_destroy(const Napi::CallbackInfo &info) { return VmEntry<hv_vm_destroy_call>(info, false); }
static Napi::Value js_hv_vcpu_create(const Napi::CallbackInfo &info) {
  return VcpuCreateEntry<hv_vcpu_create_call>(info, [](const hv_vcpu_create_call &) -> const void * { return nullptr; });
}
static Napi::Value js_hv_vcpu_destroy(const Napi::CallbackInfo &info) {
  return VcpuDestroyEntry<hv_vcpu_destroy_call>(info);
}

// Runs fill the vCPU's exit-record slot on the owner thread, right after the run.
template <class Call>
static Napi::Value RunEntry(const Napi::CallbackInfo &info) {
  Call c;
  State *state = GetState(info);
  return CallEntry(
      info, c, [&](hv_return_t ret, VcpuEntry *v) { FillExit(c.vcpu, ret, OwnedSlot(state, v, c.t)); },
      [](State *, hv_return_t) {});
}

static Napi::Value js_hv_vcpu_run(const Napi::CallbackInfo &info) { return RunEntry<hv_vcpu_run_call>(info); }

// hv_vcpu_run on thread 0 with its vCPU and result in the shared run call (core.h kRunCallWord):
// the same guards, deferred writes and exit record as js_hv_vcpu_run, with no N-API argument or
// result. A plain N-API callback: node-addon-api's CallbackInfo would fetch six argument slots first.
static napi_value RunShared(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 0;
  void *data = nullptr;
  if (napi_get_cb_info(env, cbinfo, &argc, nullptr, nullptr, &data) != napi_ok) return nullptr;
  State *s = static_cast<State *>(data);
  uint32_t *call = s->RunCall();
  hv_vcpu_run_call c;
  c.t = 0;
  c.vcpu = static_cast<hv_vcpuid_t>(call[0]);
  call[1] = static_cast<uint32_t>(Perform(
      s, c, [&](hv_return_t ret, VcpuEntry *v) { FillExit(c.vcpu, ret, OwnedSlot(s, v, 0)); },
      [](State *, hv_return_t) {}));
  return nullptr;
}

static Napi::Value js_hv_vcpu_run_until(const Napi::CallbackInfo &info) {
  return RunEntry<hv_vcpu_run_until_call>(info);
}

static Napi::Value js_hv_vcpu_run_async(const Napi::CallbackInfo &info) {
  hv_vcpu_run_call c;
  State *state = GetState(info);
  if (Napi::Value refused = AsyncRefusal(info, c, state); !refused.IsEmpty()) return refused;
  VcpuEntry *entry = state->FindVcpu(c.vcpu);
  uint64_t *slot = OwnedSlot(state, entry, c.t);
  bool deferred = HasDeferred(state, entry, c.t);
  hv_vcpuid_t vcpu = c.vcpu;
  return StartAsync(info, c.t, [vcpu, slot, deferred]() -> int32_t {
    int32_t ret = deferred ? FlavourApplyDeferred(vcpu, slot) : HV_SUCCESS;
    if (ret == HV_SUCCESS) ret = hv_vcpu_run(vcpu);
    FillExit(vcpu, ret, slot);
    return ret;
  });
}

// The bench's C baseline (DESIGN.md "Bench"): the exit loop a VMM runs, entirely in C on the owner
// thread — hv_vcpu_run, read the exit reason, and for an I/O exit advance RIP by the instruction
// length (hvf-facts.md §1.6, §1.7 [T]). Returns the hv_return_t of the first failing call or
// HV_SUCCESS; out[0] = I/O exits seen, out[1] = nanoseconds spent in the loop.
static Napi::Value BaselineExitLoop(const Napi::CallbackInfo &info) {  // (t, vcpu, iterations)
  uint64_t t = 0;
  uint32_t vcpu = 0, iterations = 0;
  if (!ArgBaseline(info, &t, &vcpu, &iterations)) return info.Env().Undefined();
  int32_t ret = HV_SUCCESS;
  uint64_t io = 0;
  State *state = GetState(info);
  VcpuEntry *entry = state->FindVcpu(vcpu);
  uint64_t *slot = OwnedSlot(state, entry, t);
  bool deferred = HasDeferred(state, entry, t);
  hv_return_t ran = RunBaseline(state, t, io, [&] {
    // Deferred writes are applied inside the timed region: once per call, not per exit.
    if (deferred && (ret = FlavourApplyDeferred(vcpu, slot)) != HV_SUCCESS) return;
    for (uint32_t i = 0; i < iterations && ret == HV_SUCCESS; i++) {
      uint64_t reason = 0, len = 0, rip = 0;
      if ((ret = hv_vcpu_run(vcpu)) != HV_SUCCESS) break;
      if ((ret = hv_vmx_vcpu_read_vmcs(vcpu, VMCS_RO_EXIT_REASON, &reason)) != HV_SUCCESS) break;
      if ((reason & 0xffff) != VMX_REASON_IO) continue;
      io++;
      if ((ret = hv_vmx_vcpu_read_vmcs(vcpu, VMCS_RO_VMEXIT_INSTR_LEN, &len)) != HV_SUCCESS) break;
      if ((ret = hv_vmx_vcpu_read_vmcs(vcpu, VMCS_GUEST_RIP, &rip)) != HV_SUCCESS) break;
      ret = hv_vmx_vcpu_write_vmcs(vcpu, VMCS_GUEST_RIP, rip + len);
    }
  });
  if (ran != HV_SUCCESS) return Finish(info.Env(), state, t, ran);
  // The loop bypassed the exit record; its contents are stale for this vCPU now.
  if (slot != nullptr) slot[kX86Mask] = 0;
  return Finish(info.Env(), state, t, ret);
}

int32_t FlavourDestroyVcpu(uint64_t handle) { return hv_vcpu_destroy(static_cast<hv_vcpuid_t>(handle)); }

void FlavourKick(const std::vector<uint64_t> &handles) {
  std::vector<hv_vcpuid_t> ids(handles.begin(), handles.end());
  if (!ids.empty()) hv_vcpu_interrupt(ids.data(), static_cast<unsigned int>(ids.size()));
}

int32_t FlavourDestroyVm() { return hv_vm_destroy(); }
void FlavourReleaseConfig(void *) {}
// The x86 flavour has no hv_vm_allocate in the registry: no framework buffers to free.
void FlavourDeallocate(void *, size_t) {}
const char *FlavourArch() { return "x86_64"; }

void RegisterFlavour(Napi::Env env, Napi::Object exports, State *state) {
  for (const ExportEntry &e : kGeneratedCalls) Export(env, exports, e.name, e.fn, state);
  Export(env, exports, "baseline_exit_loop", BaselineExitLoop, state);
  napi_value run_shared = nullptr;
  if (napi_create_function(env, "run_shared", NAPI_AUTO_LENGTH, RunShared, state, &run_shared) == napi_ok)
    exports.Set("run_shared", Napi::Value(env, run_shared));
}

}  // namespace hvspec

#endif  // HVSPEC_X86
