// hv_arm64_calls.cc — the arm64 hv_* API (Hypervisor.framework on Apple Silicon).
// Apple Silicon only: NOT run on this project's Linux machines, reviewed only, and compiled
// syntax-only on Linux by scripts/syntax-check-macos.sh against include/hvspec/hv_arm64.h.
//
// Every function takes the logical thread first and returns the hv_return_t as an unsigned Number;
// out-values go to the shared `out` words.
#include "hv_api.h"

#ifdef HVSPEC_ARM64

#include <cstddef>
#include <cstring>
#include <time.h>

#include "core.h"

namespace hvspec {

bool PlatformIpaGranuleAvailable();  // platform_macos.cc

// The exit record slot starts with a copy of the framework's hv_vcpu_exit_t (hvf-facts.md §2.1 [H]):
// word 0 reason (low 32 bits), 1 syndrome, 2 virtual_address, 3 physical_address. Word 4 is 1 when
// the copy is from a successful run; word 6 counts runs.
static_assert(offsetof(hv_vcpu_exit_t, reason) == 0, "hv_vcpu_exit_t.reason @0");
static_assert(sizeof(hv_exit_reason_t) == 4, "hv_exit_reason_t is a uint32_t enum");
static_assert(offsetof(hv_vcpu_exit_t, exception) == 8, "hv_vcpu_exit_t.exception @8");
static_assert(offsetof(hv_vcpu_exit_t, exception.syndrome) == 8, "syndrome @8");
static_assert(offsetof(hv_vcpu_exit_t, exception.virtual_address) == 16, "virtual_address @16");
static_assert(offsetof(hv_vcpu_exit_t, exception.physical_address) == 24, "physical_address @24");
static_assert(sizeof(hv_vcpu_exit_t) == 32, "hv_vcpu_exit_t is 32 bytes");
// hv_simd_fp_uchar16_t is a 16-byte vector (§2.1 [H]); its bytes are copied as they lie in memory.
static_assert(sizeof(hv_simd_fp_uchar16_t) == 16, "hv_simd_fp_uchar16_t is 16 bytes");
enum : uint32_t { kArmValid = 4, kArmRuns = 6 };

static void FillExit(const void *exit_ptr, int32_t ret, uint64_t *slot) {
  if (slot == nullptr) return;
  if (ret == HV_SUCCESS && exit_ptr != nullptr) {
    std::memset(slot, 0, sizeof(hv_vcpu_exit_t));
    std::memcpy(slot, exit_ptr, sizeof(hv_vcpu_exit_t));
    slot[kArmValid] = 1;
  } else {
    slot[kArmValid] = 0;
  }
  slot[kArmRuns] += 1;
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
#define BOOL(i, name, var) \
  bool var = false;        \
  if (!ArgBool(info, i, name, &var)) return info.Env().Undefined()
#define DISPATCH(t, ...) \
  if (!Dispatch(info, t, [&] __VA_ARGS__)) return info.Env().Undefined()

// hv_vm_config_t objects are never handed to JS: JS holds a small id (VmConfig). An id the addon
// never issued is HV_BAD_ARGUMENT (the spec's decision for a forged config), never a wild pointer.
static bool ConfigOf(State *state, uint32_t id, hv_vm_config_t *out) {
  auto it = state->configs.find(id);
  if (it == state->configs.end()) return false;
  *out = static_cast<hv_vm_config_t>(it->second);
  return true;
}

// Every per-vCPU call "must be called by the owning thread" (hvf-facts.md §2.4 [H]; the code for a
// violation is undocumented, §3 [U], and a cross-thread hv_vcpu_destroy was reported to panic the host,
// §5.17 [R]). The addon runs each call on the logical thread the caller names, so a call naming another
// thread than the vCPU's owner never reaches the framework: HV_BAD_ARGUMENT, the spec's code for it
// (decisions.md). Handles the addon does not know are passed through; the framework judges them.
static bool NotOwner(State *state, uint64_t vcpu, uint64_t t) {
  auto it = state->vcpus.find(vcpu);
  return it != state->vcpus.end() && it->second.owner != t;
}
#define OWNER(t, vcpu) \
  if (NotOwner(GetState(info.Env()), vcpu, t)) return Ret(info.Env(), HV_BAD_ARGUMENT)

HV_FN(GetMaxVcpuCount) {
  THREAD(t);
  int32_t ret = 0;
  uint32_t value = 0;
  DISPATCH(t, { ret = hv_vm_get_max_vcpu_count(&value); });
  GetState(info.Env())->out[0] = value;
  return Ret(info.Env(), ret);
}

HV_FN(ConfigGetMaxIpaSize) {
  THREAD(t);
  int32_t ret = 0;
  uint32_t value = 0;
  DISPATCH(t, { ret = hv_vm_config_get_max_ipa_size(&value); });
  GetState(info.Env())->out[0] = value;
  return Ret(info.Env(), ret);
}

HV_FN(ConfigGetDefaultIpaSize) {
  THREAD(t);
  int32_t ret = 0;
  uint32_t value = 0;
  DISPATCH(t, { ret = hv_vm_config_get_default_ipa_size(&value); });
  GetState(info.Env())->out[0] = value;
  return Ret(info.Env(), ret);
}

HV_FN(ConfigCreate) {
  THREAD(t);
  hv_vm_config_t config = nullptr;
  DISPATCH(t, { config = hv_vm_config_create(); });
  if (config == nullptr) return Ret(info.Env(), HV_NO_RESOURCES);  // the C call has no code of its own
  State *state = GetState(info.Env());
  uint32_t id = state->next_config++;
  state->configs[id] = config;
  state->out[0] = id;
  return Ret(info.Env(), HV_SUCCESS);
}

HV_FN(ConfigSetIpaSize) {
  THREAD(t);
  U32(1, "config", id);
  U32(2, "ipa_bit_length", bits);
  hv_vm_config_t config = nullptr;
  if (!ConfigOf(GetState(info.Env()), id, &config)) return Ret(info.Env(), HV_BAD_ARGUMENT);
  int32_t ret = 0;
  DISPATCH(t, { ret = hv_vm_config_set_ipa_size(config, bits); });
  return Ret(info.Env(), ret);
}

HV_FN(ConfigGetIpaSize) {
  THREAD(t);
  U32(1, "config", id);
  hv_vm_config_t config = nullptr;
  if (!ConfigOf(GetState(info.Env()), id, &config)) return Ret(info.Env(), HV_BAD_ARGUMENT);
  int32_t ret = 0;
  uint32_t value = 0;
  DISPATCH(t, { ret = hv_vm_config_get_ipa_size(config, &value); });
  GetState(info.Env())->out[0] = value;
  return Ret(info.Env(), ret);
}

HV_FN(ConfigSetIpaGranule) {
  THREAD(t);
  U32(1, "config", id);
  U32(2, "granule", granule);
  hv_vm_config_t config = nullptr;
  if (!ConfigOf(GetState(info.Env()), id, &config)) return Ret(info.Env(), HV_BAD_ARGUMENT);
  // macOS < 26 (or an SDK < 26): the function is absent, HV_UNSUPPORTED (see hv_api.h).
  int32_t ret = HV_UNSUPPORTED;
#if HVSPEC_SDK_HAS_IPA_GRANULE
  DISPATCH(t, {
    if (HVSPEC_IPA_GRANULE_AVAILABLE())
      ret = hv_vm_config_set_ipa_granule(config, static_cast<hv_ipa_granule_t>(granule));
  });
#else
  (void)t, (void)config, (void)granule;
#endif
  return Ret(info.Env(), ret);
}

HV_FN(ConfigGetIpaGranule) {
  THREAD(t);
  U32(1, "config", id);
  hv_vm_config_t config = nullptr;
  if (!ConfigOf(GetState(info.Env()), id, &config)) return Ret(info.Env(), HV_BAD_ARGUMENT);
  int32_t ret = HV_UNSUPPORTED;
#if HVSPEC_SDK_HAS_IPA_GRANULE
  uint64_t value = 0;
  DISPATCH(t, {
    if (HVSPEC_IPA_GRANULE_AVAILABLE()) {
      // hv_ipa_granule_t is an OS_ENUM: a distinct C++ type, so no `= 0` (hv_arm64.h).
      hv_ipa_granule_t granule = HV_IPA_GRANULE_16KB;
      ret = hv_vm_config_get_ipa_granule(config, &granule);
      value = static_cast<uint64_t>(granule);
    }
  });
  GetState(info.Env())->out[0] = value;
#else
  (void)t, (void)config;
#endif
  return Ret(info.Env(), ret);
}

HV_FN(VmCreate) {  // (t, config id | null)
  THREAD(t);
  hv_vm_config_t config = nullptr;
  if (!info[1].IsNull()) {
    U32(1, "config", id);
    if (!ConfigOf(GetState(info.Env()), id, &config)) return Ret(info.Env(), HV_BAD_ARGUMENT);
  }
  int32_t ret = 0;
  DISPATCH(t, { ret = hv_vm_create(config); });
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

HV_FN(VmMap) {  // (t, mem, offset, ipa, size, flags)
  THREAD(t);
  U64(3, "ipa", ipa);
  U64(4, "size", size);
  U32(5, "flags", flags);
  HostBuffer *b = ArgBuffer(info, 1, "uva.mem");
  if (b == nullptr) return info.Env().Undefined();  // TypeError pending: no second throw
  U32(2, "uva.offset", offset);
  // A range outside the buffer would map memory the addon does not own: refused, HV_BAD_ARGUMENT.
  if (offset > b->size || size > b->size - offset) return Ret(info.Env(), HV_BAD_ARGUMENT);
  void *addr = static_cast<uint8_t *>(b->base) + offset;
  int32_t ret = 0;
  DISPATCH(t, { ret = hv_vm_map(addr, ipa, static_cast<size_t>(size), flags); });
  return Ret(info.Env(), ret);
}

HV_FN(VmUnmap) {
  THREAD(t);
  U64(1, "ipa", ipa);
  U64(2, "size", size);
  int32_t ret = 0;
  DISPATCH(t, { ret = hv_vm_unmap(ipa, static_cast<size_t>(size)); });
  return Ret(info.Env(), ret);
}

HV_FN(VmProtect) {
  THREAD(t);
  U64(1, "ipa", ipa);
  U64(2, "size", size);
  U32(3, "flags", flags);
  int32_t ret = 0;
  DISPATCH(t, { ret = hv_vm_protect(ipa, static_cast<size_t>(size), flags); });
  return Ret(info.Env(), ret);
}

HV_FN(VcpuCreate) {
  THREAD(t);
  State *state = GetState(info.Env());
  int slot = state->AllocSlot();
  if (slot < 0) return Ret(info.Env(), HV_NO_RESOURCES);
  int32_t ret = 0;
  hv_vcpu_t vcpu = 0;
  hv_vcpu_exit_t *exit = nullptr;
  if (!Dispatch(info, t, [&] { ret = hv_vcpu_create(&vcpu, &exit, nullptr); })) {
    state->FreeSlot(static_cast<uint32_t>(slot));
    return info.Env().Undefined();
  }
  if (ret != HV_SUCCESS) {
    state->FreeSlot(static_cast<uint32_t>(slot));
    return Ret(info.Env(), ret);
  }
  auto old = state->vcpus.find(vcpu);
  if (old != state->vcpus.end()) state->FreeSlot(old->second.slot);
  state->vcpus[vcpu] = VcpuEntry{vcpu, t, static_cast<uint32_t>(slot), exit};
  state->out[0] = vcpu;
  state->out[1] = static_cast<uint64_t>(slot);
  return Ret(info.Env(), ret);
}

HV_FN(VcpuDestroy) {
  THREAD(t);
  U32(1, "vcpu", vcpu);
  // A cross-thread hv_vcpu_destroy was reported to panic the host kernel (hvf-facts.md §3, §5.17
  // [R]); it never reaches the framework.
  OWNER(t, vcpu);
  State *state = GetState(info.Env());
  int32_t ret = 0;
  DISPATCH(t, { ret = hv_vcpu_destroy(vcpu); });
  auto it = state->vcpus.find(vcpu);
  if (ret == HV_SUCCESS && it != state->vcpus.end()) {
    state->FreeSlot(it->second.slot);
    state->vcpus.erase(it);
  }
  return Ret(info.Env(), ret);
}

HV_FN(GetReg) {
  THREAD(t);
  U32(1, "vcpu", vcpu);
  U32(2, "reg", reg);
  OWNER(t, vcpu);
  int32_t ret = 0;
  uint64_t value = 0;
  DISPATCH(t, { ret = hv_vcpu_get_reg(vcpu, static_cast<hv_reg_t>(reg), &value); });
  GetState(info.Env())->out[0] = value;
  return Ret(info.Env(), ret);
}

HV_FN(SetReg) {
  THREAD(t);
  U32(1, "vcpu", vcpu);
  U32(2, "reg", reg);
  U64(3, "value", value);
  OWNER(t, vcpu);
  int32_t ret = 0;
  DISPATCH(t, { ret = hv_vcpu_set_reg(vcpu, static_cast<hv_reg_t>(reg), value); });
  return Ret(info.Env(), ret);
}

HV_FN(GetSimdFpReg) {  // value: out[0] low 64 bits, out[1] high 64 bits
  THREAD(t);
  U32(1, "vcpu", vcpu);
  U32(2, "reg", reg);
  OWNER(t, vcpu);
  int32_t ret = 0;
  hv_simd_fp_uchar16_t value = {};
  DISPATCH(t, { ret = hv_vcpu_get_simd_fp_reg(vcpu, static_cast<hv_simd_fp_reg_t>(reg), &value); });
  std::memcpy(GetState(info.Env())->out, &value, 16);
  return Ret(info.Env(), ret);
}

HV_FN(SetSimdFpReg) {  // (t, vcpu, reg, low, high)
  THREAD(t);
  U32(1, "vcpu", vcpu);
  U32(2, "reg", reg);
  U64(3, "value (low 64 bits)", low);
  U64(4, "value (high 64 bits)", high);
  OWNER(t, vcpu);
  hv_simd_fp_uchar16_t value;
  uint64_t words[2] = {low, high};
  std::memcpy(&value, words, 16);
  int32_t ret = 0;
  DISPATCH(t, { ret = hv_vcpu_set_simd_fp_reg(vcpu, static_cast<hv_simd_fp_reg_t>(reg), value); });
  return Ret(info.Env(), ret);
}

// hv_sys_reg_t is a uint16_t enum (§2.2 [H]): a wider value cannot be passed without truncating it
// into some other register, so it is HV_BAD_ARGUMENT here (the spec's code for an unknown sys reg).
HV_FN(GetSysReg) {
  THREAD(t);
  U32(1, "vcpu", vcpu);
  U32(2, "reg", reg);
  OWNER(t, vcpu);
  if (reg > 0xffff) return Ret(info.Env(), HV_BAD_ARGUMENT);
  int32_t ret = 0;
  uint64_t value = 0;
  DISPATCH(t, { ret = hv_vcpu_get_sys_reg(vcpu, static_cast<hv_sys_reg_t>(reg), &value); });
  GetState(info.Env())->out[0] = value;
  return Ret(info.Env(), ret);
}

HV_FN(SetSysReg) {
  THREAD(t);
  U32(1, "vcpu", vcpu);
  U32(2, "reg", reg);
  U64(3, "value", value);
  OWNER(t, vcpu);
  if (reg > 0xffff) return Ret(info.Env(), HV_BAD_ARGUMENT);
  int32_t ret = 0;
  DISPATCH(t, { ret = hv_vcpu_set_sys_reg(vcpu, static_cast<hv_sys_reg_t>(reg), value); });
  return Ret(info.Env(), ret);
}

HV_FN(GetPendingInterrupt) {
  THREAD(t);
  U32(1, "vcpu", vcpu);
  U32(2, "type", type);
  OWNER(t, vcpu);
  int32_t ret = 0;
  bool value = false;
  DISPATCH(t, { ret = hv_vcpu_get_pending_interrupt(vcpu, static_cast<hv_interrupt_type_t>(type), &value); });
  GetState(info.Env())->out[0] = value ? 1 : 0;
  return Ret(info.Env(), ret);
}

HV_FN(SetPendingInterrupt) {
  THREAD(t);
  U32(1, "vcpu", vcpu);
  U32(2, "type", type);
  BOOL(3, "pending", pending);
  OWNER(t, vcpu);
  int32_t ret = 0;
  DISPATCH(t, { ret = hv_vcpu_set_pending_interrupt(vcpu, static_cast<hv_interrupt_type_t>(type), pending); });
  return Ret(info.Env(), ret);
}

// The bool getters/setters differ only in the function they call.
using BoolGetter = hv_return_t (*)(hv_vcpu_t, bool *);
using BoolSetter = hv_return_t (*)(hv_vcpu_t, bool);

static Napi::Value GetBool(const Napi::CallbackInfo &info, BoolGetter fn) {
  THREAD(t);
  U32(1, "vcpu", vcpu);
  OWNER(t, vcpu);
  int32_t ret = 0;
  bool value = false;
  DISPATCH(t, { ret = fn(vcpu, &value); });
  GetState(info.Env())->out[0] = value ? 1 : 0;
  return Ret(info.Env(), ret);
}

static Napi::Value SetBool(const Napi::CallbackInfo &info, BoolSetter fn, const char *name) {
  THREAD(t);
  U32(1, "vcpu", vcpu);
  BOOL(2, name, value);
  OWNER(t, vcpu);
  int32_t ret = 0;
  DISPATCH(t, { ret = fn(vcpu, value); });
  return Ret(info.Env(), ret);
}

HV_FN(GetVtimerMask) { return GetBool(info, hv_vcpu_get_vtimer_mask); }
HV_FN(SetVtimerMask) { return SetBool(info, hv_vcpu_set_vtimer_mask, "vtimer_is_masked"); }
HV_FN(GetTrapDebugExceptions) { return GetBool(info, hv_vcpu_get_trap_debug_exceptions); }
HV_FN(SetTrapDebugExceptions) { return SetBool(info, hv_vcpu_set_trap_debug_exceptions, "value"); }
HV_FN(GetTrapDebugRegAccesses) { return GetBool(info, hv_vcpu_get_trap_debug_reg_accesses); }
HV_FN(SetTrapDebugRegAccesses) { return SetBool(info, hv_vcpu_set_trap_debug_reg_accesses, "value"); }

HV_FN(GetVtimerOffset) {
  THREAD(t);
  U32(1, "vcpu", vcpu);
  OWNER(t, vcpu);
  int32_t ret = 0;
  uint64_t value = 0;
  DISPATCH(t, { ret = hv_vcpu_get_vtimer_offset(vcpu, &value); });
  GetState(info.Env())->out[0] = value;
  return Ret(info.Env(), ret);
}

HV_FN(SetVtimerOffset) {
  THREAD(t);
  U32(1, "vcpu", vcpu);
  U64(2, "vtimer_offset", value);
  OWNER(t, vcpu);
  int32_t ret = 0;
  DISPATCH(t, { ret = hv_vcpu_set_vtimer_offset(vcpu, value); });
  return Ret(info.Env(), ret);
}

static const void *ExitPtrOf(State *state, uint64_t vcpu, uint64_t **slot) {
  auto it = state->vcpus.find(vcpu);
  if (it == state->vcpus.end()) {
    *slot = nullptr;
    return nullptr;
  }
  *slot = state->Slot(it->second.slot);
  return it->second.exit_ptr;
}

HV_FN(VcpuRun) {
  THREAD(t);
  U32(1, "vcpu", vcpu);
  OWNER(t, vcpu);
  uint64_t *slot = nullptr;
  const void *exit_ptr = ExitPtrOf(GetState(info.Env()), vcpu, &slot);
  int32_t ret = 0;
  DISPATCH(t, {
    ret = hv_vcpu_run(vcpu);
    FillExit(exit_ptr, ret, slot);
  });
  return Ret(info.Env(), ret);
}

HV_FN(VcpuRunAsync) {
  THREAD(t);
  U32(1, "vcpu", vcpu);
  // The wrong-thread answer of OWNER, as the Promise the caller awaits (t == 0 is StartAsync's
  // TypeError-like refusal, checked there).
  if (t != 0 && NotOwner(GetState(info.Env()), vcpu, t)) {
    Napi::Promise::Deferred done = Napi::Promise::Deferred::New(info.Env());
    done.Resolve(Ret(info.Env(), HV_BAD_ARGUMENT));
    return done.Promise();
  }
  uint64_t *slot = nullptr;
  const void *exit_ptr = ExitPtrOf(GetState(info.Env()), vcpu, &slot);
  return StartAsync(info, t, [vcpu, exit_ptr, slot]() -> int32_t {
    int32_t ret = hv_vcpu_run(vcpu);
    FillExit(exit_ptr, ret, slot);
    return ret;
  });
}

HV_FN(VcpusExit) {  // (t, vcpus[], vcpu_count)
  THREAD(t);
  std::vector<uint64_t> list;
  if (!ArgHandleList(info, 1, "vcpus", 2, &list)) return info.Env().Undefined();
  // hv_vcpus_exit(hv_vcpu_t *vcpus, uint32_t vcpu_count), any thread (hvf-facts.md §2.4 [H]). The
  // array holds exactly vcpu_count 64-bit IDs; with a count of 0 the framework still gets a valid
  // pointer (an empty vector's data() may be null).
  std::vector<hv_vcpu_t> ids(list.begin(), list.end());
  hv_vcpu_t none = 0;
  hv_vcpu_t *array = ids.empty() ? &none : ids.data();
  int32_t ret = 0;
  DISPATCH(t, { ret = hv_vcpus_exit(array, static_cast<uint32_t>(ids.size())); });
  return Ret(info.Env(), ret);
}

// The bench's C baseline (DESIGN.md "Bench"): hv_vcpu_run in a loop on the owner thread over a guest
// that does `hvc #0; b .-4`, counting EXCEPTION exits with EC 0x16 (HVC64). The PC is already past an
// HVC when the run returns (hvf-facts.md §2.8 [T]), so nothing is advanced. out[0] = HVC exits,
// out[1] = nanoseconds in the loop.
HV_FN(BaselineExitLoop) {  // (t, vcpu, iterations)
  THREAD(t);
  U32(1, "vcpu", vcpu);
  U32(2, "iterations", iterations);
  OWNER(t, vcpu);
  uint64_t *slot = nullptr;
  const hv_vcpu_exit_t *exit = static_cast<const hv_vcpu_exit_t *>(ExitPtrOf(GetState(info.Env()), vcpu, &slot));
  if (exit == nullptr) return Ret(info.Env(), HV_BAD_ARGUMENT);  // not a vCPU this addon created
  int32_t ret = HV_SUCCESS;
  uint64_t hvc = 0, ns = 0;
  DISPATCH(t, {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (uint32_t i = 0; i < iterations; i++) {
      if ((ret = hv_vcpu_run(vcpu)) != HV_SUCCESS) break;
      if (exit->reason == HV_EXIT_REASON_EXCEPTION && ((exit->exception.syndrome >> 26) & 0x3f) == 0x16) hvc++;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    ns = static_cast<uint64_t>(b.tv_sec - a.tv_sec) * 1000000000ull + static_cast<uint64_t>(b.tv_nsec) -
         static_cast<uint64_t>(a.tv_nsec);
  });
  State *state = GetState(info.Env());
  state->out[0] = hvc;
  state->out[1] = ns;
  if (slot != nullptr) slot[kArmValid] = 0;
  return Ret(info.Env(), ret);
}

int32_t FlavourDestroyVcpu(uint64_t handle) { return hv_vcpu_destroy(static_cast<hv_vcpu_t>(handle)); }

void FlavourKick(const std::vector<uint64_t> &handles) {
  std::vector<hv_vcpu_t> ids(handles.begin(), handles.end());
  if (!ids.empty()) hv_vcpus_exit(ids.data(), static_cast<uint32_t>(ids.size()));
}

int32_t FlavourDestroyVm() { return hv_vm_destroy(); }
void FlavourReleaseConfig(void *config) { os_release(config); }
const char *FlavourArch() { return "arm64"; }

void RegisterFlavour(Napi::Env env, Napi::Object exports) {
  struct Entry {
    const char *name;
    Napi::Value (*fn)(const Napi::CallbackInfo &);
  };
  static const Entry kEntries[] = {
      {"hv_vm_get_max_vcpu_count", GetMaxVcpuCount},
      {"hv_vm_config_get_max_ipa_size", ConfigGetMaxIpaSize},
      {"hv_vm_config_get_default_ipa_size", ConfigGetDefaultIpaSize},
      {"hv_vm_config_create", ConfigCreate},
      {"hv_vm_config_set_ipa_size", ConfigSetIpaSize},
      {"hv_vm_config_get_ipa_size", ConfigGetIpaSize},
      {"hv_vm_config_set_ipa_granule", ConfigSetIpaGranule},
      {"hv_vm_config_get_ipa_granule", ConfigGetIpaGranule},
      {"hv_vm_create", VmCreate},
      {"hv_vm_destroy", VmDestroy},
      {"hv_vm_map", VmMap},
      {"hv_vm_unmap", VmUnmap},
      {"hv_vm_protect", VmProtect},
      {"hv_vcpu_create", VcpuCreate},
      {"hv_vcpu_destroy", VcpuDestroy},
      {"hv_vcpu_get_reg", GetReg},
      {"hv_vcpu_set_reg", SetReg},
      {"hv_vcpu_get_simd_fp_reg", GetSimdFpReg},
      {"hv_vcpu_set_simd_fp_reg", SetSimdFpReg},
      {"hv_vcpu_get_sys_reg", GetSysReg},
      {"hv_vcpu_set_sys_reg", SetSysReg},
      {"hv_vcpu_get_pending_interrupt", GetPendingInterrupt},
      {"hv_vcpu_set_pending_interrupt", SetPendingInterrupt},
      {"hv_vcpu_get_vtimer_mask", GetVtimerMask},
      {"hv_vcpu_set_vtimer_mask", SetVtimerMask},
      {"hv_vcpu_get_vtimer_offset", GetVtimerOffset},
      {"hv_vcpu_set_vtimer_offset", SetVtimerOffset},
      {"hv_vcpu_get_trap_debug_exceptions", GetTrapDebugExceptions},
      {"hv_vcpu_set_trap_debug_exceptions", SetTrapDebugExceptions},
      {"hv_vcpu_get_trap_debug_reg_accesses", GetTrapDebugRegAccesses},
      {"hv_vcpu_set_trap_debug_reg_accesses", SetTrapDebugRegAccesses},
      {"hv_vcpu_run", VcpuRun},
      {"hv_vcpu_run_async", VcpuRunAsync},
      {"hv_vcpus_exit", VcpusExit},
      {"baseline_exit_loop", BaselineExitLoop},
  };
  for (const Entry &e : kEntries) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
  exports.Set("ipaGranuleAvailable", Napi::Boolean::New(env, PlatformIpaGranuleAvailable()));
}

}  // namespace hvspec

#endif  // HVSPEC_ARM64
