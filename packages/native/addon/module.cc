// module.cc — the module: host buffers (page-aligned mmap, referenced by id), reset, probe, and the
// exports every flavour shares.
#include "core.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "faults.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>

#include <cstdlib>
#endif

namespace hvspec {

// host_alloc(size): TypeError for a size that is not a non-negative integer, RangeError for 0 or for
// more than kMaxHostAlloc after rounding to pages (the limit every backend shares, core.h), Error
// when the system refuses the memory (nothing is allocated then).
static Napi::Value HostAlloc(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  State *state = GetState(info);
  uint64_t size = 0;
  if (!ArgSafeInt(info, 0, "size", &size)) return env.Undefined();
  if (size == 0) {
    Napi::RangeError::New(env, "size must be at least 1 byte (a host region has at least one page)")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  uint64_t rounded = (size + state->page_size - 1) & ~static_cast<uint64_t>(state->page_size - 1);
  if (rounded > kMaxHostAlloc || rounded < size) {
    Napi::RangeError::New(env, "size " + std::to_string(size) + " exceeds the host buffer limit of " +
                                   std::to_string(kMaxHostAlloc) + " bytes")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  void *base = FaultFails(kFaultMmap)
                   ? MAP_FAILED
                   : mmap(nullptr, rounded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) {
    Napi::Error::New(env, "host_alloc: mmap of " + std::to_string(rounded) + " bytes failed: " + std::strerror(errno))
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  uint32_t id = state->next_buffer++;
  state->buffers[id] = HostBuffer{base, rounded};
  Napi::Array result = Napi::Array::New(info.Env(), 2);
  result.Set(0u, Napi::Number::New(info.Env(), id));
  result.Set(1u, Napi::Number::New(info.Env(), static_cast<double>(rounded)));
  return result;
}

static bool RangeOk(const Napi::CallbackInfo &info, const HostBuffer &b, uint64_t offset, uint64_t len) {
  if (offset > b.size || len > b.size - offset) {
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
  uint64_t offset = 0;
  if (!b || !ArgSafeInt(info, 1, "offset", &offset)) return info.Env().Undefined();
  if (!info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowTypeError(info.Env(), "bytes must be a Uint8Array");
    return info.Env().Undefined();
  }
  Napi::Uint8Array bytes = info[2].As<Napi::Uint8Array>();
  if (!RangeOk(info, *b, offset, bytes.ByteLength())) return info.Env().Undefined();
  if (bytes.ByteLength()) std::memcpy(static_cast<uint8_t *>(b->base) + offset, bytes.Data(), bytes.ByteLength());
  return info.Env().Undefined();
}

static Napi::Value HostRead(const Napi::CallbackInfo &info) {
  HostBuffer *b = ArgBuffer(info, 0, "mem");
  uint64_t offset = 0, size = 0;
  if (!b || !ArgSafeInt(info, 1, "offset", &offset) || !ArgSafeInt(info, 2, "size", &size)) return info.Env().Undefined();
  if (!RangeOk(info, *b, offset, size)) return info.Env().Undefined();
  // The copy's ArrayBuffer can be refused (memory): V8's RangeError is pending then and the array is
  // empty, so nothing may be copied into it.
  if (FaultFails(kFaultAlloc)) {
    Napi::RangeError::New(info.Env(), "Array buffer allocation failed").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  Napi::Uint8Array out = Napi::Uint8Array::New(info.Env(), size);
  if (info.Env().IsExceptionPending() || out.IsEmpty()) return info.Env().Undefined();
  if (size) std::memcpy(out.Data(), static_cast<uint8_t *>(b->base) + offset, size);
  return out;
}

static Napi::Value Reset(const Napi::CallbackInfo &info) {
  GetState(info)->Teardown();
  return info.Env().Undefined();
}

static Napi::Value Probe(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  State *state = GetState(info);
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
    Napi::Array reasons = Napi::Array::New(env, p.deviations[k].exit_reasons.size());
    for (size_t r = 0; r < p.deviations[k].exit_reasons.size(); r++)
      reasons.Set(static_cast<uint32_t>(r), Napi::Number::New(env, p.deviations[k].exit_reasons[r]));
    d.Set("exitReasons", reasons);
    devs.Set(static_cast<uint32_t>(k), d);
  }
  o.Set("deviations", devs);
  return o;
}

// Test-only hooks (faults.h): an object, not functions on the module, so that code calling every
// exported function (the fuzzer) cannot arm a fault by chance.
static Napi::Value InjectFaultJs(const Napi::CallbackInfo &info) {
  uint32_t site = 0, nth = 0, err = 0;
  if (!ArgU32(info, 0, "site", &site) || !ArgU32(info, 1, "nth", &nth) || !ArgU32(info, 2, "errno", &err))
    return info.Env().Undefined();
  if (site > kFaultTsfnCall) {
    ThrowTypeError(info.Env(), "site must be one of testing.sites");
    return info.Env().Undefined();
  }
  return Napi::Number::New(info.Env(), static_cast<double>(InjectFault(static_cast<int>(site), nth, static_cast<int>(err))));
}

// What the addon holds, for tests that check a failure left nothing behind.
static Napi::Value Counts(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  State *state = GetState(env);
  uint32_t slots = 0;
  for (bool used : state->slot_used) slots += used ? 1 : 0;
  Napi::Object o = Napi::Object::New(env);
  o.Set("threads", Napi::Number::New(env, static_cast<double>(state->threads.size())));
  o.Set("vcpus", Napi::Number::New(env, static_cast<double>(state->vcpus.size())));
  o.Set("slots", Napi::Number::New(env, slots));
  o.Set("buffers", Napi::Number::New(env, static_cast<double>(state->buffers.size())));
  o.Set("vm", Napi::Boolean::New(env, state->vm_created));
  return o;
}

static Napi::Object Testing(Napi::Env env) {
  Napi::Object testing = Napi::Object::New(env);
  testing.Set("inject_fault", Napi::Function::New(env, InjectFaultJs, "inject_fault"));
  testing.Set("sites", NumberTable(env, {{"none", kFaultNone}, {"any", kFaultAny}, {"thread", kFaultThread},
                                         {"alloc", kFaultAlloc}, {"mmap", kFaultMmap}, {"tsfn", kFaultTsfn},
                                         {"tsfn_call", kFaultTsfnCall}}));
  testing.Set("counts", Napi::Function::New(env, Counts, "counts"));
  PlatformTesting(env, testing);
  return testing;
}

static void CleanupHook(State *state) {
  state->Teardown();
  state->torn_down = true;
  // References made by napi_create_reference belong to the addon, even at exit: Node does not free
  // them with the environment (LeakSanitizer found these two).
  state->records_ref.Reset();
  state->out_ref.Reset();
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
#if defined(__SANITIZE_ADDRESS__)
  // The sanitizer build (scripts/sanitize.sh) preloads the ASan runtime into every process with
  // LeakSanitizer's own exit check off, since compilers and shells leak by design; a process that
  // loads the addon asks for the check itself.
  static const bool leak_check = std::atexit(__lsan_do_leak_check) == 0;
  (void)leak_check;
#endif
  State *state = new State(env);
  long page = sysconf(_SC_PAGESIZE);
  if (page > 0) state->page_size = static_cast<size_t>(page);
  env.SetInstanceData<State>(state);
  env.AddCleanupHook(CleanupHook, state);

  Napi::ArrayBuffer records = Napi::ArrayBuffer::New(env, kRecordWords * sizeof(uint64_t));
  std::memset(records.Data(), 0, records.ByteLength());
  state->records = static_cast<uint64_t *>(records.Data());
  state->records_ref = Napi::Persistent(records);
  Napi::ArrayBuffer out = Napi::ArrayBuffer::New(env, kOutWords * sizeof(uint64_t));
  state->out = static_cast<uint64_t *>(out.Data());
  state->out_ref = Napi::Persistent(out);

  exports.Set("records", records);
  exports.Set("out", out);
  exports.Set("runCallWord", Napi::Number::New(env, kRunCallWord));
  exports.Set("slotWords", Napi::Number::New(env, kSlotWords));
  exports.Set("slotAddonWords", Napi::Number::New(env, kSlotAddonWords));
  exports.Set("arch", Napi::String::New(env, FlavourArch()));
  Export(env, exports, "probe", Probe, state);
  Export(env, exports, "reset", Reset, state);
  Export(env, exports, "host_alloc", HostAlloc, state);
  Export(env, exports, "host_write", HostWrite, state);
  Export(env, exports, "host_read", HostRead, state);
  exports.Set("host_alloc_max", Napi::Number::New(env, static_cast<double>(kMaxHostAlloc)));
  exports.Set("testing", Testing(env));
  RegisterFlavour(env, exports, state);
  return exports;
}

}  // namespace hvspec

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return hvspec::Init(env, exports); }

NODE_API_MODULE(hvspec_native, InitModule)
