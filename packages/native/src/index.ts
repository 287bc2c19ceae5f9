/**
 * `@hvspec/native` — the spec's backend interface over the real `hv_*` C API: Hypervisor.framework on
 * macOS, hvspec's KVM provider on Linux. When no hardware backend is usable, it says which check
 * failed and how to fix it.
 * @packageDocumentation
 */
import {
  type Arch,
  type Arm64Backend,
  type Capabilities,
  HV,
  HV_CAP,
  HV_VMX_CAP,
  type X86Backend,
} from '@hvspec/spec';
import { type AddonProbe, type Arm64Addon, loadAddon, type NativeAddon, type X86Addon } from './addon.js';
import { NativeArm64Backend } from './arm64.js';
import { deviationsFrom, flagSets } from './base.js';
import { NativeX86Backend } from './x86.js';

export { NativeArm64Backend } from './arm64.js';
export type { BaselineRun } from './base.js';
export { NativeX86Backend } from './x86.js';

/** Whether the native backend can run here, and if not, why and how to fix it. */
export interface NativeAvailability {
  readonly available: boolean;
  /** The hv_* flavour of this host, when the addon loaded. */
  readonly arch?: Arch;
  /** `native-kvm` or `native-hvf`, when the addon loaded. */
  readonly backend?: string;
  readonly reason?: string;
  readonly fix?: string;
}

const BUILD_FIX =
  'build the addon: run `npm ci` (or `npm rebuild @hvspec/native`) with a C++17 compiler, make and python3; ' +
  'Node headers come from the npm config `nodedir` (e.g. `nodedir=/usr` in ~/.npmrc when the distribution ships ' +
  '/usr/include/node)';

function probe(): { addon: NativeAddon; probe: AddonProbe } | NativeAvailability {
  const load = loadAddon();
  if (!load.ok) {
    return {
      available: false,
      reason: `the native addon is not built or does not load: ${load.error}`,
      fix: BUILD_FIX,
    };
  }
  return { addon: load.addon, probe: load.addon.probe() };
}

/**
 * Checks the addon, then the platform: on Linux `/dev/kvm` (present, permitted, usable by the KVM
 * provider); on macOS `kern.hv_support`, then `hv_vm_create` itself (HV_DENIED without the
 * `com.apple.security.hypervisor` entitlement, HV_UNSUPPORTED in a VM without nested virtualisation).
 */
export function nativeAvailability(): NativeAvailability {
  const p = probe();
  if (!('addon' in p)) return p;
  const { available, reason, fix, arch, backend } = p.probe;
  return available ? { available, arch, backend } : { available, arch, backend, reason, fix };
}

let current: NativeX86Backend | NativeArm64Backend | undefined;

/**
 * The native backend of this host. There is one per process (Apple allows one VM per process,
 * hvf-facts.md §0.3 [H]): later calls return the same object until it is closed.
 * Throws an Error with the reason and the fix when no hardware backend is usable here, or when
 * `arch` is not this host's flavour.
 */
export function createNativeBackend(arch?: Arch): X86Backend | Arm64Backend {
  const p = probe();
  if (!('addon' in p)) throw new Error(`native backend unavailable: ${p.reason}. Fix: ${p.fix}`);
  const { addon } = p;
  if (arch !== undefined && arch !== addon.arch) {
    throw new Error(`native backend unavailable: this host provides the ${addon.arch} hv_* API, not ${arch}`);
  }
  if (current !== undefined) return current;
  if (!p.probe.available) {
    throw new Error(
      `native backend unavailable (${p.probe.backend}): ${p.probe.reason}. Fix: ${p.probe.fix}`,
    );
  }
  const closed = (): void => {
    current = undefined;
  };
  current =
    addon.arch === 'x86_64'
      ? new NativeX86Backend(addon as X86Addon, x86Capabilities(addon as X86Addon, p.probe), closed)
      : new NativeArm64Backend(addon as Arm64Addon, arm64Capabilities(addon as Arm64Addon, p.probe), closed);
  return current;
}

function base(probe: AddonProbe): Omit<Capabilities, 'maxVcpus'> {
  return {
    backend: probe.backend,
    arch: probe.arch,
    pageSize: probe.arch === 'arm64' ? 16384 : 4096,
    guestExecution: true,
    enforcedPermissions: flagSets(probe.enforcedPermissionsMask),
    deviations: deviationsFrom(probe),
  };
}

/**
 * `vmxCapabilities` are read once here, through `hv_vmx_read_capability` on thread 0, without
 * creating a VM (the KVM provider answers without one). An id whose read fails (for example if a
 * framework wanted a VM first) is left out, and the spec then treats that capability as unknown.
 */
function x86Capabilities(addon: X86Addon, probe: AddonProbe): Capabilities {
  const out = new BigUint64Array(addon.out);
  const query = (cap: number): number | undefined =>
    addon.hv_capability(0, cap) === HV.HV_SUCCESS ? Number(out[0]) : undefined;
  const maxVcpus = query(HV_CAP.HV_CAP_VCPUMAX);
  const maxAddressSpaces = query(HV_CAP.HV_CAP_ADDRSPACEMAX);
  const vmxCapabilities: Record<number, bigint> = {};
  for (const id of Object.values(HV_VMX_CAP)) {
    if (addon.hv_vmx_read_capability(0, id) === HV.HV_SUCCESS) vmxCapabilities[id] = out[0] ?? 0n;
  }
  return {
    ...base(probe),
    maxVcpus: maxVcpus ?? 1,
    ...(maxAddressSpaces !== undefined ? { maxAddressSpaces } : {}),
    ...(Object.keys(vmxCapabilities).length > 0 ? { vmxCapabilities } : {}),
  };
}

function arm64Capabilities(addon: Arm64Addon, probe: AddonProbe): Capabilities {
  const out = new BigUint64Array(addon.out);
  const query = (ret: number): number | undefined => (ret === HV.HV_SUCCESS ? Number(out[0]) : undefined);
  const maxVcpus = query(addon.hv_vm_get_max_vcpu_count(0));
  const maxIpaSize = query(addon.hv_vm_config_get_max_ipa_size(0));
  const defaultIpaSize = query(addon.hv_vm_config_get_default_ipa_size(0));
  return {
    ...base(probe),
    maxVcpus: maxVcpus ?? 1,
    ...(maxIpaSize !== undefined ? { maxIpaSize } : {}),
    ...(defaultIpaSize !== undefined ? { defaultIpaSize } : {}),
    ipaGranule4k: addon.ipaGranuleAvailable === true,
  };
}
