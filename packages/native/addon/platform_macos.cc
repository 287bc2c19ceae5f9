// platform_macos.cc — availability on macOS (Hypervisor.framework), both API flavours.
// macOS-only: NOT run on this project's Linux machines, reviewed only, and compiled syntax-only on
// Linux by scripts/syntax-check-macos.sh against hvspec's own declarations of Apple's API.
#include "hv_api.h"

#ifdef HVSPEC_MACOS

#include <sys/sysctl.h>

#include <cstdio>

#include "core.h"

namespace hvspec {

static const char kEntitlementPlist[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
    "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
    "<plist version=\"1.0\"><dict><key>com.apple.security.hypervisor</key><true/></dict></plist>";

static std::string Hex(int32_t ret) {
  char buf[16];
  snprintf(buf, sizeof buf, "0x%08x", static_cast<uint32_t>(ret));
  return buf;
}

// Creating and destroying a VM is the only reliable probe: the entitlement (HV_DENIED) and nested
// virtualisation (HV_UNSUPPORTED) are only checked by hv_vm_create (hvf-facts.md §0.3 [T/R]).
static int32_t TryCreateVm() {
#ifdef HVSPEC_ARM64
  int32_t ret = hv_vm_create(nullptr);
#else
  int32_t ret = hv_vm_create(HV_VM_DEFAULT);
#endif
  if (ret == HV_SUCCESS) hv_vm_destroy();
  return ret;
}

// Every per-vCPU call "must be called by the owning thread" (hvf-facts.md §1.2, §2.4 [H]); the code
// for a violation is undocumented (§3 [U]) and a cross-thread hv_vcpu_destroy was reported to panic
// the host (§5.17 [R]). The addon runs each call on the logical thread the caller names, so a call
// naming another thread than the vCPU's owner never reaches the framework: HV_BAD_ARGUMENT, which
// the spec's loose rule accepts (packages/native/README.md, "Guards"). Handles the addon does not
// know are passed through; the framework judges them.
bool OwnerOk(State *state, uint64_t vcpu, uint64_t t) {
  auto it = state->vcpus.find(vcpu);
  return it == state->vcpus.end() || it->second.owner == t;
}

PlatformInfo PlatformProbe() {
  PlatformInfo p;
  p.backend = "native-hvf";
  p.enforced_permissions_mask = 0xff;  // the framework enforces every R/W/X combination (§0.2 [H])
  int support = 0;
  size_t len = sizeof support;
  // kern.hv_support: 1 when the CPU and OS support Hypervisor.framework (§0.3 [H]).
  if (sysctlbyname("kern.hv_support", &support, &len, nullptr, 0) != 0 || support != 1) {
    p.reason = "this Mac does not support Hypervisor.framework (sysctl kern.hv_support is not 1)";
    p.fix = "run on a Mac whose CPU supports virtualisation (Apple Silicon, or an Intel Mac with VT-x and EPT); "
            "inside a macOS VM, enable nested virtualisation in the host";
    return p;
  }
  int32_t ret = TryCreateVm();
  if (ret == HV_SUCCESS || ret == HV_BUSY) {  // HV_BUSY: this process already holds a VM (§3 [T])
    p.available = true;
    return p;
  }
  if (ret == HV_DENIED) {
    p.reason = "hv_vm_create returned HV_DENIED (0xfae94007): the node binary lacks the "
               "com.apple.security.hypervisor entitlement";
    p.fix = std::string("write ent.plist containing\n") + kEntitlementPlist +
            "\nthen sign the node executable with it (ad hoc): codesign --sign - --entitlements ent.plist "
            "--force \"$(node -p process.execPath)\" (process.execPath is the real file, not a symlink "
            "such as Homebrew's; better: sign a copy of node and use that copy for hvspec)";
    return p;
  }
  if (ret == HV_UNSUPPORTED) {
    p.reason = "hv_vm_create returned HV_UNSUPPORTED (0xfae9400f): this macOS runs in a virtual machine "
               "without nested virtualisation (typical of hosted CI runners)";
    p.fix = "run on bare-metal macOS, or on a VM host that offers nested virtualisation (Apple Silicon M3 or "
            "later with macOS 15+ as host)";
    return p;
  }
  p.reason = "hv_vm_create returned " + Hex(ret);
  p.fix = "check Console.app for hypervisor messages; make sure no other process or kernel extension "
          "holds the hypervisor";
  return p;
}

#ifdef HVSPEC_ARM64
// hv_vm_config_*_ipa_granule exist from macOS 26.0 (§2.3 [H]) and are weak-linked below that
// (§5.13 [H]); calling one that is absent would jump to address 0. See hv_api.h.
bool PlatformIpaGranuleAvailable() {
#if HVSPEC_SDK_AT_LEAST(260000)
  HVSPEC_IF_AVAILABLE(macOS 26.0) return true;
#endif
  return false;  // older macOS, or an SDK older than 26 that does not even declare the functions
}
#endif

// No test-only hooks beyond the addon's own (faults.h): the framework cannot be made to fail.
void PlatformTesting(Napi::Env, Napi::Object) {}

}  // namespace hvspec

#endif  // HVSPEC_MACOS
