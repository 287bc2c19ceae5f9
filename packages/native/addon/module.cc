// module.cc — the module: host buffers (page-aligned mmap, referenced by id), reset, probe, and the
// exports every flavour shares.
#include "core.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

namespace hvspec {

static Napi::Value HostAlloc(const Napi::CallbackInfo &info) {
  State *state = GetState(info);
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
  uint32_t offset = 0, size = 0;
  if (!b || !ArgU32(info, 1, "offset", &offset) || !ArgU32(info, 2, "size", &size)) return info.Env().Undefined();
  if (!RangeOk(info, *b, offset, size)) return info.Env().Undefined();
  Napi::Uint8Array out = Napi::Uint8Array::New(info.Env(), size);
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
  RegisterFlavour(env, exports, state);
  return exports;
}

}  // namespace hvspec

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return hvspec::Init(env, exports); }

NODE_API_MODULE(hvspec_native, InitModule)
