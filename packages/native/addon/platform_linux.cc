// platform_linux.cc — availability and capabilities on Linux, from hvspec's KVM provider
// (hvspec/kvm_provider.h). The only file of the addon that calls hvkvm_ extensions.
#include "hv_api.h"

#ifdef HVSPEC_LINUX

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

}  // namespace hvspec

#endif  // HVSPEC_LINUX
