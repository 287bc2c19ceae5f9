// hv_arm64_calls.cc — the arm64 hv_* API (Hypervisor.framework on Apple Silicon).
// Apple Silicon only: NOT run on this project's Linux machines, reviewed only, and compiled
// syntax-only on Linux by scripts/syntax-check-macos.sh against hvspec's generated
// include/Hypervisor headers.
//
// Every function takes the logical thread first and returns the hv_return_t as an unsigned Number;
// out-values go to the shared `out` words.
#include "hv_api.h"

#ifdef HVSPEC_ARM64

#include <cstddef>
#include <cstring>

#include "core.h"

namespace hvspec {

bool PlatformIpaGranuleAvailable();  // platform_macos.cc

// The exit record slot starts with a copy of the framework's hv_vcpu_exit_t (hvf-facts.md §2.1 [H]):
// word 0 reason (low 32 bits), 1 syndrome, 2 virtual_address, 3 physical_address. Word 4 is 1 when
// the copy is from a successful run; word 7 counts runs (word 6 is kDeferredWord, unused on arm64).
static_assert(offsetof(hv_vcpu_exit_t, reason) == 0, "hv_vcpu_exit_t.reason @0");
static_assert(sizeof(hv_exit_reason_t) == 4, "hv_exit_reason_t is a uint32_t enum");
static_assert(offsetof(hv_vcpu_exit_t, exception) == 8, "hv_vcpu_exit_t.exception @8");
static_assert(offsetof(hv_vcpu_exit_t, exception.syndrome) == 8, "syndrome @8");
static_assert(offsetof(hv_vcpu_exit_t, exception.virtual_address) == 16, "virtual_address @16");
static_assert(offsetof(hv_vcpu_exit_t, exception.physical_address) == 24, "physical_address @24");
static_assert(sizeof(hv_vcpu_exit_t) == 32, "hv_vcpu_exit_t is 32 bytes");
// hv_simd_fp_uchar16_t is a 16-byte vector (§2.1 [H]); its bytes are copied as they lie in memory.
static_assert(sizeof(hv_simd_fp_uchar16_t) == 16, "hv_simd_fp_uchar16_t is 16 bytes");
enum : uint32_t { kArmValid = 4, kArmRuns = 7 };

// The arm64 wrapper defers no writes (src/arm64.ts): the word is always 0.
hv_return_t FlavourApplyDeferred(uint64_t, uint64_t *slot) {
  slot[kDeferredWord] = 0;
  return HV_SUCCESS;
}

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

// OS objects (configs, GIC state) are never handed to JS: JS holds a small id. An id the addon never
// issued, or one of another kind of object, is HV_BAD_ARGUMENT (the spec's loose code for a forged
// object), never a wild pointer.
bool ConfigArg(State *state, uint32_t id, uint32_t kind, void **out) {
  auto it = state->configs.find(id);
  if (it == state->configs.end() || it->second.kind != kind) return false;
  *out = it->second.object;
  return true;
}

// A byte of storage for `const void *` arguments of zero bytes: the framework gets a valid pointer.
static const uint8_t kNoBytes = 0;

#include "generated/calls_arm64.inc"

// ---- Entry points with addon state around the call ------------------------------------------------

// hv_vm_deallocate frees only what hv_vm_allocate made, whole: the framework would unmap whatever
// host memory the range covers (the spec marks the other cases dangerous), so the addon refuses them
// itself with HV_BAD_ARGUMENT, and forgets the buffer once the framework has freed it.
static Napi::Value js_hv_vm_deallocate(const Napi::CallbackInfo &info) {
  hv_vm_deallocate_call c;
  if (!c.Read(info)) return info.Env().Undefined();
  State *s = GetState(info.Env());
  if (!c.uva_buffer->framework || c.uva_offset != 0 || c.size != c.uva_buffer->size)
    return Ret(info.Env(), HV_BAD_ARGUMENT);
  hv_return_t ret = c.Check(s);
  if (ret != HV_SUCCESS) return Ret(info.Env(), ret);
  hv_return_t ran = RunOn(s, c.t, [&] { ret = c.Invoke(); });
  if (ran != HV_SUCCESS) return Finish(info.Env(), s, c.t, ran);
  if (ret == HV_SUCCESS)
    for (auto it = s->buffers.begin(); it != s->buffers.end(); ++it)
      if (&it->second == c.uva_buffer) {
        s->buffers.erase(it);
        break;
      }
  return Finish(info.Env(), s, c.t, ret);
}

// The bytes of the last call that returned some (hv_gic_state_get_data), as a Uint8Array.
static Napi::Value TakeBytes(const Napi::CallbackInfo &info) {
  State *s = GetState(info.Env());
  Napi::Uint8Array out = Napi::Uint8Array::New(info.Env(), s->out_bytes.size());
  if (!s->out_bytes.empty()) std::memcpy(out.Data(), s->out_bytes.data(), s->out_bytes.size());
  s->out_bytes.clear();
  return out;
}

static Napi::Value js_hv_vm_create(const Napi::CallbackInfo &info) { return VmEntry<hv_vm_create_call>(info, true); }
static Napi::Value js_hv_vm_destroy(const Napi::CallbackInfo &info) { return VmEntry<hv_vm_destroy_call>(info, false); }
static Napi::Value js_hv_vcpu_create(const Napi::CallbackInfo &info) {
  return VcpuCreateEntry<hv_vcpu_create_call>(info, [](const hv_vcpu_create_call &c) -> const void * { return c.exit; });
}
static Napi::Value js_hv_vcpu_destroy(const Napi::CallbackInfo &info) {
  return VcpuDestroyEntry<hv_vcpu_destroy_call>(info);
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

static Napi::Value js_hv_vcpu_run(const Napi::CallbackInfo &info) {
  hv_vcpu_run_call c;
  State *state = GetState(info);
  return CallEntry(
      info, c,
      [&](hv_return_t ret, VcpuEntry *v) {
        FillExit(v == nullptr ? nullptr : v->exit_ptr, ret, v == nullptr ? nullptr : state->Slot(v->slot));
      },
      [](State *, hv_return_t) {});
}

static Napi::Value js_hv_vcpu_run_async(const Napi::CallbackInfo &info) {
  hv_vcpu_run_call c;
  State *state = GetState(info);
  if (Napi::Value refused = AsyncRefusal(info, c, state); !refused.IsEmpty()) return refused;
  uint64_t *slot = nullptr;
  const void *exit_ptr = ExitPtrOf(state, c.vcpu, &slot);
  hv_vcpu_t vcpu = c.vcpu;
  return StartAsync(info, c.t, [vcpu, exit_ptr, slot]() -> int32_t {
    int32_t ret = hv_vcpu_run(vcpu);
    FillExit(exit_ptr, ret, slot);
    return ret;
  });
}

// The bench's C baseline (DESIGN.md "Bench"): hv_vcpu_run in a loop on the owner thread over a guest
// that does `hvc #0; b .-4`, counting EXCEPTION exits with EC 0x16 (HVC64). The PC is already past an
// HVC when the run returns (hvf-facts.md §2.8 [T]), so nothing is advanced. out[0] = HVC exits,
// out[1] = nanoseconds in the loop.
static Napi::Value BaselineExitLoop(const Napi::CallbackInfo &info) {  // (t, vcpu, iterations)
  uint64_t t = 0;
  uint32_t vcpu = 0, iterations = 0;
  if (!ArgBaseline(info, &t, &vcpu, &iterations)) return info.Env().Undefined();
  State *state = GetState(info);
  if (!OwnerOk(state, vcpu, t)) return Ret(info.Env(), HV_BAD_ARGUMENT);
  uint64_t *slot = nullptr;
  const hv_vcpu_exit_t *exit = static_cast<const hv_vcpu_exit_t *>(ExitPtrOf(state, vcpu, &slot));
  if (exit == nullptr) return Ret(info.Env(), HV_BAD_ARGUMENT);  // not a vCPU this addon created
  int32_t ret = HV_SUCCESS;
  uint64_t hvc = 0;
  hv_return_t ran = RunBaseline(state, t, hvc, [&] {
    for (uint32_t i = 0; i < iterations; i++) {
      if ((ret = hv_vcpu_run(vcpu)) != HV_SUCCESS) break;
      if (exit->reason == HV_EXIT_REASON_EXCEPTION && ((exit->exception.syndrome >> 26) & 0x3f) == 0x16) hvc++;
    }
  });
  if (ran != HV_SUCCESS) return Finish(info.Env(), state, t, ran);
  if (slot != nullptr) slot[kArmValid] = 0;
  return Finish(info.Env(), state, t, ret);
}

int32_t FlavourDestroyVcpu(uint64_t handle) { return hv_vcpu_destroy(static_cast<hv_vcpu_t>(handle)); }

void FlavourKick(const std::vector<uint64_t> &handles) {
  std::vector<hv_vcpu_t> ids(handles.begin(), handles.end());
  if (!ids.empty()) hv_vcpus_exit(ids.data(), static_cast<uint32_t>(ids.size()));
}

int32_t FlavourDestroyVm() { return hv_vm_destroy(); }
void FlavourReleaseConfig(void *config) { os_release(config); }
void FlavourDeallocate(void *base, size_t size) { hv_vm_deallocate(base, size); }
const char *FlavourArch() { return "arm64"; }

void RegisterFlavour(Napi::Env env, Napi::Object exports, State *state) {
  for (const ExportEntry &e : kGeneratedCalls) Export(env, exports, e.name, e.fn, state);
  Export(env, exports, "baseline_exit_loop", BaselineExitLoop, state);
  exports.Set("ipaGranuleAvailable", Napi::Boolean::New(env, PlatformIpaGranuleAvailable()));
  exports.Set("take_bytes", Napi::Function::New(env, TakeBytes, "take_bytes"));
}

}  // namespace hvspec

#endif  // HVSPEC_ARM64
