/**
 * The x86_64 flavour of the model: `hv_*` calls over real state (buffers, EPT address spaces, vCPUs with
 * register files and VMCS), with guest code run by an injected {@link X86Engine}.
 *
 * Check order and codes: see core.ts and packages/model/README.md ("What the model answers").
 * @module
 */

import type { AddressSpace, Capabilities, Result, ThreadId, Uva, Vcpu, X86Backend } from '@hvspec/spec';
import {
  CPU_BASED2,
  checkAsyncThread,
  checkU32,
  HV,
  HV_CAP,
  HV_MEMORY_RWX,
  HV_SHADOW_VMCS,
  HV_VCPU_OPTIONS,
  HV_VM_OPTIONS,
  HV_VM_SPACE_DEFAULT,
  HV_VMX_CAP,
  HV_X86_REG,
  IO_QUAL,
  isKnownVmcsField,
  isVmcsHostState,
  isVmcsReadOnly,
  NATIVE_MSRS_TESTED,
  VMCS,
  VMCS_FRAMEWORK_OWNED,
  VMX_REASON,
  X86_ARG_CHECKS,
  X86_MSR,
} from '@hvspec/spec';
import { BigIntMemo } from '../bigint-memo.js';
import type { ModelOptions, UnsupportedInstruction } from '../core.js';
import { ALL_PERMISSION_SETS, BUSY, fail, kick, ModelCore, ok, SUCCESS, slicedRun } from '../core.js';
import type { X86Engine, X86Stop } from '../engine.js';
import { GuestMemoryView, MappingTable } from '../mappings.js';
import { x86ExitFields } from './exit.js';
import { HOT_READS, X86RegisterFile } from './state.js';
import {
  MODEL_FPSTATE_SIZE,
  MODEL_MSR_INFO,
  offersShadowVmcs,
  resetFpstate,
  truncateToWidth,
} from './vcpu-extras.js';
import { controlAllowed, MODEL_VMX_CAPABILITIES } from './vmx-capabilities.js';

const PAGE = 4096n;
const SHADOW_RW = BigInt(HV_SHADOW_VMCS.HV_SHADOW_VMCS_READ | HV_SHADOW_VMCS.HV_SHADOW_VMCS_WRITE);
const U64_LIMIT = 1n << 64n;
const KNOWN_VM_OPTIONS = BigInt(Object.values(HV_VM_OPTIONS).reduce((a, b) => a | b, 0));
const KNOWN_VCPU_OPTIONS = BigInt(Object.values(HV_VCPU_OPTIONS).reduce((a, b) => a | b, 0));

/** Control fields whose writes are checked against `hv_vmx_read_capability` (hvf-facts.md §1.2 [H]: "may fail"). */
const CONTROL_CAPABILITY = new Map<number, number>([
  [VMCS.VMCS_CTRL_PIN_BASED, HV_VMX_CAP.HV_VMX_CAP_PINBASED],
  [VMCS.VMCS_CTRL_CPU_BASED, HV_VMX_CAP.HV_VMX_CAP_PROCBASED],
  [VMCS.VMCS_CTRL_CPU_BASED2, HV_VMX_CAP.HV_VMX_CAP_PROCBASED2],
  [VMCS.VMCS_CTRL_VMENTRY_CONTROLS, HV_VMX_CAP.HV_VMX_CAP_ENTRY],
  [VMCS.VMCS_CTRL_VMEXIT_CONTROLS, HV_VMX_CAP.HV_VMX_CAP_EXIT],
]);

interface X86Space {
  readonly table: MappingTable;
  readonly view: GuestMemoryView;
}

interface X86VcpuRecord {
  readonly id: number;
  readonly owner: number;
  readonly regs: X86RegisterFile;
  space: number;
  /**
   * The guest memory of `space`, kept with it (a Map lookup per run otherwise). A vCPU's space cannot
   * be destroyed while it is set (hv_vm_space_destroy returns HV_BUSY), so this is always live.
   */
  memory: GuestMemoryView;
  /**
   * `regs.version` when the engine's last synchronous call on this vCPU returned (-1: none, or an async
   * run since). Still equal at the next run: nothing but RIP changed, and the engine may `repeat`.
   */
  runVersion: number;
  /** Set by hv_vcpu_interrupt; sticky until a run consumes it (hvf-facts.md §1.7 [R]). */
  cancel: boolean;
  lastUnsupported: UnsupportedInstruction | undefined;
  /**
   * hv_vcpu_get_exec_time: the model's guest time is virtual — 1 ns per run that enters the guest. A
   * number (exact up to 2^53 runs), made a bigint when read: a BigInt sum per run allocated on every exit.
   */
  execTime: number;
  /** MSRs written with hv_vcpu_write_msr (the model's store of the MSRs it accepts). */
  readonly msrs: Map<number, bigint>;
  /** MSRs made native with hv_vcpu_enable_native_msr. */
  readonly nativeMsrs: Set<number>;
  /** hv_vcpu_read/write_fpstate: the x87/SSE/AVX state in the standard XSAVE layout. */
  readonly fpstate: Uint8Array;
  /** hv_vmx_vcpu_set_apic_address (stored; the model has no APIC). */
  apicAddress: bigint;
  /** The shadow VMCS: field values, and the access the VMM granted the guest per field. */
  readonly shadow: Map<number, bigint>;
  readonly shadowAccess: Map<number, bigint>;
}

interface X86Vm {
  readonly spaces: Map<number, X86Space>;
  nextSpace: number;
  /** Live vCPUs only: a destroyed handle is simply absent. */
  readonly vcpus: Map<number, X86VcpuRecord>;
  nextVcpu: number;
}

function newSpace(): X86Space {
  const table = new MappingTable();
  return { table, view: new GuestMemoryView(table) };
}

/** How a run ended, before it is written into the VMCS. */
type RunEnd =
  | { readonly kind: 'stop'; readonly stop: X86Stop }
  | { readonly kind: 'cancel' }
  | { readonly kind: 'reset' };

/** The x86 model backend. */
export class X86Model extends ModelCore implements X86Backend {
  readonly arch = 'x86_64' as const;
  readonly capabilities: Capabilities;
  private readonly engine: X86Engine | undefined;
  private readonly maxAddressSpaces: number;
  private readonly vmxCaps: Readonly<Record<number, bigint>>;
  private vm: X86Vm | undefined;
  /**
   * The live vCPU {@link owned} found last (a VMM makes call after call on the same vCPU, and the Map
   * lookup was the hottest line of the exit round trip). Cleared whenever a vCPU or the VM goes away,
   * so it is always a live vCPU of the current VM; ids are never reused within a VM.
   */
  private lastOwned: X86VcpuRecord | undefined;
  /** The last frozen I/O stop {@link runStop} wrote, and its qualification and length (never changed). */
  private lastIo: X86Stop | undefined;
  private lastIoQualification = 0n;
  private lastIoLen = 0n;
  /** Their read results, for the hot-read table (X86RegisterFile.offerExitReads). */
  private lastIoQualificationRead: Result<bigint> = SUCCESS_ZERO;
  private lastIoLenRead: Result<bigint> = SUCCESS_ZERO;
  /** Recent VMCS read results (see {@link readResult}). */
  private readonly reads: Result<bigint>[] = new Array<Result<bigint>>(READ_RESULTS).fill(NO_READ);

  constructor(options: ModelOptions = {}) {
    super(4096, options);
    this.engine = options.engines?.x86;
    this.maxAddressSpaces = options.maxAddressSpaces ?? 8;
    this.vmxCaps = options.vmxCapabilities ?? MODEL_VMX_CAPABILITIES;
    if (!Number.isSafeInteger(this.maxAddressSpaces) || this.maxAddressSpaces < 1) {
      throw new TypeError('options.maxAddressSpaces must be a positive integer');
    }
    this.capabilities = Object.freeze({
      backend: 'model',
      arch: 'x86_64',
      pageSize: 4096,
      maxVcpus: this.maxVcpus,
      guestExecution: this.engine !== undefined,
      enforcedPermissions: ALL_PERMISSION_SETS,
      deviations: [],
      vmxCapabilities: this.vmxCaps,
      maxAddressSpaces: this.maxAddressSpaces,
    });
  }

  protected dropState(): void {
    this.vm = undefined;
    this.lastOwned = undefined;
  }

  // ---- capabilities (no VM needed: they describe the host) -------------------------------------------

  hv_capability(t: ThreadId, capability: number): Result<bigint> {
    this.enter();
    X86_ARG_CHECKS.hv_capability(t, capability);
    if (this.busyOn(t)) return BUSY;
    if (capability === HV_CAP.HV_CAP_VCPUMAX) return ok(BigInt(this.maxVcpus));
    if (capability === HV_CAP.HV_CAP_ADDRSPACEMAX) return ok(BigInt(this.maxAddressSpaces));
    return fail(HV.HV_BAD_ARGUMENT);
  }

  hv_vmx_read_capability(t: ThreadId, field: number): Result<bigint> {
    this.enter();
    X86_ARG_CHECKS.hv_vmx_read_capability(t, field);
    if (this.busyOn(t)) return BUSY;
    const value = this.vmxCaps[field];
    return value === undefined ? fail(HV.HV_BAD_ARGUMENT) : ok(value);
  }

  // ---- VM ----------------------------------------------------------------------------------------------

  hv_vm_create(t: ThreadId, flags: bigint): Result {
    this.enter();
    X86_ARG_CHECKS.hv_vm_create(t, flags);
    if (this.busyOn(t)) return BUSY;
    if ((flags & ~KNOWN_VM_OPTIONS) !== 0n) return fail(HV.HV_BAD_ARGUMENT);
    if (this.vm !== undefined) return fail(HV.HV_BUSY); // one VM per process (hvf-facts.md §0.3 [H])
    this.lastOwned = undefined;
    this.vm = {
      spaces: new Map([[HV_VM_SPACE_DEFAULT, newSpace()]]),
      nextSpace: 1,
      vcpus: new Map(),
      nextVcpu: 0,
    };
    return SUCCESS;
  }

  hv_vm_destroy(t: ThreadId): Result {
    this.enter();
    X86_ARG_CHECKS.hv_vm_destroy(t);
    if (this.busyOn(t)) return BUSY;
    if (this.vm === undefined) return fail(HV.HV_NO_DEVICE);
    if (this.vm.vcpus.size > 0) return fail(HV.HV_BUSY);
    this.vm = undefined;
    this.lastOwned = undefined;
    return SUCCESS;
  }

  hv_vm_space_create(t: ThreadId): Result<AddressSpace> {
    this.enter();
    X86_ARG_CHECKS.hv_vm_space_create(t);
    if (this.busyOn(t)) return BUSY;
    const vm = this.vm;
    if (vm === undefined) return fail(HV.HV_NO_DEVICE);
    if (vm.spaces.size >= this.maxAddressSpaces) return fail(HV.HV_NO_RESOURCES);
    const asid = vm.nextSpace++;
    vm.spaces.set(asid, newSpace());
    return ok(asid as AddressSpace);
  }

  hv_vm_space_destroy(t: ThreadId, asid: AddressSpace): Result {
    this.enter();
    X86_ARG_CHECKS.hv_vm_space_destroy(t, asid);
    if (this.busyOn(t)) return BUSY;
    const vm = this.vm;
    if (vm === undefined) return fail(HV.HV_NO_DEVICE);
    if (asid === HV_VM_SPACE_DEFAULT || !vm.spaces.has(asid)) return fail(HV.HV_BAD_ARGUMENT);
    for (const v of vm.vcpus.values()) if (v.space === asid) return fail(HV.HV_BUSY);
    vm.spaces.delete(asid);
    return SUCCESS;
  }

  // ---- mappings ----------------------------------------------------------------------------------------

  hv_vm_map(t: ThreadId, uva: Uva, gpa: bigint, size: bigint, flags: number): Result {
    return this.hv_vm_map_space(t, HV_VM_SPACE_DEFAULT as AddressSpace, uva, gpa, size, flags);
  }

  hv_vm_unmap(t: ThreadId, gpa: bigint, size: bigint): Result {
    return this.hv_vm_unmap_space(t, HV_VM_SPACE_DEFAULT as AddressSpace, gpa, size);
  }

  hv_vm_protect(t: ThreadId, gpa: bigint, size: bigint, flags: number): Result {
    return this.hv_vm_protect_space(t, HV_VM_SPACE_DEFAULT as AddressSpace, gpa, size, flags);
  }

  hv_vm_map_space(
    t: ThreadId,
    asid: AddressSpace,
    uva: Uva,
    gpa: bigint,
    size: bigint,
    flags: number,
  ): Result {
    this.enter();
    X86_ARG_CHECKS.hv_vm_map_space(t, asid, uva, gpa, size, flags);
    if (this.busyOn(t)) return BUSY;
    const bytes = this.host.bytes(uva.mem, 'uva.mem');
    const space = this.space(asid);
    if (typeof space === 'number') return fail(space);
    if ((flags & ~HV_MEMORY_RWX) !== 0) return fail(HV.HV_BAD_ARGUMENT);
    const bad = this.rangeError(gpa, size);
    if (bad !== undefined) return fail(bad);
    if (BigInt(uva.offset) % PAGE !== 0n) return fail(HV.HV_BAD_ARGUMENT);
    if (BigInt(uva.offset) + size > BigInt(bytes.length)) return fail(HV.HV_BAD_ARGUMENT);
    if (space.table.overlaps(gpa, gpa + size)) return fail(HV.HV_ERROR);
    space.table.add(gpa, gpa + size, bytes, uva.offset, flags);
    return SUCCESS;
  }

  hv_vm_unmap_space(t: ThreadId, asid: AddressSpace, gpa: bigint, size: bigint): Result {
    this.enter();
    X86_ARG_CHECKS.hv_vm_unmap_space(t, asid, gpa, size);
    if (this.busyOn(t)) return BUSY;
    const space = this.space(asid);
    if (typeof space === 'number') return fail(space);
    const bad = this.rangeError(gpa, size);
    if (bad !== undefined) return fail(bad);
    // Every mapped page in the range goes; unmapped pages in it are not an error (model README, choices).
    space.table.remove(gpa, gpa + size);
    return SUCCESS;
  }

  hv_vm_protect_space(t: ThreadId, asid: AddressSpace, gpa: bigint, size: bigint, flags: number): Result {
    this.enter();
    X86_ARG_CHECKS.hv_vm_protect_space(t, asid, gpa, size, flags);
    if (this.busyOn(t)) return BUSY;
    const space = this.space(asid);
    if (typeof space === 'number') return fail(space);
    if ((flags & ~HV_MEMORY_RWX) !== 0) return fail(HV.HV_BAD_ARGUMENT);
    const bad = this.rangeError(gpa, size);
    if (bad !== undefined) return fail(bad);
    if (!space.table.covers(gpa, gpa + size)) return fail(HV.HV_BAD_ARGUMENT);
    space.table.protect(gpa, gpa + size, flags);
    return SUCCESS;
  }

  /** The bytes behind a uva (TypeError when it is not a {mem, offset} into a live buffer). */
  /** Steps 1–2 for space calls: the VM, then the asid. */
  private space(asid: number): X86Space | number {
    if (this.vm === undefined) return HV.HV_NO_DEVICE;
    return this.vm.spaces.get(asid) ?? HV.HV_BAD_ARGUMENT;
  }

  /** Size 0, 4 KiB alignment of gpa and size, and wrap-around past 2^64 (model README, choices). */
  private rangeError(gpa: bigint, size: bigint): number | undefined {
    if (size === 0n || gpa % PAGE !== 0n || size % PAGE !== 0n) return HV.HV_BAD_ARGUMENT;
    if (gpa + size > U64_LIMIT) return HV.HV_BAD_ARGUMENT;
    return undefined;
  }

  // ---- vCPUs -------------------------------------------------------------------------------------------

  hv_vcpu_create(t: ThreadId, flags: bigint): Result<Vcpu> {
    this.enter();
    X86_ARG_CHECKS.hv_vcpu_create(t, flags);
    if (this.busyOn(t)) return BUSY;
    const vm = this.vm;
    if (vm === undefined) return fail(HV.HV_NO_DEVICE);
    if ((flags & ~KNOWN_VCPU_OPTIONS) !== 0n) return fail(HV.HV_BAD_ARGUMENT);
    // x86 lets one thread own several vCPUs (model README choices: the x86 header only binds a vCPU to its thread).
    if (vm.vcpus.size >= this.maxVcpus) return fail(HV.HV_NO_RESOURCES);
    const id = vm.nextVcpu++;
    vm.vcpus.set(id, {
      id,
      owner: t,
      regs: new X86RegisterFile(),
      space: HV_VM_SPACE_DEFAULT,
      memory: (vm.spaces.get(HV_VM_SPACE_DEFAULT) as X86Space).view,
      runVersion: -1,
      cancel: false,
      lastUnsupported: undefined,
      execTime: 0,
      msrs: new Map(),
      nativeMsrs: new Set(),
      fpstate: resetFpstate(),
      apicAddress: 0xfee0_0000n,
      shadow: new Map(),
      shadowAccess: new Map(),
    });
    return ok(id as Vcpu);
  }

  hv_vcpu_destroy(t: ThreadId, vcpu: Vcpu): Result {
    this.enter();
    X86_ARG_CHECKS.hv_vcpu_destroy(t, vcpu);
    if (this.busyOn(t)) return BUSY;
    const v = this.owned(t, vcpu);
    if (typeof v === 'number') return fail(v);
    this.vm?.vcpus.delete(v.id);
    this.lastOwned = undefined;
    return SUCCESS;
  }

  hv_vcpu_set_space(t: ThreadId, vcpu: Vcpu, asid: AddressSpace): Result {
    this.enter();
    X86_ARG_CHECKS.hv_vcpu_set_space(t, vcpu, asid);
    if (this.busyOn(t)) return BUSY;
    const v = this.owned(t, vcpu);
    if (typeof v === 'number') return fail(v);
    const space = this.vm?.spaces.get(asid);
    if (space === undefined) return fail(HV.HV_BAD_ARGUMENT);
    v.space = asid;
    v.memory = space.view;
    return SUCCESS;
  }

  hv_vcpu_read_register(t: ThreadId, vcpu: Vcpu, reg: number): Result<bigint> {
    this.enter();
    X86_ARG_CHECKS.hv_vcpu_read_register(t, vcpu, reg);
    if (this.busyOn(t)) return BUSY;
    const v = this.owned(t, vcpu);
    if (typeof v === 'number') return fail(v);
    if (reg >= HV_X86_REG.HV_X86_REGISTERS_MAX) return fail(HV.HV_BAD_ARGUMENT);
    return ok(v.regs.readRegister(reg));
  }

  hv_vcpu_write_register(t: ThreadId, vcpu: Vcpu, reg: number, value: bigint): Result {
    this.enter();
    X86_ARG_CHECKS.hv_vcpu_write_register(t, vcpu, reg, value);
    if (this.busyOn(t)) return BUSY;
    const v = this.owned(t, vcpu);
    if (typeof v === 'number') return fail(v);
    if (reg >= HV_X86_REG.HV_X86_REGISTERS_MAX) return fail(HV.HV_BAD_ARGUMENT);
    v.regs.writeRegister(reg, value);
    return SUCCESS;
  }

  /**
   * The fast path first: on the vCPU of the previous call (so `t` and `vcpu` are the numbers that
   * passed its checks), with the model open and idle, a field in the vCPU's hot-read table
   * (X86RegisterFile.hotField: filled after an exit, emptied by every change of the field) is answered
   * from it — the answer every step below would give. Small, so that V8 inlines it into an exit loop.
   */
  hv_vmx_vcpu_read_vmcs(t: ThreadId, vcpu: Vcpu, field: number): Result<bigint> {
    const v = this.lastOwned;
    if (v !== undefined && v.owner === t && v.id === vcpu && typeof field === 'number' && this.quiet()) {
      const regs = v.regs;
      const i = field & (HOT_READS - 1);
      if (regs.hotField[i] === field) return regs.hotRead[i] as Result<bigint>;
    }
    return this.readVmcs(t, vcpu, field);
  }

  private readVmcs(t: ThreadId, vcpu: Vcpu, field: number): Result<bigint> {
    this.enter();
    X86_ARG_CHECKS.hv_vmx_vcpu_read_vmcs(t, vcpu, field);
    if (this.busyOn(t)) return BUSY;
    const v = this.owned(t, vcpu);
    if (typeof v === 'number') return fail(v);
    if (!accessibleField(field)) return fail(HV.HV_BAD_ARGUMENT);
    return this.readResult(field, v.regs.readField(field));
  }

  /**
   * The fast path first: VMCS_GUEST_RIP (natural width, writable, no capability) on the vCPU of the
   * previous call, the model open and idle, a bigint in [0, 2^63) — every check below passes.
   */
  hv_vmx_vcpu_write_vmcs(t: ThreadId, vcpu: Vcpu, field: number, value: bigint): Result {
    const v = this.lastOwned;
    if (
      field === VMCS.VMCS_GUEST_RIP &&
      v !== undefined &&
      v.owner === t &&
      v.id === vcpu &&
      typeof value === 'bigint' &&
      value >= 0n &&
      value <= I64_MAX &&
      this.quiet()
    ) {
      v.regs.writeRip(value);
      return SUCCESS;
    }
    return this.writeVmcs(t, vcpu, field, value);
  }

  private writeVmcs(t: ThreadId, vcpu: Vcpu, field: number, value: bigint): Result {
    this.enter();
    X86_ARG_CHECKS.hv_vmx_vcpu_write_vmcs(t, vcpu, field, value);
    if (this.busyOn(t)) return BUSY;
    const v = this.owned(t, vcpu);
    if (typeof v === 'number') return fail(v);
    if (!accessibleField(field) || isVmcsReadOnly(field)) return fail(HV.HV_BAD_ARGUMENT);
    // Every control of CONTROL_CAPABILITY is a 32-bit control field (0x40xx): others skip the Map.
    const cap = (field & 0xfc00) === 0x4000 ? CONTROL_CAPABILITY.get(field) : undefined;
    if (cap !== undefined && !controlAllowed(this.vmxCaps[cap] ?? 0n, Number(value & 0xffff_ffffn))) {
      return fail(HV.HV_BAD_ARGUMENT);
    }
    v.regs.writeField(field, value);
    return SUCCESS;
  }

  /**
   * `{ ret: HV_SUCCESS, value }` for a VMCS read, frozen and shared: the same object as the field's
   * last read while it reads the same value. A VMM reads the same few fields after every exit and
   * their values repeat (the exit reason and instruction length nearly always, RIP in a polling loop),
   * so the exit round trip allocates no result for them. The table is direct-mapped by the field's
   * low bits; since the result depends only on the value, a collision costs an allocation, never a
   * wrong answer.
   */
  private readResult(field: number, value: bigint): Result<bigint> {
    const i = field & (READ_RESULTS - 1);
    const last = this.reads[i] as Result<bigint>;
    if (last.value === value) return last;
    const made: Result<bigint> = Object.freeze({ ret: HV.HV_SUCCESS, value });
    this.reads[i] = made;
    return made;
  }

  /** Steps 1–3 for per-vCPU calls: VM, live handle, owner thread. */
  private owned(t: number, vcpu: number): X86VcpuRecord | number {
    if (this.vm === undefined) return HV.HV_NO_DEVICE;
    const last = this.lastOwned;
    const v = last !== undefined && last.id === vcpu ? last : this.vm.vcpus.get(vcpu);
    if (v === undefined || v.owner !== t) return HV.HV_BAD_ARGUMENT;
    this.lastOwned = v;
    return v;
  }

  // ---- running -----------------------------------------------------------------------------------------

  /**
   * Runs until the next exit. Results:
   *  - a pending hv_vcpu_interrupt: HV_SUCCESS with VMX_REASON_IRQ, the guest not entered, the flag cleared;
   *  - no engine configured: HV_UNSUPPORTED (guest execution not available in this model configuration);
   *  - an instruction the engine does not implement: HV_ERROR — the model's explicit "unsupported
   *    instruction" result, with the bytes and reason in {@link model_last_unsupported}; RIP stays at it;
   *  - otherwise HV_SUCCESS with the exit in the VMCS exit-information fields.
   */
  hv_vcpu_run(t: ThreadId, vcpu: Vcpu): Result {
    // On the vCPU of the previous call, open and idle, every check below passes (see read_vmcs).
    const last = this.lastOwned;
    if (last !== undefined && last.owner === t && last.id === vcpu && this.quiet()) return this.runOn(last);
    this.enter();
    X86_ARG_CHECKS.hv_vcpu_run(t, vcpu);
    if (this.busyOn(t)) return BUSY;
    const v = this.owned(t, vcpu);
    if (typeof v === 'number') return fail(v);
    return this.runOn(v);
  }

  /** A synchronous run of `v`, its checks passed. */
  private runOn(v: X86VcpuRecord): Result {
    const early = this.runStart(v);
    if (early !== undefined) return early;
    const engine = this.engine as X86Engine;
    const regs = v.regs;
    const mem = v.memory;
    let left = this.maxSyncInstructions;
    // Nothing but RIP written since the engine's last call on this vCPU (a VMM's exit loop): the
    // engine may repeat that call's run without deriving the mode again (X86Engine.repeat).
    if (v.runVersion === regs.version && engine.repeat !== undefined) {
      const stop = engine.repeat(regs.cpu, mem, Math.min(left, 1_000_000));
      if (stop !== undefined) return this.runStop(v, stop);
    }
    for (;;) {
      const slice = Math.min(left, 1_000_000);
      const stop = engine(regs.cpu, mem, slice);
      v.runVersion = regs.version;
      if (stop.kind !== 'budget') return this.runStop(v, stop);
      left -= slice;
      // Out of instructions: a host interrupt would end the run the same way (spurious exit, DESIGN.md).
      if (left <= 0) return this.runEnd(v, { kind: 'cancel' });
    }
  }

  /** A finite deadline is accepted and the run proceeds as with HV_DEADLINE_FOREVER (model README, choices). */
  hv_vcpu_run_until(t: ThreadId, vcpu: Vcpu, deadline: bigint): Result {
    this.enter();
    X86_ARG_CHECKS.hv_vcpu_run_until(t, vcpu, deadline);
    if (this.busyOn(t)) return BUSY;
    return this.hv_vcpu_run(t, vcpu);
  }

  /**
   * `hv_vcpu_run` on logical thread `t` without blocking the caller: the engine runs in slices of
   * `budget` instructions, yielding to the event loop between slices; an hv_vcpu_interrupt seen between
   * slices ends the run with VMX_REASON_IRQ and RIP at the next instruction to execute.
   */
  hv_vcpu_run_async(t: ThreadId, vcpu: Vcpu): Promise<Result> {
    this.enter();
    X86_ARG_CHECKS.hv_vcpu_run(t, vcpu);
    // Thread 0 is the caller itself: it cannot wait in the guest (a TypeError, as on every backend).
    checkAsyncThread(t);
    if (this.busyOn(t)) return Promise.resolve(BUSY);
    const v = this.owned(t, vcpu);
    if (typeof v === 'number') return Promise.resolve(fail(v));
    const early = this.runStart(v);
    if (early !== undefined) return Promise.resolve(early);
    const engine = this.engine as X86Engine;
    v.runVersion = -1;
    return this.track(t, (stale) =>
      slicedRun(
        v,
        stale,
        () => engine(v.regs.cpu, v.memory, this.budget),
        (e) => this.runEnd(v, e),
      ),
    );
  }

  hv_vcpu_get_exec_time(t: ThreadId, vcpu: Vcpu): Result<bigint> {
    this.enter();
    X86_ARG_CHECKS.hv_vcpu_get_exec_time(t, vcpu);
    if (this.busyOn(t)) return BUSY;
    const v = this.owned(t, vcpu);
    return typeof v === 'number' ? fail(v) : ok(BigInt(v.execTime));
  }

  // ---- MSRs, cache and TLB -----------------------------------------------------------------------------

  /** The twelve MSRs of Apple's test are accepted; others are HV_BAD_ARGUMENT (model README, choices). */
  hv_vcpu_enable_native_msr(t: ThreadId, vcpu: Vcpu, msr: number, enable: boolean): Result {
    this.enter();
    X86_ARG_CHECKS.hv_vcpu_enable_native_msr(t, vcpu, msr, enable);
    if (this.busyOn(t)) return BUSY;
    const v = this.owned(t, vcpu);
    if (typeof v === 'number') return fail(v);
    if (!NATIVE_MSRS_TESTED.includes(msr)) return fail(HV.HV_BAD_ARGUMENT);
    if (enable) v.nativeMsrs.add(msr);
    else v.nativeMsrs.delete(msr);
    return SUCCESS;
  }

  /** The same twelve MSRs read back what was written (0 before); others are HV_BAD_ARGUMENT. */
  hv_vcpu_read_msr(t: ThreadId, vcpu: Vcpu, msr: number): Result<bigint> {
    this.enter();
    X86_ARG_CHECKS.hv_vcpu_read_msr(t, vcpu, msr);
    if (this.busyOn(t)) return BUSY;
    const v = this.owned(t, vcpu);
    if (typeof v === 'number') return fail(v);
    if (!NATIVE_MSRS_TESTED.includes(msr)) return fail(HV.HV_BAD_ARGUMENT);
    return ok(v.msrs.get(msr) ?? 0n);
  }

  hv_vcpu_write_msr(t: ThreadId, vcpu: Vcpu, msr: number, value: bigint): Result {
    this.enter();
    X86_ARG_CHECKS.hv_vcpu_write_msr(t, vcpu, msr, value);
    if (this.busyOn(t)) return BUSY;
    const v = this.owned(t, vcpu);
    if (typeof v === 'number') return fail(v);
    if (!NATIVE_MSRS_TESTED.includes(msr)) return fail(HV.HV_BAD_ARGUMENT);
    v.msrs.set(msr, value);
    return SUCCESS;
  }

  /** The model caches nothing: a flush has nothing to write back. */
  hv_vcpu_flush(t: ThreadId, vcpu: Vcpu): Result {
    this.enter();
    X86_ARG_CHECKS.hv_vcpu_flush(t, vcpu);
    if (this.busyOn(t)) return BUSY;
    const v = this.owned(t, vcpu);
    return typeof v === 'number' ? fail(v) : SUCCESS;
  }

  /** The model has no TLB: guest accesses always walk the current tables. */
  hv_vcpu_invalidate_tlb(t: ThreadId, vcpu: Vcpu): Result {
    this.enter();
    X86_ARG_CHECKS.hv_vcpu_invalidate_tlb(t, vcpu);
    if (this.busyOn(t)) return BUSY;
    const v = this.owned(t, vcpu);
    return typeof v === 'number' ? fail(v) : SUCCESS;
  }

  // ---- floating-point state, TSC, APIC -------------------------------------------------------------------

  /** A buffer of at least the model's XSAVE area (4 KiB) gets the state; a smaller one is HV_BAD_ARGUMENT. */
  hv_vcpu_read_fpstate(t: ThreadId, vcpu: Vcpu, buffer: Uva, size: bigint): Result {
    this.enter();
    X86_ARG_CHECKS.hv_vcpu_read_fpstate(t, vcpu, buffer, size);
    if (this.busyOn(t)) return BUSY;
    const bytes = this.host.bytes(buffer.mem, 'buffer.mem');
    const v = this.owned(t, vcpu);
    if (typeof v === 'number') return fail(v);
    if (!this.fpstateBufferOk(bytes, buffer.offset, size)) return fail(HV.HV_BAD_ARGUMENT);
    bytes.set(v.fpstate, buffer.offset);
    return SUCCESS;
  }

  hv_vcpu_write_fpstate(t: ThreadId, vcpu: Vcpu, buffer: Uva, size: bigint): Result {
    this.enter();
    X86_ARG_CHECKS.hv_vcpu_write_fpstate(t, vcpu, buffer, size);
    if (this.busyOn(t)) return BUSY;
    const bytes = this.host.bytes(buffer.mem, 'buffer.mem');
    const v = this.owned(t, vcpu);
    if (typeof v === 'number') return fail(v);
    if (!this.fpstateBufferOk(bytes, buffer.offset, size)) return fail(HV.HV_BAD_ARGUMENT);
    v.fpstate.set(bytes.subarray(buffer.offset, buffer.offset + MODEL_FPSTATE_SIZE));
    return SUCCESS;
  }

  private fpstateBufferOk(bytes: Uint8Array, offset: number, size: bigint): boolean {
    return size >= BigInt(MODEL_FPSTATE_SIZE) && BigInt(offset) + size <= BigInt(bytes.length);
  }

  /** Every live vCPU's IA32_TSC becomes tsc (what hv_vcpu_read_msr of MSR_IA32_TSC then reads). */
  hv_vm_sync_tsc(t: ThreadId, tsc: bigint): Result {
    this.enter();
    X86_ARG_CHECKS.hv_vm_sync_tsc(t, tsc);
    if (this.busyOn(t)) return BUSY;
    if (this.vm === undefined) return fail(HV.HV_NO_DEVICE);
    for (const v of this.vm.vcpus.values()) v.msrs.set(X86_MSR.MSR_IA32_TSC, tsc);
    return SUCCESS;
  }

  hv_vmx_vcpu_set_apic_address(t: ThreadId, vcpu: Vcpu, gpa: bigint): Result {
    this.enter();
    X86_ARG_CHECKS.hv_vmx_vcpu_set_apic_address(t, vcpu, gpa);
    if (this.busyOn(t)) return BUSY;
    const v = this.owned(t, vcpu);
    if (typeof v === 'number') return fail(v);
    if (gpa % PAGE !== 0n) return fail(HV.HV_BAD_ARGUMENT);
    v.apicAddress = gpa;
    return SUCCESS;
  }

  // ---- VMX: write masks, MSR information, shadow VMCS ---------------------------------------------------

  /**
   * Controls: the capability's must-be-1 and may-be-1 halves; other fields the VMM may write: any value
   * of the field's width; read-only, host-state, framework-owned or unknown fields: HV_BAD_ARGUMENT.
   */
  hv_vmx_vcpu_get_cap_write_vmcs(
    t: ThreadId,
    vcpu: Vcpu,
    field: number,
  ): Result<{ readonly allowed_0: bigint; readonly allowed_1: bigint }> {
    this.enter();
    X86_ARG_CHECKS.hv_vmx_vcpu_get_cap_write_vmcs(t, vcpu, field);
    if (this.busyOn(t)) return BUSY;
    const v = this.owned(t, vcpu);
    if (typeof v === 'number') return fail(v);
    if (!accessibleField(field) || isVmcsReadOnly(field)) return fail(HV.HV_BAD_ARGUMENT);
    const cap = CONTROL_CAPABILITY.get(field);
    if (cap !== undefined) {
      const c = this.vmxCaps[cap] ?? 0n;
      return ok({ allowed_0: c & 0xffff_ffffn, allowed_1: c >> 32n });
    }
    return ok({ allowed_0: 0n, allowed_1: truncateToWidth(field, U64_LIMIT - 1n) });
  }

  /** The model's host enumerates nothing these ids ask about (vcpu-extras.ts); no VM needed. */
  hv_vmx_get_msr_info(t: ThreadId, field: bigint): Result<bigint> {
    this.enter();
    X86_ARG_CHECKS.hv_vmx_get_msr_info(t, field);
    if (this.busyOn(t)) return BUSY;
    const value = MODEL_MSR_INFO.get(field);
    return value === undefined ? fail(HV.HV_BAD_ARGUMENT) : ok(value);
  }

  /**
   * The shadow-VMCS calls' common checks: the host offers VMCS shadowing (else HV_UNSUPPORTED), the VMM
   * enabled it in the vCPU's secondary controls, and the field is a VMCS field (else HV_BAD_ARGUMENT).
   */
  private shadowTarget(t: number, vcpu: number, field: number): X86VcpuRecord | number {
    const v = this.owned(t, vcpu);
    if (typeof v === 'number') return v;
    if (!offersShadowVmcs(this.vmxCaps)) return HV.HV_UNSUPPORTED;
    const ctl = v.regs.readField(VMCS.VMCS_CTRL_CPU_BASED2);
    if ((ctl & BigInt(CPU_BASED2.CPU_BASED2_VMCS_SHADOW)) === 0n) return HV.HV_BAD_ARGUMENT;
    if (!isKnownVmcsField(field)) return HV.HV_BAD_ARGUMENT;
    return v;
  }

  hv_vmx_vcpu_set_shadow_access(t: ThreadId, vcpu: Vcpu, field: number, flags: bigint): Result {
    this.enter();
    X86_ARG_CHECKS.hv_vmx_vcpu_set_shadow_access(t, vcpu, field, flags);
    if (this.busyOn(t)) return BUSY;
    const v = this.shadowTarget(t, vcpu, field);
    if (typeof v === 'number') return fail(v);
    if ((flags & ~SHADOW_RW) !== 0n) return fail(HV.HV_BAD_ARGUMENT);
    v.shadowAccess.set(field, flags);
    return SUCCESS;
  }

  /** The VMM reads and writes any field of the shadow VMCS; the access flags govern only the guest. */
  hv_vmx_vcpu_read_shadow_vmcs(t: ThreadId, vcpu: Vcpu, field: number): Result<bigint> {
    this.enter();
    X86_ARG_CHECKS.hv_vmx_vcpu_read_shadow_vmcs(t, vcpu, field);
    if (this.busyOn(t)) return BUSY;
    const v = this.shadowTarget(t, vcpu, field);
    if (typeof v === 'number') return fail(v);
    return ok(v.shadow.get(field) ?? 0n);
  }

  hv_vmx_vcpu_write_shadow_vmcs(t: ThreadId, vcpu: Vcpu, field: number, value: bigint): Result {
    this.enter();
    X86_ARG_CHECKS.hv_vmx_vcpu_write_shadow_vmcs(t, vcpu, field, value);
    if (this.busyOn(t)) return BUSY;
    const v = this.shadowTarget(t, vcpu, field);
    if (typeof v === 'number') return fail(v);
    v.shadow.set(field, truncateToWidth(field, value));
    return SUCCESS;
  }

  hv_vcpu_interrupt(t: ThreadId, vcpus: readonly Vcpu[], vcpu_count: number): Result {
    this.enter();
    X86_ARG_CHECKS.hv_vcpu_interrupt(t, vcpus, vcpu_count);
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

  /** What a run does before entering the guest: consume a pending kick, or report no engine. */
  private runStart(v: X86VcpuRecord): Result | undefined {
    v.lastUnsupported = undefined;
    v.regs.dropHotRip();
    if (v.cancel) {
      v.cancel = false;
      return this.runEnd(v, { kind: 'cancel' });
    }
    if (this.engine === undefined) return fail(HV.HV_UNSUPPORTED);
    v.execTime += 1;
    return undefined;
  }

  /** How a run ended ({@link RunEnd}) into the VMCS exit-information fields. */
  private runEnd(v: X86VcpuRecord, end: RunEnd): Result {
    if (end.kind === 'reset') return fail(HV.HV_NO_DEVICE);
    if (end.kind === 'cancel') {
      v.regs.setExit(IRQ, 0n, 0n);
      return SUCCESS;
    }
    return this.runStop(v, end.stop);
  }

  /**
   * Writes the exit of an engine stop into the VMCS exit-information fields (hvf-facts.md §1.6, Intel
   * SDM layouts). A method of its own, so that a synchronous run's exit allocates no RunEnd.
   */
  private runStop(v: X86VcpuRecord, stop: X86Stop): Result {
    const regs = v.regs;
    // The exit round trip of an I/O loop is a benchmarked path: I/O and HLT exits are written directly,
    // and the same I/O stop as the last one (the engine returns its one frozen object again when
    // nothing differs) reuses that one's fields.
    if (stop === this.lastIo) {
      regs.setTaggedExit(
        stop,
        IO,
        this.lastIoQualification,
        this.lastIoLen,
        IO_READ,
        this.lastIoQualificationRead,
        this.lastIoLenRead,
      );
      return SUCCESS;
    }
    if (stop.kind === 'io' && !stop.string) {
      const q =
        (stop.size - 1) |
        (stop.in ? IO_QUAL.IN : 0) |
        (stop.rep ? IO_QUAL.REP : 0) |
        (stop.imm ? IO_QUAL.IMMEDIATE : 0);
      // The port is bits 31:16: the whole qualification fits in 32 bits, so build it as a number.
      const qualification = IO_QUALIFICATION.of((q | ((stop.port & 0xffff) << IO_QUAL.PORT_SHIFT)) >>> 0);
      const len = INSTR_LEN.of(stop.len);
      regs.setExit(IO, qualification, len);
      if (Object.isFrozen(stop)) {
        this.lastIo = stop;
        this.lastIoQualification = qualification;
        this.lastIoLen = len;
        this.lastIoQualificationRead = Object.freeze({ ret: HV.HV_SUCCESS, value: qualification });
        this.lastIoLenRead = Object.freeze({ ret: HV.HV_SUCCESS, value: len });
        regs.offerExitReads(IO_READ, this.lastIoQualificationRead, this.lastIoLenRead);
      }
      return SUCCESS;
    }
    if (stop.kind === 'hlt') {
      regs.setExit(HLT, 0n, INSTR_LEN.of(stop.len));
      return SUCCESS;
    }
    if (stop.kind === 'unsupported') {
      v.lastUnsupported = { bytes: stop.bytes.slice(), reason: stop.reason };
      return fail(HV.HV_ERROR);
    }
    const f = x86ExitFields(stop);
    if (f === undefined) {
      // Callers loop on 'budget'; reaching here would be a model bug, reported as an IRQ exit.
      regs.setExit(IRQ, 0n, 0n);
      return SUCCESS;
    }
    // The instruction length is not defined for EPT violations and hardware exceptions (Intel SDM): the
    // model reports 0 there.
    regs.setExit(BigInt(f.reason), f.qualification, BigInt(f.instrLen ?? 0));
    if (f.gpa !== undefined) regs.writeField(VMCS.VMCS_GUEST_PHYSICAL_ADDRESS, f.gpa);
    if (f.gla !== undefined) regs.writeField(VMCS.VMCS_RO_GUEST_LIN_ADDR, f.gla);
    if (f.irqInfo !== undefined) {
      regs.writeField(VMCS.VMCS_RO_VMEXIT_IRQ_INFO, BigInt(f.irqInfo));
      regs.writeField(VMCS.VMCS_RO_VMEXIT_IRQ_ERROR, BigInt(f.irqError ?? 0));
    }
    if (f.idtVectorInfo !== undefined) {
      regs.writeField(VMCS.VMCS_RO_IDT_VECTOR_INFO, BigInt(f.idtVectorInfo));
      regs.writeField(VMCS.VMCS_RO_IDT_VECTOR_ERROR, BigInt(f.idtVectorError ?? 0));
    }
    return SUCCESS;
  }
}

/** Entries of the VMCS read-result table (a power of two; the hot exit fields land in distinct ones). */
const READ_RESULTS = 64;
/** Fills the read-result table: a value no field ever reads, so the first read of each entry builds its result. */
const NO_READ: Result<bigint> = Object.freeze({ ret: HV.HV_SUCCESS, value: -1n });

/** An I/O exit loop exits the same way every time: its fields' BigInts are memoised (bigint-memo.ts). */
const IO_QUALIFICATION = new BigIntMemo();
const INSTR_LEN = new BigIntMemo();

const SUCCESS_ZERO: Result<bigint> = Object.freeze({ ret: HV.HV_SUCCESS, value: 0n });
const I64_MAX = 0x7fff_ffff_ffff_ffffn;
const IRQ = BigInt(VMX_REASON.VMX_REASON_IRQ);
const IO = BigInt(VMX_REASON.VMX_REASON_IO);
const IO_READ: Result<bigint> = Object.freeze({ ret: HV.HV_SUCCESS, value: IO });
const HLT = BigInt(VMX_REASON.VMX_REASON_HLT);

/** Fields a VMM may read: known, not host state, not framework-owned (EPTP, hvf-facts.md §1.2 [T]). */
const ACCESSIBLE_FIELDS: readonly number[] = Object.values(VMCS).filter(
  (f) => isKnownVmcsField(f) && !isVmcsHostState(f) && !VMCS_FRAMEWORK_OWNED.includes(f),
);
/**
 * The same as a table indexed by encoding (they are below 0x7000): every VMCS read and write asks, and a
 * Set lookup was the hottest line of the exit round trip.
 */
const ACCESSIBLE = new Uint8Array(Math.max(...ACCESSIBLE_FIELDS) + 1);
for (const f of ACCESSIBLE_FIELDS) ACCESSIBLE[f] = 1;
function accessibleField(field: number): boolean {
  return field < ACCESSIBLE.length && ACCESSIBLE[field] === 1;
}

/** Builds the x86 model. */
export function createX86Model(options: ModelOptions = {}): X86Model {
  return new X86Model(options);
}
