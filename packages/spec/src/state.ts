/**
 * The specification's state: what the framework holds for one process, as far as the spec can know it.
 * Values the spec cannot know (registers never written, host-chosen handles) are absent until observed.
 * The conformance harness uses this as its fast-check model; the rules read and update it.
 * @module
 */
import type { Arch, Capabilities, GicParameters, ThreadId } from './backend.js';

/** A guest-physical range with its permissions. Ranges in one address space are disjoint. */
export interface Mapping {
  /** First guest-physical (x86) / intermediate-physical (arm64) address. */
  readonly addr: bigint;
  readonly size: bigint;
  readonly flags: number;
  /** Host buffer id and byte offset of the first page. */
  readonly mem: number;
  readonly offset: number;
}

/** What the spec knows about the host environment, read from the backend's capabilities. */
export interface SpecEnv {
  readonly arch: Arch;
  readonly pageSize: number;
  readonly maxVcpus: number;
  readonly maxIpaSize: number;
  readonly defaultIpaSize: number;
  readonly ipaGranule4k: boolean;
  /** arm64: guests may run with EL2 (`hv_vm_config_get_el2_supported`). */
  readonly el2Supported: boolean;
  /** arm64: the host's `hv_gic` parameters; undefined on a host without `hv_gic` (before macOS 15). */
  readonly gic: GicParameters | undefined;
  readonly maxAddressSpaces: number;
  readonly vmxCapabilities: Readonly<Record<number, bigint>>;
  /** Whether `hv_vcpu_run` executes guest code (rows about what follows a run count only then). */
  readonly guestExecution?: boolean;
}

/** One vCPU as the spec tracks it. */
export interface SpecVcpu {
  readonly handle: number;
  readonly owner: ThreadId;
  /** Register values the spec knows (written by the VMM or observed), by register number. */
  readonly regs: Map<number, bigint>;
  /** x86: VMCS fields known; arm64: system registers known. */
  readonly fields: Map<number, bigint>;
  /** arm64 SIMD/FP registers known. */
  readonly simd: Map<number, bigint>;
  /** A pending `hv_vcpus_exit` / `hv_vcpu_interrupt`. */
  cancel: boolean;
  /** arm64 pending interrupt lines: [IRQ, FIQ]. */
  readonly pending: [boolean, boolean];
  vtimerMask: boolean;
  vtimerOffset: bigint;
  trapDebugExceptions: boolean;
  trapDebugRegAccesses: boolean;
  /** x86 address space the vCPU uses. */
  space: number;
  /** Whether the vCPU has ever returned from a run (the exit fields are defined). */
  ran: boolean;
  /** The largest `hv_vcpu_get_exec_time` seen: cumulative time never goes down. */
  execTime: bigint;
  /** x86 MSRs made native with `hv_vcpu_enable_native_msr` (their RDMSR/WRMSR do not exit). */
  readonly nativeMsrs: Set<number>;
  /**
   * x86: VMCS_CTRL_CPU_BASED2 as the VMM last wrote it with a judged call (forgotten after a guest
   * program, whose set-up writes the controls itself). Whether VMCS shadowing is enabled depends on it.
   */
  cpuBased2: bigint | undefined;
  /** x86 shadow VMCS: the access the VMM granted per field (`hv_vmx_vcpu_set_shadow_access`). */
  readonly shadowAccess: Map<number, bigint>;
  /** x86 shadow VMCS: field values the spec knows (written by the VMM since the last guest run). */
  readonly shadow: Map<number, bigint>;
  /**
   * arm64: whether the VMM wrote one of the vCPU's feature ID registers (op0 3, op1 0, CRn 0, CRm 1..7).
   * The guest then reads that value, but the core behaves as it is: the registers no longer tell what
   * the core implements.
   */
  idRegsWritten: boolean;
  /** arm64: whether the VMM wrote MPIDR_EL1 (`hv_gic_get_redistributor_base` must come after, §2.7 [H]). */
  mpidrWritten: boolean;
}

/** An arm64 `hv_vm_config_t` as the spec tracks it. */
export interface SpecVmConfig {
  /** undefined = never set (the VM then uses the default IPA size). */
  ipaSize: number | undefined;
  /** undefined = not set (default granule: 16 KiB). */
  granule: number | undefined;
  /** undefined = never set (`hv_vm_config_set_el2_enabled`). */
  el2Enabled: boolean | undefined;
}

/** An arm64 `hv_gic_config_t` as the spec tracks it: bases as last set (undefined: never set). */
export interface SpecGicConfig {
  distributorBase: bigint | undefined;
  redistributorBase: bigint | undefined;
  msiRegionBase: bigint | undefined;
  /** [base, count] as last set. */
  msiRange: readonly [number, number] | undefined;
}

/** The VM's GIC (`hv_gic_create`), with what the spec remembers of its state blobs. */
export interface SpecGic {
  readonly distributorBase: bigint;
  readonly redistributorBase: bigint;
  /** The MSI frame's base and INTID range, when both were configured (§2.7 [H]). */
  readonly msi: { readonly base: bigint; readonly intidBase: number; readonly count: number } | undefined;
  /** Blobs `hv_gic_state_get_data` returned for this GIC (what `hv_gic_set_state` may restore). */
  readonly blobs: Uint8Array[];
}

/** An `hv_gic_state_t`: the GIC it was taken from, and its size once read. */
export interface SpecGicState {
  readonly gic: SpecGic;
  size: bigint | undefined;
}

/** The VM, when one exists. */
export interface SpecVm {
  /** Stage-2 granule in bytes: 4096 on x86; 16384 or 4096 on arm64. */
  readonly granule: number;
  /** Addresses must be below this (arm64: 2^ipa_size; x86: 2^64). */
  readonly addrLimit: bigint;
  /** Mappings by address space (x86: 0 = default plus created spaces; arm64: only 0). */
  readonly spaces: Map<number, Mapping[]>;
  /** arm64: guests of this VM may run at EL2 (`hv_vm_config_set_el2_enabled`). */
  el2?: boolean;
  /** arm64: the in-framework GIC, once `hv_gic_create` made it. */
  gic?: SpecGic;
  /** arm64: some vCPU of this VM was created (`hv_gic_create` must come before, §2.7 [H]). */
  vcpusCreated?: boolean;
  /** arm64: some vCPU of this VM returned from a run (`hv_gic_set_state` must come before, §2.7 [H]). */
  ran?: boolean;
  /** arm64: a run of a vCPU of this VM failed: whether it entered the guest is not known. */
  mayHaveRun?: boolean;
}

/** The whole process, as the spec sees it. */
export interface SpecState {
  readonly env: SpecEnv;
  vm: SpecVm | null;
  /** Live vCPUs by the handle the backend returned. */
  readonly vcpus: Map<number, SpecVcpu>;
  /** Handles of destroyed vCPUs (stale handles the harness may pass). */
  readonly stale: Set<number>;
  /** arm64 config objects by handle. */
  readonly configs: Map<number, SpecVmConfig>;
  /** arm64 `hv_vcpu_config_t` objects by handle (they hold nothing the spec models). */
  readonly vcpuConfigs: Set<number>;
  /** arm64 `hv_gic_config_t` objects by handle. */
  readonly gicConfigs: Map<number, SpecGicConfig>;
  /** arm64 `hv_gic_state_t` objects by handle. */
  readonly gicStates: Map<number, SpecGicState>;
  /** arm64 host memory from `hv_vm_allocate` still allocated, by buffer id: its size. */
  readonly allocations: Map<number, number>;
  /** Host buffers by id: size in bytes. */
  readonly buffers: Map<number, number>;
}

/** The spec's environment from a backend's declared capabilities. */
export function envFromCapabilities(caps: Capabilities): SpecEnv {
  return {
    arch: caps.arch,
    pageSize: caps.pageSize,
    maxVcpus: caps.maxVcpus,
    maxIpaSize: caps.maxIpaSize ?? 40,
    defaultIpaSize: caps.defaultIpaSize ?? 36,
    ipaGranule4k: caps.ipaGranule4k ?? false,
    el2Supported: caps.el2Supported ?? false,
    gic: caps.gic,
    maxAddressSpaces: caps.maxAddressSpaces ?? 1,
    vmxCapabilities: caps.vmxCapabilities ?? {},
    guestExecution: caps.guestExecution,
  };
}

/** A process with no VM. */
export function initialState(env: SpecEnv): SpecState {
  return {
    env,
    vm: null,
    vcpus: new Map(),
    stale: new Set(),
    configs: new Map(),
    vcpuConfigs: new Set(),
    gicConfigs: new Map(),
    gicStates: new Map(),
    allocations: new Map(),
    buffers: new Map(),
  };
}

/** A fresh vCPU record. */
export function newVcpu(handle: number, owner: ThreadId): SpecVcpu {
  return {
    handle,
    owner,
    regs: new Map(),
    fields: new Map(),
    simd: new Map(),
    cancel: false,
    pending: [false, false],
    vtimerMask: false,
    vtimerOffset: 0n,
    trapDebugExceptions: false,
    trapDebugRegAccesses: false,
    space: 0,
    ran: false,
    execTime: 0n,
    nativeMsrs: new Set(),
    cpuBased2: undefined,
    shadowAccess: new Map(),
    shadow: new Map(),
    idRegsWritten: false,
    mpidrWritten: false,
  };
}

/**
 * What a run that entered the guest does to the spec's knowledge of a vCPU: the guest may have changed
 * any register, the exit fields are now defined, and pending IRQ/FIQ lines are cleared when the run
 * returns (hvf-facts §2.4 [H]; on x86 they are never set).
 */
export function afterGuestRun(v: SpecVcpu): void {
  v.regs.clear();
  v.fields.clear();
  v.simd.clear();
  // A guest with VMCS shadowing may VMWRITE the fields the VMM gave it write access to.
  v.shadow.clear();
  // The guest-program commands set the controls up for their mode themselves, outside the judged calls.
  v.cpuBased2 = undefined;
  v.pending[0] = false;
  v.pending[1] = false;
  v.ran = true;
}

/** The vCPU a thread owns, if any. */
export function vcpuOwnedBy(state: SpecState, t: ThreadId): SpecVcpu | undefined {
  for (const v of state.vcpus.values()) if (v.owner === t) return v;
  return undefined;
}
