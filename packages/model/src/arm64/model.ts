/**
 * The arm64 flavour of the model: `hv_*` calls over real state (VM configs, stage-2 mappings, vCPUs with
 * register files, pending interrupts, vtimer state, debug-trap flags), with guest code run by an injected
 * {@link Arm64Engine}.
 *
 * Check order and codes: see core.ts and packages/model/README.md ("What the model answers").
 * @module
 */

import type {
  Arm64Backend,
  Arm64Exit,
  Capabilities,
  Result,
  ThreadId,
  Uva,
  Vcpu,
  VmConfig,
} from '@hvspec/spec';
import {
  ARM64_ARG_CHECKS,
  checkAsyncThread,
  checkU32,
  HV,
  HV_EXIT_REASON,
  HV_INTERRUPT_TYPE,
  HV_IPA_GRANULE,
  HV_MEMORY_RWX,
  HV_REG,
  HV_REG_COUNT,
  HV_SIMD_FP_REG_COUNT,
  IPA_SIZE_DEFAULT,
  isKnownSysReg,
} from '@hvspec/spec';
import type { ModelOptions, UnsupportedInstruction } from '../core.js';
import { ALL_PERMISSION_SETS, BUSY, fail, kick, ModelCore, ok, SUCCESS, slicedRun } from '../core.js';
import type { Arm64Engine, Arm64Region, Arm64RunContext, Arm64Stop } from '../engine.js';
import { MappingTable } from '../mappings.js';
import { type Arm64Cpu, initialArm64Cpu } from './state.js';

const PAGE_16K = 16384;
const GRANULE_BYTES: Record<number, bigint> = {
  [HV_IPA_GRANULE.HV_IPA_GRANULE_4KB]: 4096n,
  [HV_IPA_GRANULE.HV_IPA_GRANULE_16KB]: 16384n,
};

/** The registry's boolean accessors of a vCPU, by the shape of their arguments. */
type FlagGetter =
  | 'hv_vcpu_get_vtimer_mask'
  | 'hv_vcpu_get_trap_debug_exceptions'
  | 'hv_vcpu_get_trap_debug_reg_accesses';
type FlagSetter =
  | 'hv_vcpu_set_vtimer_mask'
  | 'hv_vcpu_set_trap_debug_exceptions'
  | 'hv_vcpu_set_trap_debug_reg_accesses';

/** An `hv_vm_config_t`: IPA size 0 means "use the default" (model README, choices). */
interface VmConfigRecord {
  ipaSize: number;
  granule: number;
}

interface Arm64VcpuRecord {
  readonly id: number;
  readonly owner: number;
  readonly cpu: Arm64Cpu;
  pendingIrq: boolean;
  pendingFiq: boolean;
  vtimerMasked: boolean;
  vtimerOffset: bigint;
  trapDebugExceptions: boolean;
  trapDebugRegAccesses: boolean;
  /** Set by hv_vcpus_exit; sticky until a run consumes it (hvf-facts.md §2.4 [H]). */
  cancel: boolean;
  lastUnsupported: UnsupportedInstruction | undefined;
  /** hv_vcpu_get_exec_time: the VM's virtual counter ticks spent in this vCPU's runs. */
  execTime: bigint;
  /** The counter when the run in progress entered the guest. */
  runClock: bigint | undefined;
}

interface Arm64Vm {
  /** 2^ipa_size: the first IPA past the guest-physical address space. */
  readonly ipaLimit: bigint;
  /** Stage-2 granule in bytes: 16 KiB, or 4 KiB with HV_IPA_GRANULE_4KB. */
  readonly granule: bigint;
  readonly table: MappingTable;
  /** Stage 2 as the engine sees it (engine.ts `Arm64RunContext.region`). */
  readonly region: (ipa: number) => Arm64Region | undefined;
  /** Live vCPUs only. */
  readonly vcpus: Map<number, Arm64VcpuRecord>;
  nextVcpu: number;
  /** The VM's virtual counter; the engine advances it per instruction (deterministic, DESIGN.md). */
  readonly clock: { count: bigint };
}

type RunEnd =
  | { readonly kind: 'stop'; readonly stop: Arm64Stop }
  | { readonly kind: 'cancel' }
  | { readonly kind: 'reset' };

const NO_EXCEPTION = Object.freeze({ syndrome: 0n, virtual_address: 0n, physical_address: 0n });

/** The arm64 model backend. */
export class Arm64Model extends ModelCore implements Arm64Backend {
  readonly arch = 'arm64' as const;
  readonly capabilities: Capabilities;
  private readonly engine: Arm64Engine | undefined;
  private readonly maxIpaSize: number;
  private readonly ipaGranule4k: boolean;
  private readonly configs = new Map<number, VmConfigRecord>();
  private nextConfig = 1;
  private vm: Arm64Vm | undefined;

  constructor(options: ModelOptions = {}) {
    super(PAGE_16K, options);
    this.engine = options.engines?.arm64;
    this.maxIpaSize = options.maxIpaSize ?? 40;
    if (
      !Number.isSafeInteger(this.maxIpaSize) ||
      this.maxIpaSize < IPA_SIZE_DEFAULT ||
      this.maxIpaSize > 52
    ) {
      throw new TypeError(`options.maxIpaSize must be an integer in [${IPA_SIZE_DEFAULT}, 52]`);
    }
    this.ipaGranule4k = options.ipaGranule4k ?? true;
    this.capabilities = Object.freeze({
      backend: 'model',
      arch: 'arm64',
      pageSize: PAGE_16K,
      maxVcpus: this.maxVcpus,
      guestExecution: this.engine !== undefined,
      enforcedPermissions: ALL_PERMISSION_SETS,
      deviations: [],
      maxIpaSize: this.maxIpaSize,
      defaultIpaSize: IPA_SIZE_DEFAULT,
      ipaGranule4k: this.ipaGranule4k,
    });
  }

  protected dropState(): void {
    this.vm = undefined;
    this.configs.clear();
  }

  // ---- host queries and configs (no VM needed) ---------------------------------------------------------

  hv_vm_get_max_vcpu_count(t: ThreadId): Result<number> {
    this.enter(t);
    ARM64_ARG_CHECKS.hv_vm_get_max_vcpu_count(t);
    if (this.busyOn(t)) return BUSY;
    return ok(this.maxVcpus);
  }

  hv_vm_config_get_max_ipa_size(t: ThreadId): Result<number> {
    this.enter(t);
    ARM64_ARG_CHECKS.hv_vm_config_get_max_ipa_size(t);
    if (this.busyOn(t)) return BUSY;
    return ok(this.maxIpaSize);
  }

  hv_vm_config_get_default_ipa_size(t: ThreadId): Result<number> {
    this.enter(t);
    ARM64_ARG_CHECKS.hv_vm_config_get_default_ipa_size(t);
    if (this.busyOn(t)) return BUSY;
    return ok(IPA_SIZE_DEFAULT);
  }

  hv_vm_config_create(t: ThreadId): Result<VmConfig> {
    this.enter(t);
    ARM64_ARG_CHECKS.hv_vm_config_create(t);
    if (this.busyOn(t)) return BUSY;
    const id = this.nextConfig++;
    this.configs.set(id, { ipaSize: 0, granule: HV_IPA_GRANULE.HV_IPA_GRANULE_16KB });
    return ok(id as VmConfig);
  }

  hv_vm_config_set_ipa_size(t: ThreadId, config: VmConfig, ipa_bit_length: number): Result {
    this.enter(t);
    ARM64_ARG_CHECKS.hv_vm_config_set_ipa_size(t, config, ipa_bit_length);
    if (this.busyOn(t)) return BUSY;
    const c = this.configs.get(config);
    if (c === undefined) return fail(HV.HV_BAD_ARGUMENT);
    // 0..max accepted, above max HV_UNSUPPORTED (hvf-facts.md §3 [T]).
    if (ipa_bit_length > this.maxIpaSize) return fail(HV.HV_UNSUPPORTED);
    c.ipaSize = ipa_bit_length;
    return SUCCESS;
  }

  hv_vm_config_get_ipa_size(t: ThreadId, config: VmConfig): Result<number> {
    this.enter(t);
    ARM64_ARG_CHECKS.hv_vm_config_get_ipa_size(t, config);
    if (this.busyOn(t)) return BUSY;
    const c = this.configs.get(config);
    return c === undefined ? fail(HV.HV_BAD_ARGUMENT) : ok(c.ipaSize);
  }

  hv_vm_config_set_ipa_granule(t: ThreadId, config: VmConfig, granule: number): Result {
    this.enter(t);
    ARM64_ARG_CHECKS.hv_vm_config_set_ipa_granule(t, config, granule);
    if (this.busyOn(t)) return BUSY;
    const c = this.configs.get(config);
    if (c === undefined) return fail(HV.HV_BAD_ARGUMENT);
    if (GRANULE_BYTES[granule] === undefined) return fail(HV.HV_BAD_ARGUMENT);
    if (granule === HV_IPA_GRANULE.HV_IPA_GRANULE_4KB && !this.ipaGranule4k) return fail(HV.HV_UNSUPPORTED);
    c.granule = granule;
    return SUCCESS;
  }

  hv_vm_config_get_ipa_granule(t: ThreadId, config: VmConfig): Result<number> {
    this.enter(t);
    ARM64_ARG_CHECKS.hv_vm_config_get_ipa_granule(t, config);
    if (this.busyOn(t)) return BUSY;
    const c = this.configs.get(config);
    return c === undefined ? fail(HV.HV_BAD_ARGUMENT) : ok(c.granule);
  }

  // ---- VM ----------------------------------------------------------------------------------------------

  hv_vm_create(t: ThreadId, config: VmConfig | null): Result {
    this.enter(t);
    ARM64_ARG_CHECKS.hv_vm_create(t, config);
    if (this.busyOn(t)) return BUSY;
    const c = config === null ? undefined : this.configs.get(config);
    if (config !== null && c === undefined) return fail(HV.HV_BAD_ARGUMENT);
    if (this.vm !== undefined) return fail(HV.HV_BUSY); // one VM per process (hvf-facts.md §3 [T])
    const ipaSize = c === undefined || c.ipaSize === 0 ? IPA_SIZE_DEFAULT : c.ipaSize;
    const granule = GRANULE_BYTES[c?.granule ?? HV_IPA_GRANULE.HV_IPA_GRANULE_16KB] as bigint;
    const table = new MappingTable();
    this.vm = {
      ipaLimit: 1n << BigInt(ipaSize),
      granule,
      table,
      region: (ipa) => table.findAt(ipa),
      vcpus: new Map(),
      nextVcpu: 0,
      clock: { count: 0n },
    };
    return SUCCESS;
  }

  hv_vm_destroy(t: ThreadId): Result {
    this.enter(t);
    ARM64_ARG_CHECKS.hv_vm_destroy(t);
    if (this.busyOn(t)) return BUSY;
    if (this.vm === undefined) return fail(HV.HV_NO_DEVICE);
    // "Requires all vCPUs be destroyed" (hvf-facts.md §2.3 [H]).
    if (this.vm.vcpus.size > 0) return fail(HV.HV_BUSY);
    this.vm = undefined;
    return SUCCESS;
  }

  // ---- mappings ----------------------------------------------------------------------------------------

  hv_vm_map(t: ThreadId, uva: Uva, ipa: bigint, size: bigint, flags: number): Result {
    this.enter(t);
    ARM64_ARG_CHECKS.hv_vm_map(t, uva, ipa, size, flags);
    if (this.busyOn(t)) return BUSY;
    const bytes = this.host.bytes(uva.mem, 'uva.mem');
    const vm = this.vm;
    if (vm === undefined) return fail(HV.HV_NO_DEVICE);
    if ((flags & ~HV_MEMORY_RWX) !== 0) return fail(HV.HV_BAD_ARGUMENT);
    const bad = this.rangeError(vm, ipa, size);
    if (bad !== undefined) return fail(bad);
    if (BigInt(uva.offset) % vm.granule !== 0n) return fail(HV.HV_BAD_ARGUMENT);
    if (BigInt(uva.offset) + size > BigInt(bytes.length)) return fail(HV.HV_BAD_ARGUMENT);
    // An overlapping map is HV_ERROR, not HV_BAD_ARGUMENT (hvf-facts.md §2.5 [R]).
    if (vm.table.overlaps(ipa, ipa + size)) return fail(HV.HV_ERROR);
    vm.table.add(ipa, ipa + size, bytes, uva.offset, flags);
    return SUCCESS;
  }

  hv_vm_unmap(t: ThreadId, ipa: bigint, size: bigint): Result {
    this.enter(t);
    ARM64_ARG_CHECKS.hv_vm_unmap(t, ipa, size);
    if (this.busyOn(t)) return BUSY;
    const vm = this.vm;
    if (vm === undefined) return fail(HV.HV_NO_DEVICE);
    const bad = this.rangeError(vm, ipa, size);
    if (bad !== undefined) return fail(bad);
    vm.table.remove(ipa, ipa + size);
    return SUCCESS;
  }

  hv_vm_protect(t: ThreadId, ipa: bigint, size: bigint, flags: number): Result {
    this.enter(t);
    ARM64_ARG_CHECKS.hv_vm_protect(t, ipa, size, flags);
    if (this.busyOn(t)) return BUSY;
    const vm = this.vm;
    if (vm === undefined) return fail(HV.HV_NO_DEVICE);
    if ((flags & ~HV_MEMORY_RWX) !== 0) return fail(HV.HV_BAD_ARGUMENT);
    const bad = this.rangeError(vm, ipa, size);
    if (bad !== undefined) return fail(bad);
    if (!vm.table.covers(ipa, ipa + size)) return fail(HV.HV_BAD_ARGUMENT);
    vm.table.protect(ipa, ipa + size, flags);
    return SUCCESS;
  }

  /** Size 0, granule alignment of ipa and size (hvf-facts.md §2.5 [R]), and the IPA limit. */
  private rangeError(vm: Arm64Vm, ipa: bigint, size: bigint): number | undefined {
    if (size === 0n || ipa % vm.granule !== 0n || size % vm.granule !== 0n) return HV.HV_BAD_ARGUMENT;
    if (ipa + size > vm.ipaLimit) return HV.HV_BAD_ARGUMENT;
    return undefined;
  }

  // ---- vCPUs -------------------------------------------------------------------------------------------

  hv_vcpu_create(t: ThreadId, config: null): Result<Vcpu> {
    this.enter(t);
    ARM64_ARG_CHECKS.hv_vcpu_create(t, config);
    if (this.busyOn(t)) return BUSY;
    if (config !== null) throw new TypeError('config must be null (hv_vcpu_config_t is not modelled)');
    const vm = this.vm;
    if (vm === undefined) return fail(HV.HV_NO_DEVICE);
    // "Each thread can have only one vCPU at a time" (hvf-facts.md §2.4 [H]); code per the model README's choices.
    for (const v of vm.vcpus.values()) if (v.owner === t) return fail(HV.HV_BUSY);
    if (vm.vcpus.size >= this.maxVcpus) return fail(HV.HV_NO_RESOURCES);
    const id = vm.nextVcpu++;
    vm.vcpus.set(id, {
      id,
      owner: t,
      cpu: initialArm64Cpu(id),
      pendingIrq: false,
      pendingFiq: false,
      vtimerMasked: false,
      vtimerOffset: 0n,
      trapDebugExceptions: false,
      trapDebugRegAccesses: false,
      cancel: false,
      lastUnsupported: undefined,
      execTime: 0n,
      runClock: undefined,
    });
    return ok(id as Vcpu);
  }

  hv_vcpu_destroy(t: ThreadId, vcpu: Vcpu): Result {
    this.enter(t);
    ARM64_ARG_CHECKS.hv_vcpu_destroy(t, vcpu);
    if (this.busyOn(t)) return BUSY;
    const v = this.owned(t, vcpu);
    if (typeof v === 'number') return fail(v);
    this.vm?.vcpus.delete(v.id);
    return SUCCESS;
  }

  hv_vcpu_get_reg(t: ThreadId, vcpu: Vcpu, reg: number): Result<bigint> {
    this.enter(t);
    ARM64_ARG_CHECKS.hv_vcpu_get_reg(t, vcpu, reg);
    if (this.busyOn(t)) return BUSY;
    const v = this.owned(t, vcpu);
    if (typeof v === 'number') return fail(v);
    if (reg >= HV_REG_COUNT) return fail(HV.HV_BAD_ARGUMENT);
    const c = v.cpu;
    switch (reg) {
      case HV_REG.HV_REG_PC:
        return ok(c.pc);
      case HV_REG.HV_REG_FPCR:
        return ok(c.fpcr);
      case HV_REG.HV_REG_FPSR:
        return ok(c.fpsr);
      case HV_REG.HV_REG_CPSR:
        return ok(c.cpsr);
      default:
        return ok(c.getX(reg));
    }
  }

  hv_vcpu_set_reg(t: ThreadId, vcpu: Vcpu, reg: number, value: bigint): Result {
    this.enter(t);
    ARM64_ARG_CHECKS.hv_vcpu_set_reg(t, vcpu, reg, value);
    if (this.busyOn(t)) return BUSY;
    const v = this.owned(t, vcpu);
    if (typeof v === 'number') return fail(v);
    if (reg >= HV_REG_COUNT) return fail(HV.HV_BAD_ARGUMENT);
    const c = v.cpu;
    switch (reg) {
      case HV_REG.HV_REG_PC:
        c.pc = value;
        break;
      case HV_REG.HV_REG_FPCR:
        c.fpcr = value;
        break;
      case HV_REG.HV_REG_FPSR:
        c.fpsr = value;
        break;
      case HV_REG.HV_REG_CPSR:
        c.cpsr = value;
        break;
      default:
        c.setX(reg, value);
    }
    return SUCCESS;
  }

  hv_vcpu_get_simd_fp_reg(t: ThreadId, vcpu: Vcpu, reg: number): Result<bigint> {
    this.enter(t);
    ARM64_ARG_CHECKS.hv_vcpu_get_simd_fp_reg(t, vcpu, reg);
    if (this.busyOn(t)) return BUSY;
    const v = this.owned(t, vcpu);
    if (typeof v === 'number') return fail(v);
    if (reg >= HV_SIMD_FP_REG_COUNT) return fail(HV.HV_BAD_ARGUMENT);
    return ok(v.cpu.q[reg] as bigint);
  }

  hv_vcpu_set_simd_fp_reg(t: ThreadId, vcpu: Vcpu, reg: number, value: bigint): Result {
    this.enter(t);
    ARM64_ARG_CHECKS.hv_vcpu_set_simd_fp_reg(t, vcpu, reg, value);
    if (this.busyOn(t)) return BUSY;
    const v = this.owned(t, vcpu);
    if (typeof v === 'number') return fail(v);
    if (reg >= HV_SIMD_FP_REG_COUNT) return fail(HV.HV_BAD_ARGUMENT);
    v.cpu.q[reg] = value;
    return SUCCESS;
  }

  hv_vcpu_get_sys_reg(t: ThreadId, vcpu: Vcpu, reg: number): Result<bigint> {
    this.enter(t);
    ARM64_ARG_CHECKS.hv_vcpu_get_sys_reg(t, vcpu, reg);
    if (this.busyOn(t)) return BUSY;
    const v = this.owned(t, vcpu);
    if (typeof v === 'number') return fail(v);
    if (!isKnownSysReg(reg)) return fail(HV.HV_BAD_ARGUMENT);
    return ok(v.cpu.getSys(reg));
  }

  hv_vcpu_set_sys_reg(t: ThreadId, vcpu: Vcpu, reg: number, value: bigint): Result {
    this.enter(t);
    ARM64_ARG_CHECKS.hv_vcpu_set_sys_reg(t, vcpu, reg, value);
    if (this.busyOn(t)) return BUSY;
    const v = this.owned(t, vcpu);
    if (typeof v === 'number') return fail(v);
    if (!isKnownSysReg(reg)) return fail(HV.HV_BAD_ARGUMENT);
    // ID registers are writable through the API (VMMs such as QEMU write MIDR/MPIDR, hvf-facts.md §5.8).
    v.cpu.setSys(reg, value);
    return SUCCESS;
  }

  hv_vcpu_get_pending_interrupt(t: ThreadId, vcpu: Vcpu, type: number): Result<boolean> {
    this.enter(t);
    ARM64_ARG_CHECKS.hv_vcpu_get_pending_interrupt(t, vcpu, type);
    if (this.busyOn(t)) return BUSY;
    const v = this.owned(t, vcpu);
    if (typeof v === 'number') return fail(v);
    if (type === HV_INTERRUPT_TYPE.HV_INTERRUPT_TYPE_IRQ) return ok(v.pendingIrq);
    if (type === HV_INTERRUPT_TYPE.HV_INTERRUPT_TYPE_FIQ) return ok(v.pendingFiq);
    return fail(HV.HV_BAD_ARGUMENT);
  }

  hv_vcpu_set_pending_interrupt(t: ThreadId, vcpu: Vcpu, type: number, pending: boolean): Result {
    this.enter(t);
    ARM64_ARG_CHECKS.hv_vcpu_set_pending_interrupt(t, vcpu, type, pending);
    if (this.busyOn(t)) return BUSY;
    const v = this.owned(t, vcpu);
    if (typeof v === 'number') return fail(v);
    if (type === HV_INTERRUPT_TYPE.HV_INTERRUPT_TYPE_IRQ) v.pendingIrq = pending;
    else if (type === HV_INTERRUPT_TYPE.HV_INTERRUPT_TYPE_FIQ) v.pendingFiq = pending;
    else return fail(HV.HV_BAD_ARGUMENT);
    return SUCCESS;
  }

  hv_vcpu_get_vtimer_mask(t: ThreadId, vcpu: Vcpu): Result<boolean> {
    return this.getFlag('hv_vcpu_get_vtimer_mask', t, vcpu, (v) => v.vtimerMasked);
  }

  hv_vcpu_set_vtimer_mask(t: ThreadId, vcpu: Vcpu, vtimer_is_masked: boolean): Result {
    return this.setFlag('hv_vcpu_set_vtimer_mask', t, vcpu, vtimer_is_masked, (v, b) => (v.vtimerMasked = b));
  }

  hv_vcpu_get_vtimer_offset(t: ThreadId, vcpu: Vcpu): Result<bigint> {
    this.enter(t);
    ARM64_ARG_CHECKS.hv_vcpu_get_vtimer_offset(t, vcpu);
    if (this.busyOn(t)) return BUSY;
    const v = this.owned(t, vcpu);
    return typeof v === 'number' ? fail(v) : ok(v.vtimerOffset);
  }

  hv_vcpu_set_vtimer_offset(t: ThreadId, vcpu: Vcpu, vtimer_offset: bigint): Result {
    this.enter(t);
    ARM64_ARG_CHECKS.hv_vcpu_set_vtimer_offset(t, vcpu, vtimer_offset);
    if (this.busyOn(t)) return BUSY;
    const v = this.owned(t, vcpu);
    if (typeof v === 'number') return fail(v);
    v.vtimerOffset = vtimer_offset;
    return SUCCESS;
  }

  hv_vcpu_get_trap_debug_exceptions(t: ThreadId, vcpu: Vcpu): Result<boolean> {
    return this.getFlag('hv_vcpu_get_trap_debug_exceptions', t, vcpu, (v) => v.trapDebugExceptions);
  }

  hv_vcpu_set_trap_debug_exceptions(t: ThreadId, vcpu: Vcpu, value: boolean): Result {
    return this.setFlag(
      'hv_vcpu_set_trap_debug_exceptions',
      t,
      vcpu,
      value,
      (v, b) => (v.trapDebugExceptions = b),
    );
  }

  hv_vcpu_get_trap_debug_reg_accesses(t: ThreadId, vcpu: Vcpu): Result<boolean> {
    return this.getFlag('hv_vcpu_get_trap_debug_reg_accesses', t, vcpu, (v) => v.trapDebugRegAccesses);
  }

  hv_vcpu_set_trap_debug_reg_accesses(t: ThreadId, vcpu: Vcpu, value: boolean): Result {
    return this.setFlag(
      'hv_vcpu_set_trap_debug_reg_accesses',
      t,
      vcpu,
      value,
      (v, b) => (v.trapDebugRegAccesses = b),
    );
  }

  private getFlag(
    name: FlagGetter,
    t: number,
    vcpu: Vcpu,
    get: (v: Arm64VcpuRecord) => boolean,
  ): Result<boolean> {
    this.enter(t);
    ARM64_ARG_CHECKS[name](t, vcpu);
    if (this.busyOn(t)) return BUSY;
    const v = this.owned(t, vcpu);
    return typeof v === 'number' ? fail(v) : ok(get(v));
  }

  private setFlag(
    name: FlagSetter,
    t: number,
    vcpu: Vcpu,
    value: boolean,
    set: (v: Arm64VcpuRecord, b: boolean) => void,
  ): Result {
    this.enter(t);
    ARM64_ARG_CHECKS[name](t, vcpu, value);
    if (this.busyOn(t)) return BUSY;
    const v = this.owned(t, vcpu);
    if (typeof v === 'number') return fail(v);
    set(v, value);
    return SUCCESS;
  }

  /** Steps 1–3 for per-vCPU calls: VM, live handle, owner thread. */
  private owned(t: number, vcpu: number): Arm64VcpuRecord | number {
    if (this.vm === undefined) return HV.HV_NO_DEVICE;
    const v = this.vm.vcpus.get(vcpu);
    if (v === undefined || v.owner !== t) return HV.HV_BAD_ARGUMENT;
    return v;
  }

  // ---- running -----------------------------------------------------------------------------------------

  /**
   * Runs until the next exit. Results:
   *  - a pending hv_vcpus_exit: HV_SUCCESS, reason CANCELED, PC unchanged, the guest not entered, the
   *    flag cleared (hvf-facts.md §2.4 [H]);
   *  - no engine configured: HV_UNSUPPORTED (guest execution not available in this model configuration);
   *  - an instruction the engine does not implement: HV_ERROR — the model's explicit "unsupported
   *    instruction" result, with the bytes and reason in {@link model_last_unsupported}; PC stays at it;
   *  - otherwise HV_SUCCESS with the exit record as the value.
   * Pending IRQ/FIQ are cleared whenever the run returns after getting past its argument checks, except
   * for HV_UNSUPPORTED (nothing happened) (hvf-facts.md §2.4 [H]).
   */
  hv_vcpu_run(t: ThreadId, vcpu: Vcpu): Result<Arm64Exit> {
    this.enter(t);
    ARM64_ARG_CHECKS.hv_vcpu_run(t, vcpu);
    if (this.busyOn(t)) return BUSY;
    const v = this.owned(t, vcpu);
    if (typeof v === 'number') return fail(v);
    const early = this.runStart(v);
    if (early !== undefined) return early;
    const engine = this.engine as Arm64Engine;
    const ctx = this.context(v);
    let left = this.maxSyncInstructions;
    for (;;) {
      const slice = Math.min(left, 1_000_000);
      const stop = engine(ctx, slice);
      if (stop.kind !== 'budget') return this.runEnd(v, { kind: 'stop', stop });
      left -= slice;
      // Out of instructions (opt-in guard for single-threaded tests): a spurious CANCELED, which VMMs loop on.
      if (left <= 0) return this.runEnd(v, { kind: 'cancel' });
    }
  }

  /**
   * `hv_vcpu_run` on logical thread `t` without blocking the caller: the engine runs in slices of
   * `budget` instructions, yielding to the event loop between slices; an hv_vcpus_exit seen between
   * slices ends the run with HV_EXIT_REASON_CANCELED and PC at the next instruction to execute.
   */
  hv_vcpu_run_async(t: ThreadId, vcpu: Vcpu): Promise<Result<Arm64Exit>> {
    this.enter(t);
    ARM64_ARG_CHECKS.hv_vcpu_run(t, vcpu);
    // Thread 0 is the caller itself: it cannot wait in the guest (a TypeError, as on every backend).
    checkAsyncThread(t);
    if (this.busyOn(t)) return Promise.resolve(BUSY);
    const v = this.owned(t, vcpu);
    if (typeof v === 'number') return Promise.resolve(fail(v));
    const early = this.runStart(v);
    if (early !== undefined) return Promise.resolve(early);
    const engine = this.engine as Arm64Engine;
    const ctx = this.context(v);
    return this.track(t, (stale) =>
      slicedRun(
        v,
        stale,
        () => engine(ctx, this.budget),
        (e) => this.runEnd(v, e),
      ),
    );
  }

  hv_vcpu_get_exec_time(t: ThreadId, vcpu: Vcpu): Result<bigint> {
    this.enter(t);
    ARM64_ARG_CHECKS.hv_vcpu_get_exec_time(t, vcpu);
    if (this.busyOn(t)) return BUSY;
    const v = this.owned(t, vcpu);
    return typeof v === 'number' ? fail(v) : ok(v.execTime);
  }

  hv_vcpus_exit(t: ThreadId, vcpus: readonly Vcpu[], vcpu_count: number): Result {
    this.enter(t);
    ARM64_ARG_CHECKS.hv_vcpus_exit(t, vcpus, vcpu_count);
    if (this.busyOn(t)) return BUSY;
    return kick(this.vm?.vcpus, vcpus, vcpu_count);
  }

  /**
   * The instruction that made the vCPU's last run return HV_ERROR (the model's "unsupported instruction"
   * result), or undefined when its last run ended otherwise. A model-only call, not an `hv_*` function.
   */
  model_last_unsupported(vcpu: Vcpu): UnsupportedInstruction | undefined {
    checkU32('vcpu', vcpu);
    return this.vm?.vcpus.get(vcpu)?.lastUnsupported;
  }

  private context(v: Arm64VcpuRecord): Arm64RunContext {
    const vm = this.vm as Arm64Vm;
    return {
      cpu: v.cpu,
      region: vm.region,
      clock: vm.clock,
      vtimerOffset: v.vtimerOffset,
      vtimerMasked: v.vtimerMasked,
      trapDebugExceptions: v.trapDebugExceptions,
      trapDebugRegAccesses: v.trapDebugRegAccesses,
      pendingIrq: v.pendingIrq,
      pendingFiq: v.pendingFiq,
    };
  }

  private runStart(v: Arm64VcpuRecord): Result<Arm64Exit> | undefined {
    v.lastUnsupported = undefined;
    if (v.cancel) {
      v.cancel = false;
      return this.runEnd(v, { kind: 'cancel' });
    }
    if (this.engine === undefined) return fail(HV.HV_UNSUPPORTED);
    v.runClock = (this.vm as Arm64Vm).clock.count;
    // The framework enters the guest with an exception return from EL2, which sets the event register
    // (Arm ARM, "The Event Register"); whether HVF does anything else to it is not known [U].
    v.cpu.event = true;
    return undefined;
  }

  private runEnd(v: Arm64VcpuRecord, end: RunEnd): Result<Arm64Exit> {
    if (end.kind === 'reset') return fail(HV.HV_NO_DEVICE);
    if (v.runClock !== undefined) {
      v.execTime += (this.vm as Arm64Vm).clock.count - v.runClock;
      v.runClock = undefined;
    }
    // "Pending state is cleared automatically when hv_vcpu_run returns" (hvf-facts.md §2.4 [H]).
    v.pendingIrq = false;
    v.pendingFiq = false;
    if (end.kind === 'cancel')
      return ok({ reason: HV_EXIT_REASON.HV_EXIT_REASON_CANCELED, exception: NO_EXCEPTION });
    const stop = end.stop;
    switch (stop.kind) {
      case 'exception':
        return ok({
          reason: HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION,
          exception: {
            syndrome: stop.syndrome,
            virtual_address: stop.virtual_address,
            physical_address: stop.physical_address,
          },
        });
      case 'vtimer':
        // The vtimer is masked automatically on this exit (hvf-facts.md §2.6 [H]).
        v.vtimerMasked = true;
        return ok({ reason: HV_EXIT_REASON.HV_EXIT_REASON_VTIMER_ACTIVATED, exception: NO_EXCEPTION });
      case 'unsupported':
        v.lastUnsupported = { bytes: stop.bytes.slice(), reason: stop.reason };
        return fail(HV.HV_ERROR);
      case 'budget':
        // Callers loop on 'budget'; reaching here would be a model bug, reported as a spurious CANCELED.
        return ok({ reason: HV_EXIT_REASON.HV_EXIT_REASON_CANCELED, exception: NO_EXCEPTION });
    }
  }
}

/** Builds the arm64 model. */
export function createArm64Model(options: ModelOptions = {}): Arm64Model {
  return new Arm64Model(options);
}
