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

static uint64_t *SlotOf(State *state, uint64_t vcpu) {
  auto it = state->vcpus.find(vcpu);
  return it == state->vcpus.end() ? nullptr : state->Slot(it->second.slot);
}

#define HV_FN(name) static Napi::Value name(const Napi::CallbackInfo &info)
#define THREAD(var) \
  uint64_t var = 0; \
  if (!ArgThread(info, 0, &var)) return info.Env().Undefined()
#define U32(i, name, var) \
  uint32_t var = 0;       \
  if (!ArgU32(info, i, name, &var)) return info.Env().Undefined()
#define U64(i, name, var) \
  uint64_t var = 0;       \
  if (!ArgU64(info, i, name, &var)) return info.Env().Undefined()
// Thread 0 is the JS thread itself: the body runs inline, as Dispatch would run it, but without
// wrapping it in a std::function first (its captures outgrow the small-object buffer, so that was a
// malloc and a free on every call of the exit loop's fast path).
#define DISPATCH(t, ...)        \
  if ((t) == 0) {               \
    [&] __VA_ARGS__();          \
  } else if (!Dispatch(info, t, [&] __VA_ARGS__)) \
    return info.Env().Undefined()

HV_FN(Capability) {
  THREAD(t);
  U32(1, "capability", cap);
  int32_t ret = 0;
  uint64_t value = 0;
  DISPATCH(t, { ret = hv_capability(static_cast<hv_capability_t>(cap), &value); });
  GetState(info.Env())->out[0] = value;
  return Ret(info.Env(), ret);
}

HV_FN(VmCreate) {
  THREAD(t);
  U64(1, "flags", flags);
  int32_t ret = 0;
  DISPATCH(t, { ret = hv_vm_create(static_cast<hv_vm_options_t>(flags)); });
  if (ret == HV_SUCCESS) GetState(info.Env())->vm_created = true;
  return Ret(info.Env(), ret);
}

HV_FN(VmDestroy) {
  THREAD(t);
  int32_t ret = 0;
  DISPATCH(t, { ret = hv_vm_destroy(); });
  if (ret == HV_SUCCESS) GetState(info.Env())->vm_created = false;
  return Ret(info.Env(), ret);
}

HV_FN(VmSpaceCreate) {
  THREAD(t);
  int32_t ret = 0;
  hv_vm_space_t asid = 0;
  DISPATCH(t, { ret = hv_vm_space_create(&asid); });
  GetState(info.Env())->out[0] = asid;
  return Ret(info.Env(), ret);
}

HV_FN(VmSpaceDestroy) {
  THREAD(t);
  U32(1, "asid", asid);
  int32_t ret = 0;
  DISPATCH(t, { ret = hv_vm_space_destroy(asid); });
  return Ret(info.Env(), ret);
}

// The uva of hv_vm_map is a host buffer and an offset. A range outside the buffer would hand the
// framework memory the addon does not own, so it is refused here with HV_BAD_ARGUMENT (the code the
// spec's decision table expects for that case) instead of being passed on.
static bool MapSource(const Napi::CallbackInfo &info, size_t buf_index, uint64_t size, const void **uva,
                      bool *in_bounds) {
  HostBuffer *b = ArgBuffer(info, buf_index, "uva.mem");
  uint32_t offset = 0;
  if (!b || !ArgU32(info, buf_index + 1, "uva.offset", &offset)) return false;
  *in_bounds = offset <= b->size && size <= b->size - offset;
  *uva = static_cast<const uint8_t *>(b->base) + (*in_bounds ? offset : 0);
  return true;
}

HV_FN(VmMap) {  // (t, mem, offset, gpa, size, flags)
  THREAD(t);
  U64(3, "gpa", gpa);
  U64(4, "size", size);
  U32(5, "flags", flags);
  const void *uva = nullptr;
  bool in_bounds = false;
  if (!MapSource(info, 1, size, &uva, &in_bounds)) return info.Env().Undefined();
  if (!in_bounds) return Ret(info.Env(), HV_BAD_ARGUMENT);
  int32_t ret = 0;
  DISPATCH(t, { ret = hv_vm_map(uva, gpa, static_cast<size_t>(size), flags); });
  return Ret(info.Env(), ret);
}

HV_FN(VmUnmap) {
  THREAD(t);
  U64(1, "gpa", gpa);
  U64(2, "size", size);
  int32_t ret = 0;
  DISPATCH(t, { ret = hv_vm_unmap(gpa, static_cast<size_t>(size)); });
  return Ret(info.Env(), ret);
}

HV_FN(VmProtect) {
  THREAD(t);
  U64(1, "gpa", gpa);
  U64(2, "size", size);
  U32(3, "flags", flags);
  int32_t ret = 0;
  DISPATCH(t, { ret = hv_vm_protect(gpa, static_cast<size_t>(size), flags); });
  return Ret(info.Env(), ret);
}

HV_FN(VmMapSpace) {  // (t, asid, mem, offset, gpa, size, flags)
  THREAD(t);
  U32(1, "asid", asid);
  U64(4, "gpa", gpa);
  U64(5, "size", size);
  U32(6, "flags", flags);
  const void *uva = nullptr;
  bool in_bounds = false;
  if (!MapSource(info, 2, size, &uva, &in_bounds)) return info.Env().Undefined();
  if (!in_bounds) return Ret(info.Env(), HV_BAD_ARGUMENT);
  int32_t ret = 0;
  DISPATCH(t, { ret = hv_vm_map_space(asid, uva, gpa, static_cast<size_t>(size), flags); });
  return Ret(info.Env(), ret);
}

HV_FN(VmUnmapSpace) {
  THREAD(t);
  U32(1, "asid", asid);
  U64(2, "gpa", gpa);
  U64(3, "size", size);
  int32_t ret = 0;
  DISPATCH(t, { ret = hv_vm_unmap_space(asid, gpa, static_cast<size_t>(size)); });
  return Ret(info.Env(), ret);
}

HV_FN(VmProtectSpace) {
  THREAD(t);
  U32(1, "asid", asid);
  U64(2, "gpa", gpa);
  U64(3, "size", size);
  U32(4, "flags", flags);
  int32_t ret = 0;
  DISPATCH(t, { ret = hv_vm_protect_space(asid, gpa, static_cast<size_t>(size), flags); });
  return Ret(info.Env(), ret);
}

HV_FN(VcpuCreate) {
  THREAD(t);
  U64(1, "flags", flags);
  State *state = GetState(info.Env());
  int slot = state->AllocSlot();
  if (slot < 0) return Ret(info.Env(), HV_NO_RESOURCES);  // no exit-record slot left
  int32_t ret = 0;
  hv_vcpuid_t vcpu = 0;
  if (!Dispatch(info, t, [&] { ret = hv_vcpu_create(&vcpu, static_cast<hv_vcpu_options_t>(flags)); })) {
    state->FreeSlot(static_cast<uint32_t>(slot));
    return info.Env().Undefined();
  }
  if (ret != HV_SUCCESS) {
    state->FreeSlot(static_cast<uint32_t>(slot));
    return Ret(info.Env(), ret);
  }
  auto old = state->vcpus.find(vcpu);
  if (old != state->vcpus.end()) state->FreeSlot(old->second.slot);
  state->vcpus[vcpu] = VcpuEntry{vcpu, t, static_cast<uint32_t>(slot), nullptr};
  state->out[0] = vcpu;
  state->out[1] = static_cast<uint64_t>(slot);
  return Ret(info.Env(), ret);
}

HV_FN(VcpuDestroy) {
  THREAD(t);
  U32(1, "vcpu", vcpu);
  State *state = GetState(info.Env());
  auto it = state->vcpus.find(vcpu);
#ifdef HVSPEC_MACOS
  // A cross-thread hv_vcpu_destroy was reported to panic the macOS host kernel (hvf-facts.md §3,
  // §5.17 [R]); the spec marks it dangerous and the addon never lets it reach the framework.
  if (it != state->vcpus.end() && it->second.owner != t) return Ret(info.Env(), HV_BAD_ARGUMENT);
#endif
  int32_t ret = 0;
  DISPATCH(t, { ret = hv_vcpu_destroy(vcpu); });
  it = state->vcpus.find(vcpu);
  if (ret == HV_SUCCESS && it != state->vcpus.end()) {
    state->FreeSlot(it->second.slot);
    state->vcpus.erase(it);
  }
  return Ret(info.Env(), ret);
}

HV_FN(VcpuSetSpace) {
  THREAD(t);
  U32(1, "vcpu", vcpu);
  U32(2, "asid", asid);
  int32_t ret = 0;
  DISPATCH(t, { ret = hv_vcpu_set_space(vcpu, asid); });
  return Ret(info.Env(), ret);
}

HV_FN(VcpuReadRegister) {
  THREAD(t);
  U32(1, "vcpu", vcpu);
  U32(2, "reg", reg);
  int32_t ret = 0;
  uint64_t value = 0;
  DISPATCH(t, { ret = hv_vcpu_read_register(vcpu, static_cast<hv_x86_reg_t>(reg), &value); });
  GetState(info.Env())->out[0] = value;
  return Ret(info.Env(), ret);
}

HV_FN(VcpuWriteRegister) {
  THREAD(t);
  U32(1, "vcpu", vcpu);
  U32(2, "reg", reg);
  U64(3, "value", value);
  int32_t ret = 0;
  DISPATCH(t, { ret = hv_vcpu_write_register(vcpu, static_cast<hv_x86_reg_t>(reg), value); });
  return Ret(info.Env(), ret);
}

HV_FN(VmxReadCapability) {
  THREAD(t);
  U32(1, "field", field);
  int32_t ret = 0;
  uint64_t value = 0;
  DISPATCH(t, { ret = hv_vmx_read_capability(static_cast<hv_vmx_capability_t>(field), &value); });
  GetState(info.Env())->out[0] = value;
  return Ret(info.Env(), ret);
}

HV_FN(VmxVcpuReadVmcs) {
  THREAD(t);
  U32(1, "vcpu", vcpu);
  U32(2, "field", field);
  int32_t ret = 0;
  uint64_t value = 0;
  DISPATCH(t, { ret = hv_vmx_vcpu_read_vmcs(vcpu, field, &value); });
  GetState(info.Env())->out[0] = value;
  return Ret(info.Env(), ret);
}

HV_FN(VmxVcpuWriteVmcs) {
  THREAD(t);
  U32(1, "vcpu", vcpu);
  U32(2, "field", field);
  U64(3, "value", value);
  int32_t ret = 0;
  DISPATCH(t, { ret = hv_vmx_vcpu_write_vmcs(vcpu, field, value); });
  return Ret(info.Env(), ret);
}

HV_FN(VcpuRun) {
  THREAD(t);
  U32(1, "vcpu", vcpu);
  uint64_t *slot = SlotOf(GetState(info.Env()), vcpu);
  int32_t ret = 0;
  DISPATCH(t, {
    ret = hv_vcpu_run(vcpu);
    FillExit(vcpu, ret, slot);
  });
  return Ret(info.Env(), ret);
}

HV_FN(VcpuRunUntil) {
  THREAD(t);
  U32(1, "vcpu", vcpu);
  U64(2, "deadline", deadline);
  uint64_t *slot = SlotOf(GetState(info.Env()), vcpu);
  int32_t ret = 0;
  DISPATCH(t, {
    ret = hv_vcpu_run_until(vcpu, deadline);
    FillExit(vcpu, ret, slot);
  });
  return Ret(info.Env(), ret);
}

HV_FN(VcpuRunAsync) {
  THREAD(t);
  U32(1, "vcpu", vcpu);
  uint64_t *slot = SlotOf(GetState(info.Env()), vcpu);
  return StartAsync(info, t, [vcpu, slot]() -> int32_t {
    int32_t ret = hv_vcpu_run(vcpu);
    FillExit(vcpu, ret, slot);
    return ret;
  });
}

HV_FN(VcpuInterrupt) {  // (t, vcpus[], vcpu_count)
  THREAD(t);
  std::vector<uint64_t> list;
  if (!ArgHandleList(info, 1, "vcpus", 2, &list)) return info.Env().Undefined();
  std::vector<hv_vcpuid_t> ids(list.begin(), list.end());
  int32_t ret = 0;
  DISPATCH(t, { ret = hv_vcpu_interrupt(ids.data(), static_cast<unsigned int>(ids.size())); });
  return Ret(info.Env(), ret);
}

// The bench's C baseline (DESIGN.md "Bench"): the exit loop a VMM runs, entirely in C on the owner
// thread — hv_vcpu_run, read the exit reason, and for an I/O exit advance RIP by the instruction
// length (hvf-facts.md §1.6, §1.7 [T]). Returns the hv_return_t of the first failing call or
// HV_SUCCESS; out[0] = I/O exits seen, out[1] = nanoseconds spent in the loop.
HV_FN(BaselineExitLoop) {  // (t, vcpu, iterations)
  THREAD(t);
  U32(1, "vcpu", vcpu);
  U32(2, "iterations", iterations);
  int32_t ret = HV_SUCCESS;
  uint64_t io = 0, ns = 0;
  DISPATCH(t, {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (uint32_t i = 0; i < iterations && ret == HV_SUCCESS; i++) {
      uint64_t reason = 0, len = 0, rip = 0;
      if ((ret = hv_vcpu_run(vcpu)) != HV_SUCCESS) break;
      if ((ret = hv_vmx_vcpu_read_vmcs(vcpu, VMCS_RO_EXIT_REASON, &reason)) != HV_SUCCESS) break;
      if ((reason & 0xffff) != 30) continue;  // VMX_REASON_IO
      io++;
      if ((ret = hv_vmx_vcpu_read_vmcs(vcpu, VMCS_RO_VMEXIT_INSTR_LEN, &len)) != HV_SUCCESS) break;
      if ((ret = hv_vmx_vcpu_read_vmcs(vcpu, VMCS_GUEST_RIP, &rip)) != HV_SUCCESS) break;
      ret = hv_vmx_vcpu_write_vmcs(vcpu, VMCS_GUEST_RIP, rip + len);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    ns = static_cast<uint64_t>(b.tv_sec - a.tv_sec) * 1000000000ull + static_cast<uint64_t>(b.tv_nsec) -
         static_cast<uint64_t>(a.tv_nsec);
  });
  State *state = GetState(info.Env());
  state->out[0] = io;
  state->out[1] = ns;
  // The loop bypassed the exit record; its contents are stale for this vCPU now.
  if (uint64_t *slot = SlotOf(state, vcpu)) slot[kX86Mask] = 0;
  return Ret(info.Env(), ret);
}

int32_t FlavourDestroyVcpu(uint64_t handle) { return hv_vcpu_destroy(static_cast<hv_vcpuid_t>(handle)); }

void FlavourKick(const std::vector<uint64_t> &handles) {
  std::vector<hv_vcpuid_t> ids(handles.begin(), handles.end());
  if (!ids.empty()) hv_vcpu_interrupt(ids.data(), static_cast<unsigned int>(ids.size()));
}

int32_t FlavourDestroyVm() { return hv_vm_destroy(); }
void FlavourReleaseConfig(void *) {}
const char *FlavourArch() { return "x86_64"; }

void RegisterFlavour(Napi::Env env, Napi::Object exports) {
  struct Entry {
    const char *name;
    Napi::Value (*fn)(const Napi::CallbackInfo &);
  };
  static const Entry kEntries[] = {
      {"hv_capability", Capability},
      {"hv_vm_create", VmCreate},
      {"hv_vm_destroy", VmDestroy},
      {"hv_vm_space_create", VmSpaceCreate},
      {"hv_vm_space_destroy", VmSpaceDestroy},
      {"hv_vm_map", VmMap},
      {"hv_vm_unmap", VmUnmap},
      {"hv_vm_protect", VmProtect},
      {"hv_vm_map_space", VmMapSpace},
      {"hv_vm_unmap_space", VmUnmapSpace},
      {"hv_vm_protect_space", VmProtectSpace},
      {"hv_vcpu_create", VcpuCreate},
      {"hv_vcpu_destroy", VcpuDestroy},
      {"hv_vcpu_set_space", VcpuSetSpace},
      {"hv_vcpu_read_register", VcpuReadRegister},
      {"hv_vcpu_write_register", VcpuWriteRegister},
      {"hv_vmx_read_capability", VmxReadCapability},
      {"hv_vmx_vcpu_read_vmcs", VmxVcpuReadVmcs},
      {"hv_vmx_vcpu_write_vmcs", VmxVcpuWriteVmcs},
      {"hv_vcpu_run", VcpuRun},
      {"hv_vcpu_run_until", VcpuRunUntil},
      {"hv_vcpu_run_async", VcpuRunAsync},
      {"hv_vcpu_interrupt", VcpuInterrupt},
      {"baseline_exit_loop", BaselineExitLoop},
  };
  for (const Entry &e : kEntries) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
}

}  // namespace hvspec

#endif  // HVSPEC_X86
