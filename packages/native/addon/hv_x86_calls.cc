// hv_x86_calls.cc — the x86 hv_* API (hv_x86.h on Linux via the KVM provider; Hypervisor.framework
// on Intel Macs). The same code runs on both systems: it only calls hv_* functions.
//
// Every function takes the logical thread first and returns the hv_return_t as an unsigned Number;
// out-values go to the shared `out` words (JS reads them right after the call).
#include "hv_api.h"

#ifdef HVSPEC_X86

#include <time.h>

#include "core.h"

namespace hvspec {

// x86 exit-record slot layout (u64 words). Bit i of word 0 says word i+1 holds the value that
// hv_vmx_vcpu_read_vmcs returned right after the run (HV_SUCCESS); a failed read leaves it unset so
// the TS side asks the API instead of inventing a value.
enum : uint32_t {
  kX86Mask = 0,
  kX86ExitReason = 1,      // VMCS_RO_EXIT_REASON
  kX86ExitQualific = 2,    // VMCS_RO_EXIT_QUALIFIC
  kX86GuestPhysical = 3,   // VMCS_GUEST_PHYSICAL_ADDRESS
  kX86InstrLen = 4,        // VMCS_RO_VMEXIT_INSTR_LEN
  kX86GuestRip = 5,        // VMCS_GUEST_RIP
  kX86Runs = 6,            // runs completed on this vCPU (diagnostics)
};

static const uint32_t kExitFields[] = {VMCS_RO_EXIT_REASON, VMCS_RO_EXIT_QUALIFIC,
                                       VMCS_GUEST_PHYSICAL_ADDRESS, VMCS_RO_VMEXIT_INSTR_LEN,
                                       VMCS_GUEST_RIP};

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
    bool ept = false;
    for (uint32_t i = 0; i < sizeof(kExitFields) / sizeof(kExitFields[0]); i++) {
      if (kExitFields[i] == VMCS_GUEST_PHYSICAL_ADDRESS && !ept) continue;
      uint64_t value = 0;
      if (hv_vmx_vcpu_read_vmcs(vcpu, kExitFields[i], &value) == HV_SUCCESS) {
        slot[1 + i] = value;
        mask |= 1ull << (i + 1);
        if (kExitFields[i] == VMCS_RO_EXIT_REASON) {
          uint64_t basic = value & 0xffff;
          ept = basic == VMX_REASON_EPT_VIOLATION || basic == VMX_REASON_EPT_MISCONFIG;
        }
      }
    }
  }
  slot[kX86Runs] += 1;
  slot[kX86Mask] = mask;
}

// The exit-record slot a run on thread t may fill: only the owner's. A run of someone else's vCPU
// fails in the framework, and its bookkeeping must not race the owner's run writing the same slot.
static uint64_t *SlotOf(State *state, uint64_t vcpu, uint64_t t) {
  auto it = state->vcpus.find(vcpu);
  return it == state->vcpus.end() || it->second.owner != t ? nullptr : state->Slot(it->second.slot);
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
  // The slot is looked up on the logical thread, while the JS thread waits for it (no N-API there).
  State *state = GetState(info.Env());
  return CallEntry(
      info, c, [&](hv_return_t ret) { FillExit(c.vcpu, ret, SlotOf(state, c.vcpu, c.t)); }, [](State *, hv_return_t) {});
}

static Napi::Value js_hv_vcpu_run(const Napi::CallbackInfo &info) { return RunEntry<hv_vcpu_run_call>(info); }
static Napi::Value js_hv_vcpu_run_until(const Napi::CallbackInfo &info) {
  return RunEntry<hv_vcpu_run_until_call>(info);
}

static Napi::Value js_hv_vcpu_run_async(const Napi::CallbackInfo &info) {
  hv_vcpu_run_call c;
  if (!c.Read(info)) return info.Env().Undefined();
  State *state = GetState(info.Env());
  hv_return_t early = c.t == 0 ? HV_SUCCESS : c.Check(state);
  if (early != HV_SUCCESS) return ResolvedRet(info.Env(), early);
  uint64_t *slot = SlotOf(state, c.vcpu, c.t);
  hv_vcpuid_t vcpu = c.vcpu;
  return StartAsync(info, c.t, [vcpu, slot]() -> int32_t {
    int32_t ret = hv_vcpu_run(vcpu);
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
  if (!ArgThread(info, 0, &t) || !ArgU32(info, 1, "vcpu", &vcpu) || !ArgU32(info, 2, "iterations", &iterations))
    return info.Env().Undefined();
  int32_t ret = HV_SUCCESS;
  uint64_t io = 0, ns = 0;
  State *state = GetState(info.Env());
  hv_return_t ran = RunOn(state, t, [&] {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
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
        clock_gettime(CLOCK_MONOTONIC, &b);
        ns = static_cast<uint64_t>(b.tv_sec - a.tv_sec) * 1000000000ull + static_cast<uint64_t>(b.tv_nsec) -
             static_cast<uint64_t>(a.tv_nsec);
      });
  if (ran != HV_SUCCESS) return Finish(info.Env(), state, t, ran);
  state->out[0] = io;
  state->out[1] = ns;
  // The loop bypassed the exit record; its contents are stale for this vCPU now.
  if (uint64_t *slot = SlotOf(state, vcpu, t)) slot[kX86Mask] = 0;
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

void RegisterFlavour(Napi::Env env, Napi::Object exports) {
  for (const ExportEntry &e : kGeneratedCalls) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
  exports.Set("baseline_exit_loop", Napi::Function::New(env, BaselineExitLoop, "baseline_exit_loop"));
}

}  // namespace hvspec

#endif  // HVSPEC_X86
