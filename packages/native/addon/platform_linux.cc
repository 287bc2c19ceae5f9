// platform_linux.cc — availability and capabilities on Linux, from hvspec's KVM provider
// (hvspec/kvm_provider.h). The only file of the addon that calls hvkvm_ extensions.
#include "hv_api.h"

#ifdef HVSPEC_LINUX

#include <linux/kvm.h>

#include "core.h"

namespace hvspec {

// The KVM provider refuses a per-vCPU call from another thread itself (provider/README.md), so the
// addon lets every call through and the conformance tests judge the provider's answer.
bool OwnerOk(State *, uint64_t, uint64_t) { return true; }

PlatformInfo PlatformProbe() {
  PlatformInfo p;
  p.backend = "native-kvm";
  char why[512] = {0};
  if (hvkvm_available(why, sizeof why) != 0) {
    p.available = false;
    // The provider's text says what is missing and how to fix it, in one sentence ("...; add your
    // user to the 'kvm' group ..."); split it so callers can show the fix on its own.
    std::string text(why[0] ? why : "/dev/kvm is not usable");
    size_t sep = text.find("; ");
    p.reason = sep == std::string::npos ? text : text.substr(0, sep);
    p.fix = sep == std::string::npos
                ? "use a Linux host with KVM enabled (/dev/kvm present, readable and writable by this user)"
                : text.substr(sep + 2);
  } else {
    p.available = true;
  }
  p.enforced_permissions_mask = hvkvm_enforced_permissions_mask();
  const hvkvm_deviation_t *list = nullptr;
  size_t n = hvkvm_deviations(&list);
  for (size_t i = 0; i < n && list != nullptr; i++) {
    PlatformDeviation d;
    d.id = list[i].id ? list[i].id : "";
    d.description = list[i].description ? list[i].description : "";
    d.permissions_mask = list[i].permissions_mask;
    for (size_t k = 0; k < list[i].exit_reason_count && list[i].exit_reasons != nullptr; k++)
      d.exit_reasons.push_back(list[i].exit_reasons[k]);
    p.deviations.push_back(d);
  }
  return p;
}

// testing.inject_provider_fault(site, request, nth, errno) → hvkvm_inject_fault (kvm_provider.h), so
// that the addon's tests can fail the provider's OS calls under the JS API.
static Napi::Value InjectProviderFault(const Napi::CallbackInfo &info) {
  uint32_t site = 0, nth = 0, err = 0;
  double request = 0;
  if (!ArgU32(info, 0, "site", &site)) return info.Env().Undefined();
  if (!info[1].IsNumber()) {
    ThrowTypeError(info.Env(), "request must be a number (an ioctl request, or 0)");
    return info.Env().Undefined();
  }
  request = info[1].As<Napi::Number>().DoubleValue();
  if (!ArgU32(info, 2, "nth", &nth) || !ArgU32(info, 3, "errno", &err)) return info.Env().Undefined();
  unsigned long counted = hvkvm_inject_fault(static_cast<int>(site), static_cast<unsigned long>(request), nth, static_cast<int>(err));
  return Napi::Number::New(info.Env(), static_cast<double>(counted));
}

void PlatformTesting(Napi::Env env, Napi::Object testing) {
  testing.Set("inject_provider_fault", Napi::Function::New(env, InjectProviderFault, "inject_provider_fault"));
  testing.Set("provider_sites", NumberTable(env, {{"none", HVKVM_FAULT_NONE}, {"any", HVKVM_FAULT_ANY},
                                                  {"open", HVKVM_FAULT_OPEN}, {"mmap", HVKVM_FAULT_MMAP},
                                                  {"ioctl", HVKVM_FAULT_IOCTL}, {"alloc", HVKVM_FAULT_ALLOC}}));
  // The requests a test fails one kind of ioctl by (the standard <linux/kvm.h> numbers).
  testing.Set("kvm", NumberTable(env, {{"KVM_CREATE_VM", KVM_CREATE_VM}, {"KVM_CREATE_VCPU", KVM_CREATE_VCPU},
                                       {"KVM_RUN", KVM_RUN}, {"KVM_GET_REGS", KVM_GET_REGS},
                                       {"KVM_SET_USER_MEMORY_REGION", KVM_SET_USER_MEMORY_REGION}}));
}

}  // namespace hvspec

#endif  // HVSPEC_LINUX
