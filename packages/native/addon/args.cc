// args.cc — reading JS arguments: a wrong type is a TypeError naming the parameter, never a crash.
#include "core.h"

#include <string>

namespace hvspec {

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

bool ArgBaseline(const Napi::CallbackInfo &info, uint64_t *t, uint32_t *vcpu, uint32_t *iterations) {
  return ArgThread(info, 0, t) && ArgU32(info, 1, "vcpu", vcpu) && ArgU32(info, 2, "iterations", iterations);
}

Napi::Object NumberTable(Napi::Env env, std::initializer_list<std::pair<const char *, double>> entries) {
  Napi::Object o = Napi::Object::New(env);
  for (const auto &[name, value] : entries) o.Set(name, Napi::Number::New(env, value));
  return o;
}

bool ThrowTypeError(Napi::Env env, const std::string &msg) {
  Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
  return false;
}

// napi_get_value_double answers napi_number_expected for anything but a number, so one N-API call
// both checks the type and reads the value (these run on every call, twice or more).
static bool NumberArg(const Napi::CallbackInfo &info, size_t i, double *d) {
  return napi_get_value_double(info.Env(), info[i], d) == napi_ok;
}

bool ArgThread(const Napi::CallbackInfo &info, size_t i, uint64_t *out) {
  double d = 0;
  if (NumberArg(info, i, &d) && d >= 0 && d <= 9007199254740991.0 &&
      d == static_cast<double>(static_cast<uint64_t>(d))) {
    *out = static_cast<uint64_t>(d);
    return true;
  }
  return ThrowTypeError(info.Env(), "t (logical thread) must be a non-negative integer, got " + Describe(info[i]));
}

bool ArgU32(const Napi::CallbackInfo &info, size_t i, const char *name, uint32_t *out) {
  double d = 0;
  if (NumberArg(info, i, &d) && d >= 0 && d <= 4294967295.0 && d == static_cast<double>(static_cast<uint32_t>(d))) {
    *out = static_cast<uint32_t>(d);
    return true;
  }
  return ThrowTypeError(info.Env(), std::string(name) + " must be an integer in [0, 2^32), got " + Describe(info[i]));
}

bool ArgSafeInt(const Napi::CallbackInfo &info, size_t i, const char *name, uint64_t *out) {
  Napi::Value v = info[i];
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (d >= 0 && d <= 9007199254740991.0 && d == static_cast<double>(static_cast<uint64_t>(d))) {
      *out = static_cast<uint64_t>(d);
      return true;
    }
  }
  return ThrowTypeError(info.Env(), std::string(name) + " must be a non-negative integer, got " + Describe(v));
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
  return ThrowTypeError(info.Env(), std::string(name) + " must be a bigint in [0, 2^64), got " + Describe(v));
}

bool ArgBool(const Napi::CallbackInfo &info, size_t i, const char *name, bool *out) {
  Napi::Value v = info[i];
  if (v.IsBoolean()) {
    *out = v.As<Napi::Boolean>().Value();
    return true;
  }
  return ThrowTypeError(info.Env(), std::string(name) + " must be a boolean, got " + Describe(v));
}

bool ArgHandleList(const Napi::CallbackInfo &info, size_t i, const char *name, size_t count_index,
                   std::vector<uint64_t> *out) {
  Napi::Value v = info[i];
  if (!v.IsArray()) return ThrowTypeError(info.Env(), std::string(name) + " must be an array of vCPU handles");
  Napi::Array array = v.As<Napi::Array>();
  uint32_t count = 0;
  if (!ArgU32(info, count_index, "vcpu_count", &count)) return false;
  if (count > array.Length())
    return ThrowTypeError(info.Env(), "vcpu_count must not exceed the length of " + std::string(name));
  out->clear();
  for (uint32_t k = 0; k < count; k++) {
    Napi::Value e = array.Get(k);
    double d = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0 && d <= 4294967295.0 && d == static_cast<double>(static_cast<uint32_t>(d))))
      return ThrowTypeError(info.Env(), std::string(name) + "[" + std::to_string(k) +
                                     "] must be an integer in [0, 2^32), got " + Describe(e));
    out->push_back(static_cast<uint64_t>(d));
  }
  return true;
}

bool ArgBytes(const Napi::CallbackInfo &info, size_t i, const char *name, std::vector<uint8_t> *out) {
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    return ThrowTypeError(info.Env(), std::string(name) + " must be a Uint8Array, got " + Describe(info[i]));
  Napi::Uint8Array bytes = info[i].As<Napi::Uint8Array>();
  out->assign(bytes.Data(), bytes.Data() + bytes.ByteLength());
  return true;
}

HostBuffer *ArgBuffer(const Napi::CallbackInfo &info, size_t i, const char *name) {
  uint32_t id = 0;
  if (!ArgU32(info, i, name, &id)) return nullptr;
  State *state = GetState(info);
  auto it = state->buffers.find(id);
  if (it == state->buffers.end()) {
    ThrowTypeError(info.Env(), std::string(name) + " is not a live host buffer of this backend (id " +
                            std::to_string(id) + ")");
    return nullptr;
  }
  return &it->second;
}

Napi::Value ResolvedRet(Napi::Env env, int32_t ret) {
  Napi::Promise::Deferred done = Napi::Promise::Deferred::New(env);
  done.Resolve(Ret(env, ret));
  return done.Promise();
}

}  // namespace hvspec
