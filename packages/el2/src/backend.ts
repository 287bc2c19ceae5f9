/**
 * The `el2` backend: the arm64 `hv_*` API with guests run by QEMU's TCG under the project's EL2
 * runtime.
 *
 * Everything the framework decides without running the guest (VM, configs, mappings, vCPU ownership,
 * register files, pending interrupts, vtimer mask, cancel flags) is kept here, with the same order of
 * checks and the same codes as the model where the spec leaves the code open (packages/model/README.md),
 * so that differential runs compare guest behaviour rather than bookkeeping. What the guest does is
 * QEMU's: a run writes the vCPU's registers into its slot page, rings RUN, and reads back the
 * registers and the exit record the runtime took from ESR_EL2 / FAR_EL2 / HPFAR_EL2.
 * @module
 */
import type {
  Arm64Backend,
  Arm64Exit,
  Capabilities,
  Deviation,
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
  checkHostAllocSize,
  checkThread,
  type GicDevice,
  gicRegisterArray,
  HV,
  HV_CACHE_TYPE,
  HV_EXIT_REASON,
  HV_FEATURE_REG,
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
import {
  CTRL,
  CTRL_OFFSET,
  DB,
  DB_OUT,
  HOST_POOL_OFFSET,
  MAX_RANGES,
  MAX_SLOTS,
  RAM_BASE,
  RUN_FLAG,
  RUN_STATUS,
  SLOT,
  SLOT_OFFSET,
  SLOT_SIZE,
  SYSREG_CLASS,
} from './abi.js';
import type { Machine } from './machine.js';
import { Stage2, TablePoolExhausted } from './stage2.js';

const ALL_PERMISSION_SETS: readonly number[] = Object.freeze([0, 1, 2, 3, 4, 5, 6, 7]);
const PAGE_16K = 16384;
/** The smallest IPA size the stage-2 format takes (T0SZ ≤ 39 without FEAT_TTST). */
const MIN_HW_IPA_BITS = 25;
const NO_EXCEPTION = Object.freeze({ syndrome: 0n, virtual_address: 0n, physical_address: 0n });

/** How the backend gets its machine (a pool shared by every el2 backend of the process). */
export interface MachineSource {
  acquire(): Machine;
  release(m: Machine): void;
}

/** Options of the backend. */
export interface El2BackendOptions {
  /** `hv_vm_get_max_vcpu_count`: live vCPUs per VM (at most 64, one slot page each). Default 64. */
  readonly maxVcpus?: number;
  /** `hv_vm_config_get_max_ipa_size`. Default 40 (hvf-facts.md §2.3 [R]). */
  readonly maxIpaSize?: number;
}

/** Feature registers that are `hv_sys_reg_t` ID registers (the vCPU's, by guestIdValue). */
const FEATURE_SYS_REG: Readonly<Record<number, number>> = {
  [HV_FEATURE_REG.HV_FEATURE_REG_ID_AA64DFR0_EL1]: HV_SYS_REG.HV_SYS_REG_ID_AA64DFR0_EL1,
  [HV_FEATURE_REG.HV_FEATURE_REG_ID_AA64DFR1_EL1]: HV_SYS_REG.HV_SYS_REG_ID_AA64DFR1_EL1,
  [HV_FEATURE_REG.HV_FEATURE_REG_ID_AA64ISAR0_EL1]: HV_SYS_REG.HV_SYS_REG_ID_AA64ISAR0_EL1,
  [HV_FEATURE_REG.HV_FEATURE_REG_ID_AA64ISAR1_EL1]: HV_SYS_REG.HV_SYS_REG_ID_AA64ISAR1_EL1,
  [HV_FEATURE_REG.HV_FEATURE_REG_ID_AA64MMFR0_EL1]: HV_SYS_REG.HV_SYS_REG_ID_AA64MMFR0_EL1,
  [HV_FEATURE_REG.HV_FEATURE_REG_ID_AA64MMFR1_EL1]: HV_SYS_REG.HV_SYS_REG_ID_AA64MMFR1_EL1,
  [HV_FEATURE_REG.HV_FEATURE_REG_ID_AA64MMFR2_EL1]: HV_SYS_REG.HV_SYS_REG_ID_AA64MMFR2_EL1,
  [HV_FEATURE_REG.HV_FEATURE_REG_ID_AA64PFR0_EL1]: HV_SYS_REG.HV_SYS_REG_ID_AA64PFR0_EL1,
  [HV_FEATURE_REG.HV_FEATURE_REG_ID_AA64PFR1_EL1]: HV_SYS_REG.HV_SYS_REG_ID_AA64PFR1_EL1,
  // Not in the spec's hv_sys_reg_t table: QEMU runs with sve=off, sme=off, so they are 0 (not read).
  [HV_FEATURE_REG.HV_FEATURE_REG_ID_AA64SMFR0_EL1]: 0xc025,
  [HV_FEATURE_REG.HV_FEATURE_REG_ID_AA64ZFR0_EL1]: 0xc024,
};

/** Feature registers the runtime reads at boot into the control page. */
const FEATURE_BOOT: Readonly<Record<number, number>> = {
  [HV_FEATURE_REG.HV_FEATURE_REG_CTR_EL0]: CTRL.CTR_EL0,
  [HV_FEATURE_REG.HV_FEATURE_REG_CLIDR_EL1]: CTRL.CLIDR_EL1,
  [HV_FEATURE_REG.HV_FEATURE_REG_DCZID_EL0]: CTRL.DCZID_EL0,
};

type Arm64Call = keyof typeof ARM64_ARG_CHECKS;
type ArgsOf<K extends Arm64Call> = Parameters<(typeof ARM64_ARG_CHECKS)[K]>;

/** The registry's JS-type checks of call `name` (TypeError naming the parameter). */
function checkArgs<K extends Arm64Call>(name: K, args: ArgsOf<K>): void {
  (ARM64_ARG_CHECKS[name] as (...a: readonly unknown[]) => void)(...args);
}

interface Buffer {
  readonly handle: HostMemory;
  /** Offset in RAM. */
  readonly offset: number;
}

interface Page {
  /** Offset in RAM of the host page mapped here. */
  readonly ram: number;
  flags: number;
}

interface VcpuRecord {
  readonly id: number;
  readonly owner: number;
  readonly slot: number;
  /** The slot page as the host keeps it (registers in, exit record out). */
  readonly img: Uint8Array;
  readonly words: BigUint64Array;
  /** System registers the runtime's table does not have (a newer spec than the runtime). */
  readonly extraSys: Map<number, bigint>;
  pendingIrq: boolean;
  pendingFiq: boolean;
  /**
   * hv_vcpu_get_exec_time: host nanoseconds from ringing a run to its answer, summed over runs that
   * entered the guest (it includes QEMU's emulation; README, "Choices").
   */
  execTime: bigint;
  runStarted: bigint | undefined;
  vtimerMasked: boolean;
  trapDebugExceptions: boolean;
  trapDebugRegAccesses: boolean;
  cancel: boolean;
  running: boolean;
  seq: bigint;
}

interface Vm {
  readonly ipaLimit: bigint;
  /** The in-framework GIC, once hv_gic_create made it (the spec's software GIC, README "Choices"). */
  gic?: GicDevice;
  /** A vCPU of this VM entered the guest (hv_gic_set_state must come before, hvf-facts.md §2.7 [H]). */
  ran?: boolean;
  readonly granule: number;
  readonly stage2: Stage2;
  /** Mapped stage-2 pages by IPA / granule. */
  readonly pages: Map<number, Page>;
  readonly vcpus: Map<number, VcpuRecord>;
  nextVcpu: number;
}

interface AsyncRun {
  readonly v: VcpuRecord;
  readonly t: number;
  readonly before: number;
  readonly resolve: (r: Result<Arm64Exit>) => void;
}

function ok<T>(value: T): Result<T> {
  return { ret: HV.HV_SUCCESS, value };
}
function fail(ret: number): Result<never> {
  return { ret };
}
const SUCCESS: Result = Object.freeze({ ret: HV.HV_SUCCESS });
/** A call on a logical thread that is inside an async run. */
const BUSY: Result<never> = Object.freeze({ ret: HV.HV_BUSY });

function checkOffset(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new TypeError(
      `${name} must be a non-negative integer, got ${typeof value === 'bigint' ? `${value}n` : String(value)}`,
    );
  }
}

/**
 * The identification registers a guest of this VM sees, from the CPU's values at boot: the guest runs
 * at EL1 of a VM without EL2 (hv_vm_config_set_el2_enabled is not offered), in AArch64 only (Apple
 * cores have no AArch32; HVF refuses nothing else here), without a GIC system-register interface
 * (no hv_gic), so those fields of ID_AA64PFR0_EL1 say so.
 */
function guestIdValue(reg: number, boot: bigint): bigint {
  if (reg === HV_SYS_REG.HV_SYS_REG_ID_AA64PFR0_EL1) {
    const clear = 0xffffn | (0xfn << 24n) | (0xfn << 36n); // EL0..EL3, GIC, SEL2
    return (boot & ~clear) | 0x11n; // EL0 and EL1: AArch64 only
  }
  return boot;
}

/** The first INTID a GICv3 distributor register at `offset` is about (IHI 0069, GICD register map), or undefined. */
function distributorIntid(offset: number): number | undefined {
  if (offset >= 0x6100 && offset < 0x8000) return (offset - 0x6000) / 8; // IROUTER: eight bytes each
  return gicRegisterArray(offset - (offset % 4))?.first;
}

/** What el2 declares it does differently from the spec (README, "Capabilities" and "Disagreements"). */
export const EL2_DEVIATIONS: readonly Deviation[] = Object.freeze([
  {
    id: 'el2.qemu',
    description:
      'guests run on the Arm architecture as QEMU (TCG, -cpu max without SVE/SME) implements it, under a small EL2 hypervisor of hvspec’s own; exits, syndromes and addresses are QEMU’s, not Apple’s',
  },
  {
    id: 'el2.wfe',
    description:
      'QEMU (7.2) completes every WFE at once, as a hint, and never takes the HCR_EL2.TWE or SCTLR_EL1.nTWE trap: a guest WFE is neither an exit nor an exception at EL1 here. The Arm ARM allows it (a WFE may complete at any time; its traps are guaranteed only for a WFE that would not otherwise complete: HCR_EL2.TWE, SCTLR_EL1.nTWE); HVF traps WFE (EC 0x01, TI = 1)',
    arm64ExitKinds: ['arm64.wfe', 'arm64.el1.wfe'],
  },
  {
    id: 'el2.qemu-device-alignment',
    description:
      'QEMU 7.2 does not check the alignment of data accesses to Device memory (every data access while the stage-1 MMU is off): an unaligned one completes, or faults in stage 2, where the Arm ARM requires an Alignment fault first (B2 "Alignment of data accesses"; D8, the priority of alignment faults caused by the memory type). A QEMU bug (later QEMU checks it); alignment that the instruction requires (LDAR/STLR) is checked',
    arm64ExitKinds: ['arm64.el1.alignment.device'],
  },
  {
    id: 'el2.qemu-pc-alignment',
    description:
      'QEMU 7.2 translates the page of a misaligned PC before it checks the PC’s alignment: a branch to a misaligned address whose fetch would fault is reported as that instruction abort (an exit with a misaligned FAR) instead of the PC alignment fault the Arm ARM gives priority (D1 "Synchronous exception prioritization"). A QEMU bug; a misaligned target that can be fetched gives the PC alignment fault',
    arm64ExitKinds: ['arm64.el1.pc-alignment.unfetchable'],
  },
  {
    id: 'el2.qemu-daif-trap',
    description:
      'QEMU reports an EL0 MSR DAIFSet/DAIFClr trapped by SCTLR_EL1.UMA = 0 with Op1 and Op2 swapped in ESR_EL1 (Op1 6, Op2 3 for DAIFSet) where the Arm ARM has the instruction’s encoding (Op1 3, Op2 6/7: ESR_ELx, ISS of EC 0x18). A QEMU bug',
    arm64ExitKinds: ['arm64.el1.sysreg.daif'],
  },
  {
    id: 'el2.qemu-icc-sre',
    description:
      'QEMU’s GICv3 CPU interface makes ICC_SRE_EL2.Enable RAO/WI, which the architecture permits while SRE is RAO/WI (ICC_SRE_EL2, Enable), so the runtime cannot make a guest’s ICC_SRE_EL1 access trap: it reads 0x7 and is not an exit here; HVF without hv_gic traps it (QEMU’s hvf code handles it, hvf-facts.md §2.8 [T]). The rest of the CPU interface traps (ICH_HCR_EL2.TALL0/TALL1/TC)',
    arm64ExitKinds: ['arm64.sysreg.gic.sre'],
  },
  {
    id: 'el2.time',
    description:
      'the virtual counter is QEMU’s (CNTFRQ 62.5 MHz, host clock), not mach_absolute_time; guest code runs several times slower than on hardware and an exit takes about 100 µs, so vtimer exits land wherever QEMU’s timer fires',
  },
]);

/**
 * The configuration calls, the vCPU flag calls and the `hv_gic_*` methods: made in the class's static
 * block by the spec's {@link installArm64ConfigCalls}, {@link installArm64VcpuFlagCalls} and
 * {@link installArm64GicCalls}, as the model makes them.
 */
export interface El2Backend extends Pick<Arm64Backend, Arm64GicCall | Arm64ConfigCall | Arm64VcpuFlagCall> {}
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface declares the methods the static block makes
export class El2Backend implements Arm64Backend {
  readonly arch = 'arm64' as const;
  readonly capabilities: Capabilities;
  private readonly maxVcpus: number;
  private readonly maxIpaSize: number;
  private m: Machine | undefined;
  private goneReason: string | undefined;
  private goneReported = false;
  private closed = false;
  private readonly configs: Arm64Configs;
  /** The GIC's configurations and state objects (ids from `configs`), and its parameters. */
  private readonly gics: Arm64Gics;
  /** Buffers from hv_vm_allocate not yet freed. */
  private readonly allocations = new Set<number>();
  private vm: Vm | undefined;
  private readonly buffers = new Map<number, Buffer>();
  private nextBuffer = 1;
  /** Next free byte of the host pool, and how far it was ever used since the machine started. */
  private poolNext = HOST_POOL_OFFSET;
  private poolDirtyTop = HOST_POOL_OFFSET;
  /** RAM ranges the host wrote that may hold translated code (see DB.INVALIDATE). */
  private readonly staleCode: [number, number][] = [];
  private readonly busy = new Set<number>();
  private readonly asyncRuns = new Map<number, AsyncRun>();
  private readonly freeSlots: number[] = [];
  /** Runtime system-register table: hv_sys_reg_t → slot index, and each entry's class. */
  private sysIndex = new Map<number, { index: number; cls: number }>();
  private bootSys: bigint[] = [];
  private watchdog: ReturnType<typeof setInterval> | undefined;
  /** VTTBR, VTCR and TLB generation as last written to the control page. */
  private ctrlShadow: bigint[] = [];

  /**
   * Built by {@link createEl2Backend}, which boots the machine pool (`source`).
   * @internal
   */
  constructor(
    private readonly source: MachineSource,
    options: El2BackendOptions = {},
  ) {
    this.maxVcpus = options.maxVcpus ?? MAX_SLOTS;
    if (!Number.isSafeInteger(this.maxVcpus) || this.maxVcpus < 1 || this.maxVcpus > MAX_SLOTS)
      throw new TypeError(`options.maxVcpus must be an integer in [1, ${MAX_SLOTS}]`);
    this.maxIpaSize = options.maxIpaSize ?? 40;
    if (!Number.isSafeInteger(this.maxIpaSize) || this.maxIpaSize < IPA_SIZE_DEFAULT || this.maxIpaSize > 40)
      throw new TypeError(`options.maxIpaSize must be an integer in [${IPA_SIZE_DEFAULT}, 40]`);
    this.configs = new Arm64Configs({ maxIpaSize: this.maxIpaSize, ipaGranule4k: true, el2Supported: false });
    const gic = softwareGicParameters(this.maxVcpus);
    this.gics = new Arm64Gics(gic, this.configs, this.maxVcpus);
    this.capabilities = Object.freeze({
      backend: 'el2',
      arch: 'arm64',
      pageSize: PAGE_16K,
      maxVcpus: this.maxVcpus,
      guestExecution: true,
      enforcedPermissions: ALL_PERMISSION_SETS,
      deviations: EL2_DEVIATIONS,
      maxIpaSize: this.maxIpaSize,
      defaultIpaSize: IPA_SIZE_DEFAULT,
      ipaGranule4k: true,
      el2Supported: false,
      gic: Object.freeze({ ...gic }),
    });
    for (let s = MAX_SLOTS - 1; s >= 0; s--) this.freeSlots.push(s);
  }

  /** Why the backend is gone (QEMU died or stopped answering), or undefined while it works. */
  get gone(): string | undefined {
    if (this.goneReason === undefined && this.m?.gone !== undefined) this.noteGone(this.m.gone);
    return this.goneReason;
  }

  /**
   * ICC_SRE_EL2 as the runtime read it back at boot after writing Enable (bit 3) = 0: QEMU makes the bit
   * RAO/WI, as the GICv3 architecture permits when SRE is RAO/WI (README, D11).
   * @internal
   */
  qemuIccSreEl2(): bigint {
    return this.machine().readU64(CTRL_OFFSET + CTRL.ICC_SRE_EL2);
  }

  /**
   * One access to QEMU's own GICv3 distributor (not a VM's GIC): `value` writes it, otherwise it is read.
   * For the test that holds the spec's software GIC against QEMU's implementation of the architecture
   * (test/gic-qemu.test.ts). Only the per-INTID registers of INTIDs from 64 up are reachable; the rest
   * (GICD_CTLR, the runtime's own UART interrupt) is the runtime's, and a RangeError.
   * @internal
   */
  qemuDistributor(offset: number, size: 1 | 4 | 8, value?: bigint): bigint {
    const intid = distributorIntid(offset);
    if (intid === undefined || intid < 64 || offset % size !== 0)
      throw new RangeError(`offset 0x${offset.toString(16)} is not a register of an INTID from 64 up`);
    const m = this.machine();
    m.writeU64(CTRL_OFFSET + CTRL.GICD_REG, BigInt(offset));
    m.writeU64(CTRL_OFFSET + CTRL.GICD_ACCESS, BigInt(size | (value === undefined ? 0 : 0x100)));
    if (value !== undefined) m.writeU64(CTRL_OFFSET + CTRL.GICD_VALUE, value);
    if (!m.control(DB.GICD, DB_OUT.GICD_DONE)) throw new Error(`the EL2 runtime is gone: ${this.gone ?? ''}`);
    return value ?? m.readU64(CTRL_OFFSET + CTRL.GICD_VALUE);
  }

  /** QEMU's process id, once the machine has started (for tests that simulate a crash). */
  get qemuPid(): number | undefined {
    return this.m?.pid;
  }

  // ---- plumbing --------------------------------------------------------------------------------------

  private ensureOpen(): void {
    if (this.closed) throw new Error('this el2 backend was closed');
  }

  /** Step 0 of every call: the backend is open and the thread id has its type. */
  private enter(t: number): void {
    this.ensureOpen();
    checkThread(t);
  }

  /**
   * The prologue of call `name`: step 0, the registry's JS-type checks, HV_BUSY on a thread inside an
   * async run (busyOn), then HV_ERROR once the machine is gone. Undefined when the call goes on.
   */
  private begin<K extends Arm64Call>(name: K, ...args: ArgsOf<K>): Result<never> | undefined {
    const t = args[0] as number;
    this.enter(t);
    checkArgs(name, args);
    if (this.busyOn(t)) return BUSY;
    return this.goneResult(name);
  }

  /**
   * begin() without the busy step, for the calls that both arm64 backends answer from their own checks
   * on a busy thread too (EL2 and vCPU configs, hv_vm_allocate/deallocate, hv_gic_*; as the model does).
   */
  private beginWithoutBusyCheck<K extends Arm64Call>(name: K, ...args: ArgsOf<K>): Result<never> | undefined {
    this.enter(args[0] as number);
    checkArgs(name, args);
    return this.goneResult(name);
  }

  /**
   * After the argument checks: whether logical thread `t` is inside an async run. Its calls then answer
   * HV_BUSY, as a real vCPU thread inside hv_vcpu_run is busy (the model and the native backend agree).
   */
  private busyOn(t: number): boolean {
    return this.busy.size > 0 && this.busy.has(t);
  }

  private noteGone(reason: string): void {
    if (this.goneReason !== undefined) return;
    this.goneReason = reason;
    for (const run of [...this.asyncRuns.values()]) this.endAsync(run, fail(HV.HV_ERROR));
    for (const v of this.vm?.vcpus.values() ?? []) v.running = false;
  }

  /** HV_ERROR for every hv_* call once the machine is gone, saying so once on stderr. */
  private goneResult(call: string): Result<never> | undefined {
    if (this.gone === undefined) return undefined;
    if (!this.goneReported) {
      this.goneReported = true;
      process.stderr.write(
        `@hvspec/el2: the backend is gone (${this.goneReason}); ${call} and every later call return HV_ERROR until reset()\n`,
      );
    }
    return fail(HV.HV_ERROR);
  }

  /** The machine, started (or taken from the pool) on first use. */
  private machine(): Machine {
    if (this.m) return this.m;
    const m = this.source.acquire();
    this.m = m;
    m.onGone = (reason) => this.noteGone(reason);
    m.onAsync = (slot) => this.asyncDone(slot);
    const n = Number(m.readU64(CTRL_OFFSET + CTRL.NSYSREGS));
    this.sysIndex = new Map();
    this.bootSys = [];
    for (let i = 0; i < n; i++) {
      const e = m.readU64(CTRL_OFFSET + CTRL.SYSREG_TABLE + 8 * i);
      this.sysIndex.set(Number(e & 0xffffn), { index: i, cls: Number((e >> 16n) & 0xffn) });
      this.bootSys.push(m.readU64(CTRL_OFFSET + CTRL.SYSREG_BOOT + 8 * i));
    }
    this.poolNext = HOST_POOL_OFFSET;
    this.poolDirtyTop = m.poolDirtyTop;
    this.ctrlShadow = [];
    return m;
  }

  // ---- host memory -----------------------------------------------------------------------------------

  /**
   * The limit every backend shares (`checkHostAllocSize`: TypeError, RangeError); memory the machine
   * does not have left is an `Error`, as memory the system refuses is on the native backend.
   */
  host_alloc(size: number): HostMemory {
    this.ensureOpen();
    const rounded = checkHostAllocSize(size, PAGE_16K);
    if (this.gone) throw new Error(`the el2 backend is gone: ${this.goneReason}`);
    const m = this.machine();
    if (this.poolNext + rounded > m.ramSize)
      throw new Error(
        `host_alloc(${size}): the el2 machine has ${m.ramSize - this.poolNext} bytes of host memory left (option ramSize)`,
      );
    const offset = this.poolNext;
    this.poolNext += rounded;
    // Fresh file pages read as zero; pages an earlier test used are zeroed here.
    const reused = Math.min(offset + rounded, this.poolDirtyTop);
    if (reused > offset) this.rawWrite(offset, new Uint8Array(reused - offset));
    if (this.poolNext > this.poolDirtyTop) this.poolDirtyTop = this.poolNext;
    m.poolDirtyTop = this.poolDirtyTop;
    const handle: HostMemory = Object.freeze({ id: this.nextBuffer++, size: rounded });
    this.buffers.set(handle.id, { handle, offset });
    return handle;
  }

  host_write(mem: HostMemory, offset: number, bytes: Uint8Array): void {
    this.ensureOpen();
    const b = this.buffer(mem, 'mem');
    checkOffset('offset', offset);
    if (!(bytes instanceof Uint8Array)) throw new TypeError('bytes must be a Uint8Array');
    if (offset + bytes.length > b.handle.size)
      throw new RangeError(
        `host_write of ${bytes.length} bytes at offset ${offset} is outside the ${b.handle.size}-byte buffer`,
      );
    if (this.gone) throw new Error(`the el2 backend is gone: ${this.goneReason}`);
    this.rawWrite(b.offset + offset, bytes);
  }

  host_read(mem: HostMemory, offset: number, size: number): Uint8Array {
    this.ensureOpen();
    const b = this.buffer(mem, 'mem');
    checkOffset('offset', offset);
    checkOffset('size', size);
    if (offset + size > b.handle.size)
      throw new RangeError(
        `host_read of ${size} bytes at offset ${offset} is outside the ${b.handle.size}-byte buffer`,
      );
    if (this.gone) throw new Error(`the el2 backend is gone: ${this.goneReason}`);
    return (this.m as Machine).read(b.offset + offset, size);
  }

  /** Writes RAM, noting ranges that may hold code QEMU has translated. */
  private rawWrite(offset: number, bytes: Uint8Array): void {
    const m = this.m as Machine;
    m.write(offset, bytes);
    if (m.maybeCode.size === 0) return;
    const end = offset + bytes.length;
    for (let p = offset >> 12; p << 12 < end; p++) {
      if (!m.maybeCode.has(p)) continue;
      const s = Math.max(offset, p << 12);
      const e = Math.min(end, (p + 1) << 12);
      const last = this.staleCode.at(-1);
      if (last && last[0] + last[1] === s) last[1] += e - s;
      else this.staleCode.push([s, e - s]);
    }
  }

  private buffer(mem: unknown, name: string): Buffer {
    if (typeof mem !== 'object' || mem === null || typeof (mem as { id?: unknown }).id !== 'number')
      throw new TypeError(`${name} must be a HostMemory returned by host_alloc`);
    const b = this.buffers.get((mem as HostMemory).id);
    if (b === undefined || b.handle !== mem)
      throw new TypeError(
        `${name} is not a live buffer of this backend (allocated by another backend, or before reset())`,
      );
    return b;
  }

  // ---- lifetime ----------------------------------------------------------------------------------------

  /**
   * Back to "no VM", as process exit would leave things, without rebooting the machine: the runtime
   * drops any run in flight (those end with HV_NO_DEVICE, as on the model), buffers and tables are
   * forgotten. A gone machine is replaced on next use.
   */
  async reset(): Promise<void> {
    for (const run of [...this.asyncRuns.values()]) this.endAsync(run, fail(HV.HV_NO_DEVICE));
    this.busy.clear();
    this.vm = undefined;
    this.configs.clear();
    this.gics.clear();
    this.allocations.clear();
    this.buffers.clear();
    this.staleCode.length = 0;
    this.freeSlots.length = 0;
    for (let s = MAX_SLOTS - 1; s >= 0; s--) this.freeSlots.push(s);
    const m = this.m;
    if (m && m.gone === undefined && this.goneReason === undefined) {
      m.writeU64(CTRL_OFFSET + CTRL.VTTBR, 0n);
      m.control(DB.RESET, DB_OUT.RESET_DONE);
      this.ctrlShadow = [];
    }
    if (m && (m.gone !== undefined || this.goneReason !== undefined)) {
      m.kill();
      this.m = undefined;
    }
    this.poolNext = HOST_POOL_OFFSET;
    this.goneReason = undefined;
    this.goneReported = false;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.reset();
    this.closed = true;
    if (this.m) {
      this.m.onGone = undefined;
      this.m.onAsync = undefined;
      this.source.release(this.m);
      this.m = undefined;
    }
  }

  // ---- host queries and configs --------------------------------------------------------------------------

  hv_vm_get_max_vcpu_count(t: ThreadId): Result<number> {
    return this.begin('hv_vm_get_max_vcpu_count', t) ?? ok(this.maxVcpus);
  }

  // ---- VM ---------------------------------------------------------------------------------------------------

  hv_vm_create(t: ThreadId, config: VmConfig | null): Result {
    const early = this.begin('hv_vm_create', t, config);
    if (early) return early;
    const shape = this.configs.vmShape(config);
    if (shape === undefined) return fail(HV.HV_BAD_ARGUMENT);
    if (this.vm !== undefined) return fail(HV.HV_BUSY); // one VM per process (hvf-facts.md §3 [T])
    const { ipaSize, granuleBytes: granule } = shape;
    this.machine().tlbEpoch++;
    this.vm = {
      ipaLimit: 1n << BigInt(ipaSize),
      granule,
      stage2: new Stage2({ granule, ipaBits: Math.max(ipaSize, MIN_HW_IPA_BITS) }),
      pages: new Map(),
      vcpus: new Map(),
      nextVcpu: 0,
    };
    return SUCCESS;
  }

  hv_vm_destroy(t: ThreadId): Result {
    const early = this.begin('hv_vm_destroy', t);
    if (early) return early;
    if (this.vm === undefined) return fail(HV.HV_NO_DEVICE);
    if (this.vm.vcpus.size > 0) return fail(HV.HV_BUSY); // "Requires all vCPUs be destroyed" [H]
    this.vm = undefined;
    return SUCCESS;
  }

  // ---- mappings -----------------------------------------------------------------------------------------------

  hv_vm_map(t: ThreadId, uva: Uva, ipa: bigint, size: bigint, flags: number): Result {
    this.enter(t);
    ARM64_ARG_CHECKS.hv_vm_map(t, uva, ipa, size, flags);
    if (this.busyOn(t)) return BUSY;
    const b = this.buffer(uva.mem, 'uva.mem');
    const g = this.goneResult('hv_vm_map');
    if (g) return g;
    const vm = this.vm;
    if (vm === undefined) return fail(HV.HV_NO_DEVICE);
    if ((flags & ~HV_MEMORY_RWX) !== 0) return fail(HV.HV_BAD_ARGUMENT);
    const bad = this.rangeError(vm, ipa, size);
    if (bad !== undefined) return fail(bad);
    if (uva.offset % vm.granule !== 0) return fail(HV.HV_BAD_ARGUMENT);
    if (BigInt(uva.offset) + size > BigInt(b.handle.size)) return fail(HV.HV_BAD_ARGUMENT);
    const g0 = Number(ipa / BigInt(vm.granule));
    const n = Number(size / BigInt(vm.granule));
    // An overlapping map is HV_ERROR, not HV_BAD_ARGUMENT (hvf-facts.md §2.5 [R]).
    for (let i = 0; i < n; i++) if (vm.pages.has(g0 + i)) return fail(HV.HV_ERROR);
    const ram = b.offset + uva.offset;
    try {
      vm.stage2.map(ipa, BigInt(RAM_BASE + ram), size, flags);
    } catch (e) {
      if (e instanceof TablePoolExhausted) {
        vm.stage2.unmap(ipa, size);
        return fail(HV.HV_NO_RESOURCES);
      }
      throw e;
    }
    for (let i = 0; i < n; i++) vm.pages.set(g0 + i, { ram: ram + i * vm.granule, flags });
    if (flags & 4) this.markCode(ram, Number(size));
    return this.afterMappingChange();
  }

  hv_vm_unmap(t: ThreadId, ipa: bigint, size: bigint): Result {
    const early = this.begin('hv_vm_unmap', t, ipa, size);
    if (early) return early;
    const vm = this.vm;
    if (vm === undefined) return fail(HV.HV_NO_DEVICE);
    const bad = this.rangeError(vm, ipa, size);
    if (bad !== undefined) return fail(bad);
    const g0 = Number(ipa / BigInt(vm.granule));
    const n = Number(size / BigInt(vm.granule));
    // A range larger than what is mapped: visit the mapped pages, not every page of the range.
    const pages = n > vm.pages.size ? [...vm.pages.keys()].filter((p) => p >= g0 && p < g0 + n) : undefined;
    for (const p of pages ?? Array.from({ length: n }, (_, i) => g0 + i)) {
      if (!vm.pages.delete(p)) continue;
      vm.stage2.unmap(BigInt(p) * BigInt(vm.granule), BigInt(vm.granule));
    }
    return this.afterMappingChange();
  }

  hv_vm_protect(t: ThreadId, ipa: bigint, size: bigint, flags: number): Result {
    const early = this.begin('hv_vm_protect', t, ipa, size, flags);
    if (early) return early;
    const vm = this.vm;
    if (vm === undefined) return fail(HV.HV_NO_DEVICE);
    if ((flags & ~HV_MEMORY_RWX) !== 0) return fail(HV.HV_BAD_ARGUMENT);
    const bad = this.rangeError(vm, ipa, size);
    if (bad !== undefined) return fail(bad);
    const g0 = Number(ipa / BigInt(vm.granule));
    const n = Number(size / BigInt(vm.granule));
    if (n > vm.pages.size) return fail(HV.HV_BAD_ARGUMENT); // cannot be fully mapped
    for (let i = 0; i < n; i++) if (!vm.pages.has(g0 + i)) return fail(HV.HV_BAD_ARGUMENT);
    vm.stage2.protect(ipa, size, flags);
    for (let i = 0; i < n; i++) {
      const p = vm.pages.get(g0 + i) as Page;
      p.flags = flags;
      if (flags & 4) this.markCode(p.ram, vm.granule);
    }
    return this.afterMappingChange();
  }

  /** Size 0, granule alignment of ipa and size (hvf-facts.md §2.5 [R]), and the IPA limit. */
  private rangeError(vm: Vm, ipa: bigint, size: bigint): number | undefined {
    const g = BigInt(vm.granule);
    if (size === 0n || ipa % g !== 0n || size % g !== 0n) return HV.HV_BAD_ARGUMENT;
    if (ipa + size > vm.ipaLimit) return HV.HV_BAD_ARGUMENT;
    return undefined;
  }

  private markCode(ram: number, size: number): void {
    const code = (this.m as Machine).maybeCode;
    for (let p = ram >> 12; p << 12 < ram + size; p++) code.add(p);
  }

  /**
   * A mapping changed. With a run in flight the guest must see it before the call returns, as on the
   * framework: the tables are written and the runtime flushes its TLBs now. Otherwise the next run does.
   */
  private afterMappingChange(): Result {
    if (!this.vm || ![...this.vm.vcpus.values()].some((v) => v.running)) return SUCCESS;
    if (!this.flushTables()) return fail(HV.HV_ERROR);
    return (this.m as Machine).control(DB.TLB_FLUSH, DB_OUT.FLUSHED) ? SUCCESS : fail(HV.HV_ERROR);
  }

  /** Writes changed table pages and the VM's translation registers to RAM. */
  private flushTables(): boolean {
    const vm = this.vm;
    const m = this.machine();
    if (!vm) return true;
    for (const { offset, bytes } of vm.stage2.takeDirty()) m.write(offset, bytes);
    // VTTBR, VTCR and the TLB generation are adjacent in the control page: one write when one changed.
    const regs = [vm.stage2.vttbr, vm.stage2.vtcr, (BigInt(m.tlbEpoch) << 32n) + vm.stage2.generation];
    if (regs.some((r, i) => this.ctrlShadow[i] !== r)) {
      const b = Buffer.alloc(24);
      regs.forEach((r, i) => {
        b.writeBigUInt64LE(r, 8 * i);
      });
      m.write(CTRL_OFFSET + CTRL.VTTBR, b);
      this.ctrlShadow = regs;
    }
    return m.gone === undefined;
  }

  // ---- vCPUs ----------------------------------------------------------------------------------------------------

  /** A vCPU configuration describes the same vCPU as NULL (the CPU's, guestIdValue). */
  hv_vcpu_create(t: ThreadId, config: VcpuConfig | null): Result<Vcpu> {
    const early = this.begin('hv_vcpu_create', t, config);
    if (early) return early;
    const vm = this.vm;
    if (vm === undefined) return fail(HV.HV_NO_DEVICE);
    if (config !== null && !this.configs.isVcpu(config)) return fail(HV.HV_BAD_ARGUMENT);
    // "Each thread can have only one vCPU at a time" (hvf-facts.md §2.4 [H]).
    for (const v of vm.vcpus.values()) if (v.owner === t) return fail(HV.HV_BUSY);
    if (vm.vcpus.size >= this.maxVcpus) return fail(HV.HV_NO_RESOURCES);
    this.machine();
    const slot = this.freeSlots.pop() as number;
    const id = vm.nextVcpu++;
    const img = new Uint8Array(SLOT_SIZE);
    const v: VcpuRecord = {
      id,
      owner: t,
      slot,
      img,
      words: new BigUint64Array(img.buffer),
      extraSys: new Map(),
      pendingIrq: false,
      pendingFiq: false,
      execTime: 0n,
      runStarted: undefined,
      vtimerMasked: false,
      trapDebugExceptions: false,
      trapDebugRegAccesses: false,
      cancel: false,
      running: false,
      seq: 0n,
    };
    this.freshState(v);
    vm.vcpus.set(id, v);
    return ok(id as Vcpu);
  }

  /**
   * A fresh vCPU: every register 0 — PC, CPSR (EL0t), SCTLR_EL1 and the rest, as observed on the
   * framework (hvf-facts.md §2.6, §5.7 [T/R]) — except the identification registers: the CPU's own
   * (guestIdValue), and MPIDR_EL1 with Aff0 = the vCPU id and the RES1 bit 31 (VMMs overwrite it,
   * §5.8).
   */
  private freshState(v: VcpuRecord): void {
    for (const [reg, { index, cls }] of this.sysIndex) {
      const w = (SLOT.SYS >> 3) + index;
      if (cls === SYSREG_CLASS.ID || cls === SYSREG_CLASS.VPIDR)
        v.words[w] = guestIdValue(reg, this.bootSys[index] ?? 0n);
      else if (cls === SYSREG_CLASS.VMPIDR) v.words[w] = 0x8000_0000n | BigInt(v.id & 0xff);
    }
  }

  hv_vcpu_destroy(t: ThreadId, vcpu: Vcpu): Result {
    const v = this.vcpuCall('hv_vcpu_destroy', t, vcpu);
    if (typeof v === 'number') return fail(v);
    this.vm?.vcpus.delete(v.id);
    this.freeSlots.push(v.slot);
    return SUCCESS;
  }

  /** The vCPU a per-vCPU call is about, or the code it returns: begin(), then steps 1–3. */
  private vcpuCall<K extends Arm64Call>(name: K, ...args: ArgsOf<K>): VcpuRecord | number {
    return this.begin(name, ...args)?.ret ?? this.owned(args[0] as number, args[1] as number);
  }

  /** Steps 1–3 for per-vCPU calls: VM, live handle, owner thread. */
  private owned(t: number, vcpu: number): VcpuRecord | number {
    if (this.vm === undefined) return HV.HV_NO_DEVICE;
    const v = this.vm.vcpus.get(vcpu);
    if (v === undefined || v.owner !== t) return HV.HV_BAD_ARGUMENT;
    return v;
  }

  private regWord(reg: number): number {
    if (reg <= 30) return (SLOT.X >> 3) + reg;
    switch (reg) {
      case HV_REG.HV_REG_PC:
        return SLOT.PC >> 3;
      case HV_REG.HV_REG_FPCR:
        return SLOT.FPCR >> 3;
      case HV_REG.HV_REG_FPSR:
        return SLOT.FPSR >> 3;
      default:
        return SLOT.CPSR >> 3;
    }
  }

  hv_vcpu_get_reg(t: ThreadId, vcpu: Vcpu, reg: number): Result<bigint> {
    const v = this.vcpuCall('hv_vcpu_get_reg', t, vcpu, reg);
    if (typeof v === 'number') return fail(v);
    if (reg >= HV_REG_COUNT) return fail(HV.HV_BAD_ARGUMENT);
    return ok(v.words[this.regWord(reg)] as bigint);
  }

  hv_vcpu_set_reg(t: ThreadId, vcpu: Vcpu, reg: number, value: bigint): Result {
    const v = this.vcpuCall('hv_vcpu_set_reg', t, vcpu, reg, value);
    if (typeof v === 'number') return fail(v);
    if (reg >= HV_REG_COUNT) return fail(HV.HV_BAD_ARGUMENT);
    v.words[this.regWord(reg)] = value;
    return SUCCESS;
  }

  hv_vcpu_get_simd_fp_reg(t: ThreadId, vcpu: Vcpu, reg: number): Result<bigint> {
    const v = this.vcpuCall('hv_vcpu_get_simd_fp_reg', t, vcpu, reg);
    if (typeof v === 'number') return fail(v);
    if (reg >= HV_SIMD_FP_REG_COUNT) return fail(HV.HV_BAD_ARGUMENT);
    const w = (SLOT.Q >> 3) + 2 * reg;
    return ok(((v.words[w + 1] as bigint) << 64n) | (v.words[w] as bigint));
  }

  /** Q registers as stored by `stp q`: the low 64 bits first (little-endian memory image). */
  hv_vcpu_set_simd_fp_reg(t: ThreadId, vcpu: Vcpu, reg: number, value: bigint): Result {
    const v = this.vcpuCall('hv_vcpu_set_simd_fp_reg', t, vcpu, reg, value);
    if (typeof v === 'number') return fail(v);
    if (reg >= HV_SIMD_FP_REG_COUNT) return fail(HV.HV_BAD_ARGUMENT);
    const w = (SLOT.Q >> 3) + 2 * reg;
    v.words[w] = value & 0xffff_ffff_ffff_ffffn;
    v.words[w + 1] = value >> 64n;
    return SUCCESS;
  }

  hv_vcpu_get_sys_reg(t: ThreadId, vcpu: Vcpu, reg: number): Result<bigint> {
    const v = this.vcpuCall('hv_vcpu_get_sys_reg', t, vcpu, reg);
    if (typeof v === 'number') return fail(v);
    if (!isKnownSysReg(reg)) return fail(HV.HV_BAD_ARGUMENT);
    return ok(this.sysValue(v, reg));
  }

  /** A system register of the vCPU as the host keeps it. */
  private sysValue(v: VcpuRecord, reg: number): bigint {
    const e = this.sysIndex.get(reg);
    if (e === undefined) return v.extraSys.get(reg) ?? 0n;
    return v.words[(SLOT.SYS >> 3) + e.index] as bigint;
  }

  hv_vcpu_set_sys_reg(t: ThreadId, vcpu: Vcpu, reg: number, value: bigint): Result {
    const v = this.vcpuCall('hv_vcpu_set_sys_reg', t, vcpu, reg, value);
    if (typeof v === 'number') return fail(v);
    if (!isKnownSysReg(reg)) return fail(HV.HV_BAD_ARGUMENT);
    const e = this.sysIndex.get(reg);
    if (e === undefined) v.extraSys.set(reg, value);
    else v.words[(SLOT.SYS >> 3) + e.index] = value;
    return SUCCESS;
  }

  hv_vcpu_get_vtimer_offset(t: ThreadId, vcpu: Vcpu): Result<bigint> {
    const v = this.vcpuCall('hv_vcpu_get_vtimer_offset', t, vcpu);
    return typeof v === 'number' ? fail(v) : ok(v.words[SLOT.VTIMER_OFFSET >> 3] as bigint);
  }

  hv_vcpu_set_vtimer_offset(t: ThreadId, vcpu: Vcpu, vtimer_offset: bigint): Result {
    const v = this.vcpuCall('hv_vcpu_set_vtimer_offset', t, vcpu, vtimer_offset);
    if (typeof v === 'number') return fail(v);
    v.words[SLOT.VTIMER_OFFSET >> 3] = vtimer_offset;
    return SUCCESS;
  }

  // ---- running --------------------------------------------------------------------------------------------------

  /**
   * Runs until the next exit:
   *  - a pending hv_vcpus_exit: HV_SUCCESS, reason CANCELED, the guest not entered, the flag cleared
   *    (hvf-facts.md §2.4 [H]);
   *  - a CPSR no guest can run in (EL2/EL3 while EL2 is off, AArch32, reserved modes):
   *    HV_ILLEGAL_GUEST_STATE, the guest not entered;
   *  - QEMU gone: HV_ERROR (the reason on stderr);
   *  - otherwise HV_SUCCESS with the exit record.
   * Pending IRQ/FIQ are cleared whenever the run returns (hvf-facts.md §2.4 [H]).
   */
  hv_vcpu_run(t: ThreadId, vcpu: Vcpu): Result<Arm64Exit> {
    const v = this.vcpuCall('hv_vcpu_run', t, vcpu);
    if (typeof v === 'number') return fail(v);
    const early = this.runStart(v);
    if (early !== undefined) return early;
    const m = this.m as Machine;
    const before = m.doneCount(v.slot);
    m.setAsync(v.slot, false);
    v.running = true;
    v.runStarted = process.hrtime.bigint();
    if (!m.ring(DB.RUN + v.slot) || !m.waitDone(v.slot, before)) {
      v.running = false;
      return this.goneResult('hv_vcpu_run') ?? fail(HV.HV_ERROR);
    }
    return this.collect(v);
  }

  /**
   * `hv_vcpu_run` on logical thread `t` without blocking the caller: the thread is busy until the
   * runtime answers; calls of other threads go on meanwhile (an hv_vcpus_exit rings CANCEL and the
   * runtime ends the run from its UART interrupt).
   */
  hv_vcpu_run_async(t: ThreadId, vcpu: Vcpu): Promise<Result<Arm64Exit>> {
    this.enter(t);
    ARM64_ARG_CHECKS.hv_vcpu_run(t, vcpu);
    // Thread 0 is the caller itself: it cannot wait in the guest (a TypeError, as on every backend).
    checkAsyncThread(t);
    if (this.busyOn(t)) return Promise.resolve(BUSY);
    const g = this.goneResult('hv_vcpu_run');
    if (g) return Promise.resolve(g);
    const v = this.owned(t, vcpu);
    if (typeof v === 'number') return Promise.resolve(fail(v));
    const early = this.runStart(v);
    if (early !== undefined) return Promise.resolve(early);
    const m = this.m as Machine;
    const before = m.doneCount(v.slot);
    m.setAsync(v.slot, true);
    v.running = true;
    v.runStarted = process.hrtime.bigint();
    this.busy.add(t);
    const done = new Promise<Result<Arm64Exit>>((resolve) => {
      this.asyncRuns.set(v.slot, { v, t, before, resolve });
    });
    if (!m.ring(DB.RUN + v.slot)) {
      const run = this.asyncRuns.get(v.slot);
      if (run) this.endAsync(run, fail(HV.HV_ERROR));
    }
    this.startWatchdog();
    return done;
  }

  hv_vcpu_get_exec_time(t: ThreadId, vcpu: Vcpu): Result<bigint> {
    const v = this.vcpuCall('hv_vcpu_get_exec_time', t, vcpu);
    return typeof v === 'number' ? fail(v) : ok(v.execTime);
  }

  hv_vcpus_exit(t: ThreadId, vcpus: readonly Vcpu[], vcpu_count: number): Result {
    const early = this.begin('hv_vcpus_exit', t, vcpus, vcpu_count);
    if (early) return early;
    const vm = this.vm;
    if (vm === undefined) return fail(HV.HV_NO_DEVICE);
    const targets: VcpuRecord[] = [];
    for (const id of vcpus.slice(0, vcpu_count)) {
      const v = vm.vcpus.get(id);
      if (v === undefined) return fail(HV.HV_BAD_ARGUMENT);
      targets.push(v);
    }
    // Any thread may kick; sticky when the vCPU is not running (hvf-facts.md §2.4 [H]).
    for (const v of targets) {
      v.cancel = true;
      if (v.running && !(this.m as Machine).ring(DB.CANCEL + v.slot)) return fail(HV.HV_ERROR);
    }
    return SUCCESS;
  }

  /** Everything a run needs before RUN is rung; an early result when the guest is not entered. */
  private runStart(v: VcpuRecord): Result<Arm64Exit> | undefined {
    if (v.cancel) {
      v.cancel = false;
      this.clearPending(v);
      return ok({ reason: HV_EXIT_REASON.HV_EXIT_REASON_CANCELED, exception: NO_EXCEPTION });
    }
    const m = this.machine();
    if (!this.flushTables() || !this.invalidateStaleCode())
      return this.goneResult('hv_vcpu_run') ?? fail(HV.HV_ERROR);
    let flags = 0;
    if (v.pendingIrq) flags |= RUN_FLAG.IRQ;
    if (v.pendingFiq) flags |= RUN_FLAG.FIQ;
    if (v.vtimerMasked) flags |= RUN_FLAG.VTIMER_MASKED;
    if (v.trapDebugExceptions) flags |= RUN_FLAG.TRAP_DEBUG_EXCEPTIONS;
    if (v.trapDebugRegAccesses) flags |= RUN_FLAG.TRAP_DEBUG_REG_ACCESSES;
    v.words[SLOT.FLAGS >> 3] = BigInt(flags);
    v.seq++;
    v.words[SLOT.IN_SEQ >> 3] = v.seq;
    if (this.vm) this.vm.ran = true;
    // One write of the whole page: the exit-record words in it are rewritten by the runtime anyway.
    m.write(SLOT_OFFSET + v.slot * SLOT_SIZE, v.img);
    return undefined;
  }

  /** Tells the runtime to store back host-written bytes that QEMU may have translated as code. */
  private invalidateStaleCode(): boolean {
    const m = this.m as Machine;
    while (this.staleCode.length > 0) {
      const batch = this.staleCode.splice(0, MAX_RANGES);
      const buf = Buffer.alloc(16 * batch.length);
      batch.forEach(([off, len], i) => {
        buf.writeBigUInt64LE(BigInt(RAM_BASE + off), 16 * i);
        buf.writeBigUInt64LE(BigInt(len), 16 * i + 8);
      });
      m.write(CTRL_OFFSET + CTRL.RANGES, buf);
      m.writeU64(CTRL_OFFSET + CTRL.NRANGES, BigInt(batch.length));
      if (!m.control(DB.INVALIDATE, DB_OUT.INVALIDATED)) return false;
    }
    return true;
  }

  private clearPending(v: VcpuRecord): void {
    // "Pending state is cleared automatically when hv_vcpu_run returns" (hvf-facts.md §2.4 [H]).
    v.pendingIrq = false;
    v.pendingFiq = false;
  }

  /** Reads the slot page back after DONE and turns it into the run's result. */
  private collect(v: VcpuRecord): Result<Arm64Exit> {
    const m = this.m as Machine;
    v.running = false;
    if (v.runStarted !== undefined) {
      v.execTime += process.hrtime.bigint() - v.runStarted;
      v.runStarted = undefined;
    }
    const base = SLOT_OFFSET + v.slot * SLOT_SIZE;
    const flags = v.words[SLOT.FLAGS >> 3] as bigint;
    m.readInto(base, v.img);
    v.words[SLOT.FLAGS >> 3] = flags;
    this.clearPending(v);
    if (v.words[SLOT.OUT_SEQ >> 3] !== v.seq) {
      m.fail(
        `the EL2 runtime answered run ${v.words[SLOT.OUT_SEQ >> 3]} of slot ${v.slot}, expected ${v.seq}`,
      );
      return this.goneResult('hv_vcpu_run') ?? fail(HV.HV_ERROR);
    }
    const status = Number(v.words[SLOT.STATUS >> 3]);
    if (status === RUN_STATUS.ILLEGAL_STATE) return fail(HV.HV_ILLEGAL_GUEST_STATE);
    if (status !== RUN_STATUS.EXIT) return fail(HV.HV_NO_DEVICE);
    const reason = Number(v.words[SLOT.REASON >> 3]);
    if (reason === HV_EXIT_REASON.HV_EXIT_REASON_CANCELED) v.cancel = false;
    // The vtimer is masked automatically on a VTIMER_ACTIVATED exit (hvf-facts.md §2.6 [H]).
    if (v.words[SLOT.VTIMER_FIRED >> 3] !== 0n) v.vtimerMasked = true;
    return ok({
      reason,
      exception:
        reason === HV_EXIT_REASON.HV_EXIT_REASON_EXCEPTION
          ? {
              syndrome: v.words[SLOT.ESR >> 3] as bigint,
              virtual_address: v.words[SLOT.FAR >> 3] as bigint,
              physical_address: v.words[SLOT.IPA >> 3] as bigint,
            }
          : NO_EXCEPTION,
    });
  }

  private asyncDone(slot: number): void {
    if (slot < 0) {
      this.noteGone(this.m?.gone ?? 'the QEMU machine is gone');
      return;
    }
    const run = this.asyncRuns.get(slot);
    const m = this.m;
    if (!run || !m || m.doneCount(slot) === run.before) return;
    this.endAsync(run, this.collect(run.v));
  }

  private endAsync(run: AsyncRun, result: Result<Arm64Exit>): void {
    if (this.asyncRuns.get(run.v.slot) !== run) return;
    this.asyncRuns.delete(run.v.slot);
    this.busy.delete(run.t);
    run.v.running = false;
    this.m?.setAsync(run.v.slot, false);
    if (result.ret !== HV.HV_SUCCESS) this.clearPending(run.v);
    if (this.asyncRuns.size === 0 && this.watchdog) {
      clearInterval(this.watchdog);
      this.watchdog = undefined;
    }
    run.resolve(result);
  }

  /** While async runs are in flight, a machine that falls silent (no heartbeat) is declared gone. */
  private startWatchdog(): void {
    if (this.watchdog || !this.m) return;
    const m = this.m;
    let seen = m.activity;
    let since = Date.now();
    this.watchdog = setInterval(() => {
      if (m.activity !== seen) {
        seen = m.activity;
        since = Date.now();
      } else if (Date.now() - since > m.silenceLimitMs) {
        m.fail(`no answer or heartbeat from the EL2 runtime for ${m.silenceLimitMs} ms during an async run`);
      }
    }, 250);
    this.watchdog.unref();
  }
  // ---- EL2, the default granule, vCPU configurations ----------------------------------------------------

  /** QEMU 7.2's TCG has no FEAT_NV and the runtime runs guests at EL1: no EL2 guests (README). */

  /**
   * The CPU's registers as a vCPU of this backend presents them (the ID registers with guestIdValue's
   * changes); CTR_EL0, CLIDR_EL1 and DCZID_EL0 as the runtime read them at boot.
   */
  hv_vcpu_config_get_feature_reg(t: ThreadId, config: VcpuConfig, feature_reg: number): Result<bigint> {
    const early = this.beginWithoutBusyCheck('hv_vcpu_config_get_feature_reg', t, config, feature_reg);
    if (early) return early;
    if (!this.configs.isVcpu(config)) return fail(HV.HV_BAD_ARGUMENT);
    const m = this.machine();
    const boot = FEATURE_BOOT[feature_reg];
    if (boot !== undefined) return ok(m.readU64(CTRL_OFFSET + boot));
    const reg = FEATURE_SYS_REG[feature_reg];
    if (reg === undefined) return fail(HV.HV_BAD_ARGUMENT);
    const e = this.sysIndex.get(reg);
    return ok(e === undefined ? 0n : guestIdValue(reg, this.bootSys[e.index] ?? 0n));
  }

  /** CCSIDR_EL1 per level as the runtime read it at boot (index = level - 1; 0: no such cache). */
  hv_vcpu_config_get_ccsidr_el1_sys_reg_values(
    t: ThreadId,
    config: VcpuConfig,
    cache_type: number,
  ): Result<readonly bigint[]> {
    const early = this.beginWithoutBusyCheck(
      'hv_vcpu_config_get_ccsidr_el1_sys_reg_values',
      t,
      config,
      cache_type,
    );
    if (early) return early;
    if (!this.configs.isVcpu(config) || cache_type > HV_CACHE_TYPE.HV_CACHE_TYPE_INSTRUCTION)
      return fail(HV.HV_BAD_ARGUMENT);
    const m = this.machine();
    const at = CTRL_OFFSET + CTRL.CCSIDR + 64 * cache_type;
    return ok(Array.from({ length: 8 }, (_, i) => m.readU64(at + 8 * i)));
  }

  // ---- host memory for guests --------------------------------------------------------------------------

  /** Zeroed memory from the machine's host pool, like host_alloc's (its RAM is the guest's memory). */
  hv_vm_allocate(t: ThreadId, size: bigint, flags: bigint): Result<HostMemory> {
    const early = this.beginWithoutBusyCheck('hv_vm_allocate', t, size, flags);
    if (early) return early;
    if (flags !== 0n || size === 0n || size % BigInt(PAGE_16K) !== 0n) return fail(HV.HV_BAD_ARGUMENT);
    const m = this.machine();
    if (BigInt(this.poolNext) + size > BigInt(m.ramSize)) return fail(HV.HV_NO_RESOURCES);
    const mem = this.host_alloc(Number(size));
    this.allocations.add(mem.id);
    return ok(mem);
  }

  /** Frees a whole allocation no mapping uses (its RAM is not reused before reset()). */
  hv_vm_deallocate(t: ThreadId, uva: Uva, size: bigint): Result {
    this.enter(t);
    ARM64_ARG_CHECKS.hv_vm_deallocate(t, uva, size);
    const b = this.buffer(uva.mem, 'uva.mem');
    const g = this.goneResult('hv_vm_deallocate');
    if (g) return g;
    if (!this.allocations.has(b.handle.id)) return fail(HV.HV_BAD_ARGUMENT);
    if (uva.offset !== 0 || size !== BigInt(b.handle.size)) return fail(HV.HV_BAD_ARGUMENT);
    const first = b.offset;
    const last = b.offset + b.handle.size;
    for (const p of this.vm?.pages.values() ?? [])
      if (p.ram >= first && p.ram < last) return fail(HV.HV_BUSY);
    this.buffers.delete(b.handle.id);
    this.allocations.delete(b.handle.id);
    return SUCCESS;
  }

  // ---- the in-framework GIC: not on this backend --------------------------------------------------------

  /**
   * The methods installed on the prototype: the vCPU flag and configuration calls, answered as the model
   * answers them (the spec's installers, after this backend's prologue); and every `hv_gic_*`, which is
   * HV_UNSUPPORTED here, as on a host without the macOS 15 GIC: QEMU's GICv3 is the runtime's own
   * interrupt controller (its UART, its timers), and the runtime has no virtual GIC to give a guest
   * (README, "Capabilities"). One GIC method per registry entry.
   */
  static {
    installArm64VcpuFlagCalls(El2Backend.prototype, (self, name, args) =>
      self.vcpuCall(name, ...(args as ArgsOf<typeof name>)),
    );
    installArm64ConfigCalls(
      El2Backend.prototype,
      (self, name, busy, args) => {
        const a = args as ArgsOf<typeof name>;
        return busy ? self.begin(name, ...a) : self.beginWithoutBusyCheck(name, ...a);
      },
      (self) => self.configs,
    );
    installArm64GicCalls(El2Backend.prototype, {
      prologue: (self, name, args) => self.beginWithoutBusyCheck(name, ...(args as ArgsOf<typeof name>)),
      gics: (self) => self.gics,
      vm: (self) => self.vm,
      vcpu: (self, id) => {
        const v = self.vm?.vcpus.get(id);
        return v && { id: v.id, owner: v.owner, mpidr: self.sysValue(v, HV_SYS_REG.HV_SYS_REG_MPIDR_EL1) };
      },
    });
  }
}
