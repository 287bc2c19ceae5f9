/**
 * The backend interface: one interface per architecture whose methods are the `hv_*` functions, with
 * their C names and parameter order. Every method takes the logical thread that makes the call as its
 * first argument (thread 0 is the caller's own) and returns a {@link Result}: the numeric `hv_return_t`
 * plus any out-parameters. Nothing here throws for an API-level error; a wrong JS type is a
 * programmer error and throws `TypeError` naming the parameter.
 *
 * Backends: `@hvspec/model` (pure TypeScript) and `@hvspec/native` (Hypervisor.framework or the KVM
 * provider). The spec's conformance harness drives either through this interface.
 * @module
 */
import type { Arm64Calls, X86Calls } from './generated/backend-methods.js';
import type { Arm64ExitKind } from './guest/arm64/vmm.js';

/** The two API flavours of Hypervisor.framework. */
export type Arch = 'x86_64' | 'arm64';

/** A logical thread: 0 is the caller's own; others are created by the backend on first use. */
export type ThreadId = number;

declare const brand: unique symbol;
/** A number that only the call named in its brand makes: handles and objects are not interchangeable. */
export type Branded<B extends string> = number & { readonly [brand]: B };

/**
 * A vCPU handle (`hv_vcpuid_t` on x86, `hv_vcpu_t` on arm64). Only `hv_vcpu_create` makes one; tests
 * that need a stale or forged handle use {@link forgeVcpu}.
 */
export type Vcpu = Branded<'hv_vcpu'>;
/** An x86 guest-physical address-space id (`hv_vm_space_t`); 0 is `HV_VM_SPACE_DEFAULT`. */
export type AddressSpace = Branded<'hv_vm_space'>;
/** An arm64 `hv_vm_config_t` object; made only by `hv_vm_config_create`. */
export type VmConfig = Branded<'hv_vm_config'>;
/** An arm64 `hv_vcpu_config_t` object; made only by `hv_vcpu_config_create`. */
export type VcpuConfig = Branded<'hv_vcpu_config'>;
/** An arm64 `hv_gic_config_t` object; made only by `hv_gic_config_create`. */
export type GicConfig = Branded<'hv_gic_config'>;
/** An arm64 `hv_gic_state_t` object; made only by `hv_gic_state_create`. */
export type GicState = Branded<'hv_gic_state'>;

/** Turns a number into a handle without a parent: for traces, probes and misuse tests only. */
export function forgeVcpu(id: number): Vcpu {
  return id as Vcpu;
}
/** Turns a number into an address-space id without a parent: for traces, probes and misuse tests only. */
export function forgeSpace(id: number): AddressSpace {
  return id as AddressSpace;
}

/** A host memory buffer allocated by the backend (page aligned; lives while mapped). */
export interface HostMemory {
  /** Backend-unique id of the buffer. */
  readonly id: number;
  /** Size in bytes (a multiple of the host page size). */
  readonly size: number;
}

/** A host user virtual address: a buffer and a byte offset into it, in place of a raw `uva` pointer. */
export interface Uva {
  readonly mem: HostMemory;
  readonly offset: number;
}

/** What every call returns: the `hv_return_t` (unsigned 32-bit) and the out-parameter, if any. */
export interface Result<T = undefined> {
  readonly ret: number;
  /** The out-parameter. Present only when `ret` is HV_SUCCESS, except where a rule says otherwise. */
  readonly value?: T;
}

/** The arm64 `hv_vcpu_exit_t` record, as `hv_vcpu_run` leaves it. */
export interface Arm64Exit {
  readonly reason: number;
  readonly exception: {
    readonly syndrome: bigint;
    readonly virtual_address: bigint;
    readonly physical_address: bigint;
  };
}

/**
 * A documented way in which a backend does not do what the spec says, declared up front so that a
 * conformance run can tell "deviation" from "failure".
 */
export interface Deviation {
  /** Stable id, e.g. `kvm.exec-only`. */
  readonly id: string;
  /** What differs and why. */
  readonly description: string;
  /** The memory-permission sets the backend cannot enforce faithfully, when that is the deviation. */
  readonly permissions?: readonly number[];
  /**
   * x86: basic exit reasons (`VMX_REASON_*`) this backend never reports, because what causes them is
   * handled elsewhere (e.g. guest exceptions or CPUID handled by the host kernel). A trace expecting one
   * is *unsupported* there, not failed.
   */
  readonly exitReasons?: readonly number[];
  /**
   * arm64: exit kinds (the spec's names, `ARM64_EXIT_KINDS`: exits to the VMM, and exceptions the
   * guest takes itself and reports) this backend never produces as the spec predicts them — the
   * implementation legitimately behaves otherwise (a WFE that completes instead of trapping) or is known
   * to get that rule wrong. The harness generates no guest program that needs one, and a trace step that
   * expects one (its `expect.kind`) is *unsupported* there, not failed.
   */
  readonly arm64ExitKinds?: readonly Arm64ExitKind[];
  /**
   * `hv_*` functions this backend answers with an error where the spec predicts another result: ones
   * it does not provide (as a host without them: no `hv_gic_*` before macOS 15, or el2 without a GIC)
   * and ones whose effect cannot be had here (the guest TSC on a host without TSC offsetting). The
   * harness takes HV_UNSUPPORTED from them as that deviation (state unchanged, the row not counted as
   * covered); a replayed trace step of one whose expectation fails is *unsupported* there, not failed.
   */
  readonly calls?: readonly string[];
}

/** What a backend is and can do. The spec reads its environment (page size, limits) from here. */
export interface Capabilities {
  /** A short name, e.g. `model`, `native-kvm`, `native-hvf`. */
  readonly backend: string;
  readonly arch: Arch;
  /** Host page size in bytes: 4096 on x86, 16384 on Apple Silicon. */
  readonly pageSize: number;
  /** Maximum number of vCPUs per VM (`HV_CAP_VCPUMAX` / `hv_vm_get_max_vcpu_count`). */
  readonly maxVcpus: number;
  /** Whether `hv_vcpu_run` executes guest code. */
  readonly guestExecution: boolean;
  /** The flag sets (0..7) whose permissions guest accesses see exactly as specified. */
  readonly enforcedPermissions: readonly number[];
  /** Documented deviations from the spec. */
  readonly deviations: readonly Deviation[];
  /** arm64: the largest IPA size `hv_vm_config_set_ipa_size` accepts (host dependent). */
  readonly maxIpaSize?: number;
  /** arm64: the default IPA size (36 bits on current hosts). */
  readonly defaultIpaSize?: number;
  /** arm64: whether the 4 KiB IPA granule (macOS 26+) is available. */
  readonly ipaGranule4k?: boolean;
  /** arm64: `hv_vm_config_get_el2_supported` — whether guests may run with EL2 (macOS 15+, M3 and later). */
  readonly el2Supported?: boolean;
  /** arm64: the in-framework GICv3 (`hv_gic_*`, macOS 15+) and its parameters; absent: no `hv_gic`. */
  readonly gic?: GicParameters;
  /** x86: `hv_vmx_read_capability` values by capability id, as this host reports them. */
  readonly vmxCapabilities?: Readonly<Record<number, bigint>>;
  /** x86: `HV_CAP_ADDRSPACEMAX`. */
  readonly maxAddressSpaces?: number;
}

/**
 * What the `hv_gic_get_*` parameter queries answer on a host (hvf-facts.md §2.7: runtime values), in
 * bytes and INTIDs.
 */
export interface GicParameters {
  readonly distributorSize: number;
  readonly distributorBaseAlignment: number;
  /** The whole redistributor region: one redistributor per vCPU the VM supports. */
  readonly redistributorRegionSize: number;
  /** One redistributor: two 64 KiB frames (§2.7 [H]). */
  readonly redistributorSize: number;
  readonly redistributorBaseAlignment: number;
  readonly msiRegionSize: number;
  readonly msiRegionBaseAlignment: number;
  /** `hv_gic_get_spi_interrupt_range`: the first SPI INTID and how many there are. */
  readonly spiBase: number;
  readonly spiCount: number;
}

/** Calls shared by both flavours, plus host-memory management (not `hv_*` calls). */
export interface BackendBase {
  readonly capabilities: Capabilities;
  /** Allocates a page-aligned, zeroed host buffer of `size` bytes (rounded up to the page size). */
  host_alloc(size: number): HostMemory;
  /** Copies bytes into a host buffer. Throws RangeError outside the buffer. */
  host_write(mem: HostMemory, offset: number, bytes: Uint8Array): void;
  /** Copies bytes out of a host buffer. Throws RangeError outside the buffer. */
  host_read(mem: HostMemory, offset: number, size: number): Uint8Array;
  /**
   * Releases every VM, vCPU, thread and buffer the backend holds, as process exit would. The backend
   * is usable again afterwards, in the "no VM" state.
   */
  reset(): Promise<void>;
  /** Releases everything for good. */
  close(): Promise<void>;
}

/**
 * The x86_64 flavour (Intel Macs; the KVM provider on Linux). Its `hv_*` methods come from the registry
 * (`generated/backend-methods.ts`).
 */
export interface X86Backend extends BackendBase, X86Calls {
  readonly arch: 'x86_64';
}

/**
 * The arm64 flavour (Apple Silicon). Its `hv_*` methods come from the registry
 * (`generated/backend-methods.ts`); the exit record is the value of every `hv_vcpu_run`.
 */
export interface Arm64Backend extends BackendBase, Arm64Calls {
  readonly arch: 'arm64';
}

/** Either flavour. */
export type Backend = X86Backend | Arm64Backend;
