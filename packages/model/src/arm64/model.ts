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
  HostMemory,
  Result,
  ThreadId,
  Uva,
  Vcpu,
  VcpuConfig,
  VmConfig,
} from '@hvspec/spec';
import {
  ARM64_ARG_CHECKS,
  type Arm64ConfigCall,
  Arm64Configs,
  type Arm64GicCall,
  Arm64Gics,
  type Arm64VcpuFlagCall,
  checkAsyncThread,
  checkU32,
  type GicDevice,
  HV,
  HV_EXIT_REASON,
  HV_MEMORY_RWX,
  HV_REG,
  HV_REG_COUNT,
  HV_SIMD_FP_REG_COUNT,
  HV_SYS_REG,
  IPA_SIZE_DEFAULT,
  installArm64ConfigCalls,
  installArm64GicCalls,
  installArm64VcpuFlagCalls,
  isKnownSysReg,
  softwareGicParameters,
} from '@hvspec/spec';
import type { ModelOptions, UnsupportedInstruction } from '../core.js';
import { ALL_PERMISSION_SETS, BUSY, fail, kick, ModelCore, ok, SUCCESS, slicedRun } from '../core.js';
import type { Arm64Engine, Arm64Region, Arm64RunContext, Arm64Stop } from '../engine.js';
import { MappingTable } from '../mappings.js';
import { modelCcsidr, modelFeatureReg } from './features.js';
import { type Arm64Cpu, initialArm64Cpu } from './state.js';

const PAGE_16K = 16384;
const HV_SYS_REG_MPIDR_EL1 = HV_SYS_REG.HV_SYS_REG_MPIDR_EL1;

type Arm64Call = keyof typeof ARM64_ARG_CHECKS;
type ArgsOf<K extends Arm64Call> = Parameters<(typeof ARM64_ARG_CHECKS)[K]>;

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
  /** Created from a configuration with EL2 enabled. */
  readonly el2?: boolean;
  /** The in-framework GIC, once hv_gic_create made it. */
  gic?: GicDevice;
  /** A vCPU of this VM entered the guest (hv_gic_set_state must come before, hvf-facts.md §2.7 [H]). */
  ran?: boolean;
}

type RunEnd =
  | { readonly kind: 'stop'; readonly stop: Arm64Stop }
  | { readonly kind: 'cancel' }
  | { readonly kind: 'reset' };

const NO_EXCEPTION = Object.freeze({ syndrome: 0n, virtual_address: 0n, physical_address: 0n });

/**
 * The configuration calls, the vCPU flag calls and the GIC calls: made in the class's static block by
 * the spec's {@link installArm64ConfigCalls}, {@link installArm64VcpuFlagCalls} and
 * {@link installArm64GicCalls}.
 */
export interface Arm64Model extends Pick<Arm64Backend, Arm64ConfigCall | Arm64VcpuFlagCall | Arm64GicCall> {}

/** The arm64 model backend. */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface declares the methods the static block makes
export class Arm64Model extends ModelCore implements Arm64Backend {
  readonly arch = 'arm64' as const;
  readonly capabilities: Capabilities;
  private readonly engine: Arm64Engine | undefined;
  private readonly maxIpaSize: number;
  private readonly ipaGranule4k: boolean;
  /** VM and vCPU configurations; the GIC's configs and states take their ids from the same space. */
  private readonly configs: Arm64Configs;
  private vm: Arm64Vm | undefined;
  private readonly el2Supported: boolean;
  /** The GIC's configurations and state objects (ids from `configs`), and the host's GIC parameters. */
  private readonly gics: Arm64Gics;
  /** Buffers hv_vm_allocate made and hv_vm_deallocate has not freed. */
  private readonly allocations = new Set<number>();

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
    this.el2Supported = options.el2Supported ?? false;
    this.configs = new Arm64Configs({
      maxIpaSize: this.maxIpaSize,
      ipaGranule4k: this.ipaGranule4k,
      el2Supported: this.el2Supported,
    });
    const gic = options.gic === false ? undefined : (options.gic ?? softwareGicParameters(this.maxVcpus));
    this.gics = new Arm64Gics(gic, this.configs, this.maxVcpus);
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
      el2Supported: this.el2Supported,
      ...(gic ? { gic: Object.freeze({ ...gic }) } : {}),
    });
  }

  protected dropState(): void {
    this.vm = undefined;
    this.configs.clear();
    this.gics.clear();
    this.allocations.clear();
  }

  // ---- host queries and configs (no VM needed) ---------------------------------------------------------

  hv_vm_get_max_vcpu_count(t: ThreadId): Result<number> {
    return this.begin('hv_vm_get_max_vcpu_count', t) ?? ok(this.maxVcpus);
  }

  // ---- VM ----------------------------------------------------------------------------------------------

  hv_vm_create(t: ThreadId, config: VmConfig | null): Result {
    const busy = this.begin('hv_vm_create', t, config);
    if (busy) return busy;
    const shape = this.configs.vmShape(config);
    if (shape === undefined) return fail(HV.HV_BAD_ARGUMENT);
    if (this.vm !== undefined) return fail(HV.HV_BUSY); // one VM per process (hvf-facts.md §3 [T])
    const table = new MappingTable();
    this.vm = {
      ipaLimit: 1n << BigInt(shape.ipaSize),
      granule: BigInt(shape.granuleBytes),
      table,
      region: (ipa) => table.findAt(ipa),
      vcpus: new Map(),
      nextVcpu: 0,
      clock: { count: 0n },
      el2: shape.el2,
    };
    return SUCCESS;
  }

  hv_vm_destroy(t: ThreadId): Result {
    const busy = this.begin('hv_vm_destroy', t);
    if (busy) return busy;
    if (this.vm === undefined) return fail(HV.HV_NO_DEVICE);
    // "Requires all vCPUs be destroyed" (hvf-facts.md §2.3 [H]).
    if (this.vm.vcpus.size > 0) return fail(HV.HV_BUSY);
    this.vm = undefined;
    return SUCCESS;
  }

  // ---- mappings ----------------------------------------------------------------------------------------

  hv_vm_map(t: ThreadId, uva: Uva, ipa: bigint, size: bigint, flags: number): Result {
    const busy = this.begin('hv_vm_map', t, uva, ipa, size, flags);
    if (busy) return busy;
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
    const busy = this.begin('hv_vm_unmap', t, ipa, size);
    if (busy) return busy;
    const vm = this.vm;
    if (vm === undefined) return fail(HV.HV_NO_DEVICE);
    const bad = this.rangeError(vm, ipa, size);
    if (bad !== undefined) return fail(bad);
    vm.table.remove(ipa, ipa + size);
    return SUCCESS;
  }

  hv_vm_protect(t: ThreadId, ipa: bigint, size: bigint, flags: number): Result {
    const busy = this.begin('hv_vm_protect', t, ipa, size, flags);
    if (busy) return busy;
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

  /** A vCPU configuration describes the same host vCPU as NULL does (the model has one kind of core). */
  hv_vcpu_create(t: ThreadId, config: VcpuConfig | null): Result<Vcpu> {
    const busy = this.begin('hv_vcpu_create', t, config);
    if (busy) return busy;
    const vm = this.vm;
    if (vm === undefined) return fail(HV.HV_NO_DEVICE);
    if (config !== null && !this.configs.isVcpu(config)) return fail(HV.HV_BAD_ARGUMENT);
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
    const v = this.vcpuCall('hv_vcpu_destroy', t, vcpu);
    if (typeof v === 'number') return fail(v);
    this.vm?.vcpus.delete(v.id);
    return SUCCESS;
  }

  hv_vcpu_get_reg(t: ThreadId, vcpu: Vcpu, reg: number): Result<bigint> {
    const v = this.vcpuCall('hv_vcpu_get_reg', t, vcpu, reg);
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
    const v = this.vcpuCall('hv_vcpu_set_reg', t, vcpu, reg, value);
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
    const v = this.vcpuCall('hv_vcpu_get_simd_fp_reg', t, vcpu, reg);
    if (typeof v === 'number') return fail(v);
    if (reg >= HV_SIMD_FP_REG_COUNT) return fail(HV.HV_BAD_ARGUMENT);
    return ok(v.cpu.q[reg] as bigint);
  }

  hv_vcpu_set_simd_fp_reg(t: ThreadId, vcpu: Vcpu, reg: number, value: bigint): Result {
    const v = this.vcpuCall('hv_vcpu_set_simd_fp_reg', t, vcpu, reg, value);
    if (typeof v === 'number') return fail(v);
    if (reg >= HV_SIMD_FP_REG_COUNT) return fail(HV.HV_BAD_ARGUMENT);
    v.cpu.q[reg] = value;
    return SUCCESS;
  }

  hv_vcpu_get_sys_reg(t: ThreadId, vcpu: Vcpu, reg: number): Result<bigint> {
    const v = this.vcpuCall('hv_vcpu_get_sys_reg', t, vcpu, reg);
    if (typeof v === 'number') return fail(v);
    if (!isKnownSysReg(reg)) return fail(HV.HV_BAD_ARGUMENT);
    return ok(v.cpu.getSys(reg));
  }

  hv_vcpu_set_sys_reg(t: ThreadId, vcpu: Vcpu, reg: number, value: bigint): Result {
    const v = this.vcpuCall('hv_vcpu_set_sys_reg', t, vcpu, reg, value);
    if (typeof v === 'number') return fail(v);
    if (!isKnownSysReg(reg)) return fail(HV.HV_BAD_ARGUMENT);
    // ID registers are writable through the API (VMMs such as QEMU write MIDR/MPIDR, hvf-facts.md §5.8).
    v.cpu.setSys(reg, value);
    return SUCCESS;
  }

  hv_vcpu_get_vtimer_offset(t: ThreadId, vcpu: Vcpu): Result<bigint> {
    const v = this.vcpuCall('hv_vcpu_get_vtimer_offset', t, vcpu);
    return typeof v === 'number' ? fail(v) : ok(v.vtimerOffset);
  }

  hv_vcpu_set_vtimer_offset(t: ThreadId, vcpu: Vcpu, vtimer_offset: bigint): Result {
    const v = this.vcpuCall('hv_vcpu_set_vtimer_offset', t, vcpu, vtimer_offset);
    if (typeof v === 'number') return fail(v);
    v.vtimerOffset = vtimer_offset;
    return SUCCESS;
  }

  /** Step 0 of call `name` (core.ts): the backend open, the registry's JS-type checks. */
  private checked<K extends Arm64Call>(name: K, ...args: ArgsOf<K>): void {
    this.enter();
    (ARM64_ARG_CHECKS[name] as (...a: readonly unknown[]) => void)(...args);
  }

  /**
   * Steps 0 and ½ of call `name` (core.ts): checked(), then HV_BUSY on a thread inside an async run.
   * Undefined when the call goes on. The configuration, allocation and GIC calls skip step ½ (checked()).
   */
  private begin<K extends Arm64Call>(name: K, ...args: ArgsOf<K>): Result<never> | undefined {
    this.checked(name, ...args);
    return this.busyOn(args[0] as number) ? BUSY : undefined;
  }

  /** The vCPU a per-vCPU call is about, or the code it returns: begin(), then steps 1–3 (owned). */
  private vcpuCall<K extends Arm64Call>(name: K, ...args: ArgsOf<K>): Arm64VcpuRecord | number {
    return this.begin(name, ...args)?.ret ?? this.owned(args[0] as number, args[1] as number);
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
    const v = this.vcpuCall('hv_vcpu_run', t, vcpu);
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
    this.checked('hv_vcpu_run', t, vcpu);
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
    const v = this.vcpuCall('hv_vcpu_get_exec_time', t, vcpu);
    return typeof v === 'number' ? fail(v) : ok(v.execTime);
  }

  hv_vcpus_exit(t: ThreadId, vcpus: readonly Vcpu[], vcpu_count: number): Result {
    return this.begin('hv_vcpus_exit', t, vcpus, vcpu_count) ?? kick(this.vm?.vcpus, vcpus, vcpu_count);
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
    (this.vm as Arm64Vm).ran = true;
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
  // ---- EL2, the default granule, vCPU configurations (hvf-facts.md §2.3, §2.4) ------------------------

  hv_vcpu_config_get_feature_reg(t: ThreadId, config: VcpuConfig, feature_reg: number): Result<bigint> {
    this.checked('hv_vcpu_config_get_feature_reg', t, config, feature_reg);
    if (!this.configs.isVcpu(config)) return fail(HV.HV_BAD_ARGUMENT);
    const value = modelFeatureReg(feature_reg);
    return value === undefined ? fail(HV.HV_BAD_ARGUMENT) : ok(value);
  }

  hv_vcpu_config_get_ccsidr_el1_sys_reg_values(
    t: ThreadId,
    config: VcpuConfig,
    cache_type: number,
  ): Result<readonly bigint[]> {
    this.checked('hv_vcpu_config_get_ccsidr_el1_sys_reg_values', t, config, cache_type);
    if (!this.configs.isVcpu(config)) return fail(HV.HV_BAD_ARGUMENT);
    const values = modelCcsidr(cache_type);
    return values === undefined ? fail(HV.HV_BAD_ARGUMENT) : ok(values);
  }

  // ---- host memory for guests (hvf-facts.md §2.3) ------------------------------------------------------

  /** Zeroed, page-aligned memory of exactly `size` bytes, a host buffer like host_alloc's. */
  hv_vm_allocate(t: ThreadId, size: bigint, flags: bigint): Result<HostMemory> {
    this.checked('hv_vm_allocate', t, size, flags);
    if (flags !== 0n) return fail(HV.HV_BAD_ARGUMENT);
    // "size must be a multiple of PAGE_SIZE" (hvf-facts.md §2.3 [H]); 0 is refused too (README).
    if (size === 0n || size % BigInt(PAGE_16K) !== 0n) return fail(HV.HV_BAD_ARGUMENT);
    if (size > 0x1_0000_0000n) return fail(HV.HV_NO_RESOURCES);
    const mem = this.host.alloc(Number(size));
    this.allocations.add(mem.id);
    return ok(mem);
  }

  /** Frees a whole allocation that no mapping uses; anything else is refused and nothing changes. */
  hv_vm_deallocate(t: ThreadId, uva: Uva, size: bigint): Result {
    this.checked('hv_vm_deallocate', t, uva, size);
    const bytes = this.host.bytes(uva.mem, 'uva.mem');
    if (!this.allocations.has(uva.mem.id)) return fail(HV.HV_BAD_ARGUMENT);
    if (uva.offset !== 0 || size !== BigInt(bytes.length)) return fail(HV.HV_BAD_ARGUMENT);
    if (this.vm?.table.mappings().some((m) => m.bytes === bytes)) return fail(HV.HV_BUSY);
    this.host.release(uva.mem);
    this.allocations.delete(uva.mem.id);
    return SUCCESS;
  }

  /**
   * Puts memory shared with another process behind a buffer `hv_vm_allocate` just made (model-only, for
   * the model server: a C VMM's `hv_vm_allocate` must hand out its own mapping). The buffer must not be
   * mapped yet; its contents are copied over.
   */
  host_rebind_allocation(mem: HostMemory, bytes: Uint8Array): void {
    if (!this.allocations.has(mem.id)) throw new TypeError('mem is not memory from hv_vm_allocate');
    const current = this.host.bytes(mem);
    if (this.vm?.table.mappings().some((m) => m.bytes === current))
      throw new Error('mem is mapped: its memory can no longer be replaced');
    this.host.rebind(mem, bytes);
  }

  static {
    installArm64VcpuFlagCalls(Arm64Model.prototype, (self, name, args) =>
      self.vcpuCall(name, ...(args as ArgsOf<typeof name>)),
    );
    installArm64ConfigCalls(
      Arm64Model.prototype,
      (self, name, busy, args) => {
        self.checked(name, ...(args as ArgsOf<typeof name>));
        return busy && self.busyOn(args[0] as number) ? BUSY : undefined;
      },
      (self) => self.configs,
    );
    installArm64GicCalls(Arm64Model.prototype, {
      prologue: (self, name, args) => {
        self.checked(name, ...(args as ArgsOf<typeof name>));
        return undefined;
      },
      gics: (self) => self.gics,
      vm: (self) => self.vm,
      vcpu: (self, id) => {
        const v = self.vm?.vcpus.get(id);
        return v && { id: v.id, owner: v.owner, mpidr: v.cpu.getSys(HV_SYS_REG_MPIDR_EL1) };
      },
    });
  }
}

/** Builds the arm64 model. */
export function createArm64Model(options: ModelOptions = {}): Arm64Model {
  return new Arm64Model(options);
}
