/**
 * The contract between the host (this package's TypeScript) and the EL2 runtime (src/runtime/*.c, *.S):
 * where things live in the machine's RAM, which the host shares with QEMU as a file, and the one-byte
 * doorbells that travel over the PL011 UART. The runtime's `abi.h` is generated from this file at build
 * time (scripts/build-runtime.mjs), so the two cannot drift.
 *
 * RAM (QEMU `virt`: physical address 0x4000_0000 onwards) is a `memory-backend-file` with `share=on`;
 * the host reads and writes it with positional I/O on the same file, so a host buffer *is* guest
 * memory: nothing is copied per run.
 * @module
 */

/** Physical address of RAM on QEMU's `virt` machine. */
export const RAM_BASE = 0x4000_0000;
/** QEMU puts the device tree at the start of RAM; the runtime's image is linked above it. */
export const IMAGE_OFFSET = 0x20_0000;
/** The control page: VM-wide state, boot information, the range list of a TB-invalidation request. */
export const CTRL_OFFSET = 0x30_0000;
/** Bytes of the control page; its tail from {@link CTRL}.RANGES holds the range list. */
export const CTRL_SIZE = 0x4000;
/** One page per vCPU slot: its registers going in, its exit record coming out. */
export const SLOT_OFFSET = 0x40_0000;
/** Bytes of one slot page (4 KiB, laid out as {@link SLOT}). */
export const SLOT_SIZE = 0x1000;
/** Number of slot pages, so the most vCPUs a VM can have (`hv_vm_get_max_vcpu_count` at most). */
export const MAX_SLOTS = 64;
/** Stage-2 translation tables, written by the host (stage2.ts). */
export const TABLE_POOL_OFFSET = 0x100_0000;
/** Bytes of the stage-2 table pool (48 MiB); a `hv_vm_map` that needs more tables returns HV_NO_RESOURCES. */
export const TABLE_POOL_SIZE = 0x300_0000;
/** Host buffers (`host_alloc`) are carved from here to the end of RAM. */
export const HOST_POOL_OFFSET = 0x400_0000;

/** Control page fields (u64 each unless noted). */
export const CTRL = {
  MAGIC: 0x000,
  VERSION: 0x008,
  /** VTTBR_EL2 of the VM (0: no VM). */
  VTTBR: 0x010,
  VTCR: 0x018,
  /** Bumped by the host whenever a valid stage-2 descriptor changes; the runtime flushes TLBs when it sees a new value. */
  TLB_GEN: 0x020,
  /** Number of (pa, len) pairs at RANGES for a DB.INVALIDATE request. */
  NRANGES: 0x028,
  /** Written by the runtime before DB_OUT.PANIC: kind, ESR_EL2, ELR_EL2, FAR_EL2, SPSR_EL2. */
  PANIC: 0x040,
  /** CNTFRQ_EL0 as the runtime read it at boot. */
  CNTFRQ: 0x080,
  /** A DB.GICD request: the offset in QEMU's GIC distributor, the access (size in bytes | write << 8), the value. */
  GICD_REG: 0x0c0,
  GICD_ACCESS: 0x0c8,
  GICD_VALUE: 0x0d0,
  /** ICC_SRE_EL2 as the runtime read it back at boot after writing Enable = 0 (README, D11). */
  ICC_SRE_EL2: 0x0d8,
  /** Number of entries of the system-register table the runtime was built with. */
  NSYSREGS: 0x100,
  /** u64 per entry: hv_sys_reg_t | class << 16 (see {@link SYSREG_CLASS}). */
  SYSREG_TABLE: 0x108,
  /** u64 per entry: the hardware's value at boot (identification registers), parallel to the table. */
  SYSREG_BOOT: 0x600,
  /** NUL-terminated text of a runtime panic. */
  MESSAGE: 0xa00,
  /** The cache identification registers at boot: CTR_EL0, CLIDR_EL1, DCZID_EL0. */
  CTR_EL0: 0xc00,
  CLIDR_EL1: 0xc08,
  DCZID_EL0: 0xc10,
  /** CCSIDR_EL1 of each cache level (u64 × 8): the data or unified caches, then (at +0x40) the instruction caches. */
  CCSIDR: 0xc40,
  /** (pa, len) u64 pairs for DB.INVALIDATE. */
  RANGES: 0x1000,
} as const;
/** Entries the system-register table and each slot's register area hold; the spec's list must fit. */
export const MAX_SYSREGS = 128;
/** (pa, len) pairs one DB.INVALIDATE request carries: what fits from RANGES to the end of the control page. */
export const MAX_RANGES = (CTRL_SIZE - CTRL.RANGES) / 16;
/** "HVSPEL2" followed by a zero byte: the runtime writes it once it is ready. */
export const MAGIC = 0x4856_5350_454c_3200n;
/**
 * Version of this layout; the runtime writes it to {@link CTRL}.VERSION at boot, and the host refuses a
 * runtime that answers with another (an image built from an older abi.ts).
 */
export const ABI_VERSION = 3;

/** Slot page fields. */
export const SLOT = {
  X: 0x000,
  PC: 0x0f8,
  CPSR: 0x100,
  FPCR: 0x108,
  FPSR: 0x110,
  /** {@link RUN_FLAG} bits. */
  FLAGS: 0x118,
  VTIMER_OFFSET: 0x120,
  /** Incremented by the host for every run; the runtime copies it to OUT_SEQ with the exit. */
  IN_SEQ: 0x128,
  STATUS: 0x140,
  REASON: 0x148,
  ESR: 0x150,
  FAR: 0x158,
  IPA: 0x160,
  /** 1 when the exit was VTIMER_ACTIVATED: the vtimer is now masked. */
  VTIMER_FIRED: 0x168,
  OUT_SEQ: 0x170,
  Q: 0x200,
  SYS: 0x400,
} as const;

/**
 * Bits of a slot's FLAGS word, written by the host before each run: a pending IRQ / FIQ
 * (`hv_vcpu_set_pending_interrupt`: HCR_EL2.VI / VF), the vtimer mask (`hv_vcpu_set_vtimer_mask`), and
 * the debug traps (`hv_vcpu_set_trap_debug_exceptions` / `_reg_accesses`: MDCR_EL2.TDE / TDA).
 */
export const RUN_FLAG = {
  IRQ: 1,
  FIQ: 2,
  VTIMER_MASKED: 4,
  TRAP_DEBUG_EXCEPTIONS: 8,
  TRAP_DEBUG_REG_ACCESSES: 16,
} as const;

/** How a run ended, besides an exit record. */
export const RUN_STATUS = {
  EXIT: 0,
  /** The CPSR names a mode a guest cannot run in (EL2, EL3, AArch32, reserved encodings). */
  ILLEGAL_STATE: 1,
  /** The run was dropped by a reset. */
  ABORTED: 2,
} as const;

/** Doorbell bytes from the host to the runtime. */
export const DB = {
  /** RUN + slot: enter the slot's vCPU. */
  RUN: 0x00,
  /** CANCEL + slot: end the slot's run in flight with HV_EXIT_REASON_CANCELED. */
  CANCEL: 0x40,
  PING: 0xf0,
  /** Drop every run in flight and forget the VM. */
  RESET: 0xf1,
  /** Flush the stage-1 and stage-2 TLBs now (a mapping changed while a guest runs). */
  TLB_FLUSH: 0xf2,
  /** Store the bytes of each range back in place, so that QEMU drops translated code the host overwrote. */
  INVALIDATE: 0xf3,
  /**
   * One access to QEMU's own GICv3 distributor (CTRL.GICD_*), for the test that holds the spec's
   * software GIC against QEMU's implementation; the value read comes back in CTRL.GICD_VALUE.
   */
  GICD: 0xf4,
} as const;

/** Doorbell bytes from the runtime to the host. */
export const DB_OUT = {
  /** DONE + slot: the slot's exit record is ready. */
  DONE: 0x00,
  PONG: 0xf0,
  RESET_DONE: 0xf1,
  FLUSHED: 0xf2,
  INVALIDATED: 0xf3,
  GICD_DONE: 0xf4,
  PANIC: 0xfc,
  READY: 0xfd,
  HEARTBEAT: 0xfe,
} as const;

/**
 * How the runtime treats each system register of a vCPU:
 * - EL1: an EL1/EL0 register the runtime saves and restores with MRS/MSR;
 * - ID: an identification register: kept in the slot, returned to the guest by the runtime when HCR_EL2.TID3 traps a read;
 * - VPIDR / VMPIDR: MIDR_EL1 / MPIDR_EL1 as the guest sees them, through VPIDR_EL2 / VMPIDR_EL2;
 * - SOFT: stored only: this CPU model has no such register for an EL1 guest (see the README).
 */
export const SYSREG_CLASS = { EL1: 0, ID: 1, VPIDR: 2, VMPIDR: 3, SOFT: 4 } as const;
/** One of the {@link SYSREG_CLASS} values. */
export type SysRegClass = (typeof SYSREG_CLASS)[keyof typeof SYSREG_CLASS];

/** The C header the runtime is compiled with. */
export function abiHeader(): string {
  const lines = ['/* Generated from packages/el2/src/abi.ts by scripts/build-runtime.mjs. Do not edit. */'];
  lines.push('#pragma once');
  const def = (name: string, v: number | bigint): void => {
    lines.push(`#define ${name} 0x${v.toString(16)}ULL`);
  };
  for (const [k, v] of Object.entries({
    RAM_BASE,
    IMAGE_OFFSET,
    CTRL_OFFSET,
    CTRL_SIZE,
    SLOT_OFFSET,
    SLOT_SIZE,
    MAX_SLOTS,
    TABLE_POOL_OFFSET,
    TABLE_POOL_SIZE,
    HOST_POOL_OFFSET,
    MAX_SYSREGS,
    MAX_RANGES,
    MAGIC,
    ABI_VERSION,
  }))
    def(k, v);
  for (const [group, fields] of Object.entries({
    CTRL,
    SLOT,
    RUN_FLAG,
    RUN_STATUS,
    DB,
    DB_OUT,
    SYSREG_CLASS,
  }))
    for (const [k, v] of Object.entries(fields)) def(`${group}_${k}`, v);
  return `${lines.join('\n')}\n`;
}
