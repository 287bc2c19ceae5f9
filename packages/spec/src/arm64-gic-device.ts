/**
 * The in-framework GICv3 (`hv_gic_*`) of the model and the el2 backend: the register state a VMM reads
 * and writes through the API, kept as the GICv3 architecture lays it out (Arm IHI 0069), and the opaque
 * state blob. Like the configuration objects (arm64-configs.ts) it is the framework's software, not the
 * guest's hardware, so both backends keep it here and a differential run compares guests rather than
 * this bookkeeping.
 *
 * What the facts pin (hvf-facts.md §2.7) is the API's behaviour; the registers' contents are the
 * architecture's, so this file keeps them the way a GICv3 with affinity routing and one security state
 * does (GICD_CTLR.ARE and DS read 1): set/clear register pairs share one bit array, priorities are
 * bytes, SGI and PPI state lives in each redistributor (the distributor's words for INTIDs 0–31 read
 * as zero and ignore writes, as with ARE = 1), configuration registers keep bit 1 of each field (edge).
 * The guest does not see this GIC: both backends run guests of a VM with a GIC as they run them without
 * one (packages/model/README.md, packages/el2/README.md).
 *
 * Redistributors are indexed by the vCPU's affinity (MPIDR_EL1 Aff0 + 256·Aff1 + 65536·Aff2, modulo
 * the VM's vCPU limit): that is where `hv_gic_get_redistributor_base` places a vCPU, and whose
 * registers its `hv_gic_*_redistributor_reg` reach.
 * @module
 */
import type { GicParameters } from './backend.js';
import {
  HV_GIC_ICC_REG as ICC,
  HV_GIC_ICH_REG as ICH,
  HV_GIC_MSI_REG as MSI,
  HV_GIC_REDISTRIBUTOR_REG as RD,
} from './vocabulary/arm64.js';

/** The software GIC's answers to the parameter queries, for a VM of at most `maxVcpus` vCPUs. */
export function softwareGicParameters(maxVcpus: number): GicParameters {
  return {
    distributorSize: 0x1_0000,
    distributorBaseAlignment: 0x1_0000,
    // Two 64 KiB frames per redistributor, one per vCPU the VM supports (hvf-facts.md §2.7 [H]).
    redistributorRegionSize: 0x2_0000 * maxVcpus,
    redistributorSize: 0x2_0000,
    redistributorBaseAlignment: 0x1_0000,
    msiRegionSize: 0x1_0000,
    msiRegionBaseAlignment: 0x1_0000,
    spiBase: 32,
    spiCount: 224,
  };
}

/** Where a GIC was placed by its configuration. */
export interface GicLayout {
  readonly distributorBase: bigint;
  readonly redistributorBase: bigint;
  readonly msi: { readonly base: bigint; readonly intidBase: number; readonly count: number } | undefined;
}

const PIDR2_GICV3 = 0x30n;
/** GICD_CTLR: EnableGrp0, EnableGrp1 writable; ARE_S (bit 4) and DS (bit 6) read as one. */
const GICD_CTLR_RW = 0x3;
const GICD_CTLR_RO = (1 << 4) | (1 << 6);
/** IROUTER: Aff3 (39:32), Interrupt_Routing_Mode (31), Aff2–Aff0 (23:0). */
const IROUTER_MASK = 0xff_8000_0000n | 0xff_ffffn;
/** ICFGR fields keep bit 1 (edge); SGIs are always edge-triggered. */
const ICFGR_MASK = 0xaaaa_aaaa;

/** One redistributor: the SGI/PPI state of INTIDs 0–31. */
interface Redistributor {
  group: number;
  enabled: number;
  pending: number;
  active: number;
  /** ICFGR1 (PPIs); ICFGR0 (SGIs) is fixed. */
  icfgr1: number;
  readonly priority: Uint8Array;
}

/** The GIC state kept one bit per INTID (GICD_IGROUPR, the set/clear enable, pending and active pairs). */
export type GicBitState = 'group' | 'enabled' | 'pending' | 'active';
/** What a write to a bit-array register does: IGROUPR replaces the word, the set/clear pairs set or clear bits. */
export type GicBitWrite = 'assign' | 'set' | 'clear';

/**
 * The per-INTID register arrays, at the same offsets in the distributor and in a redistributor's SGI
 * frame (Arm IHI 0069): `bits` per INTID, from `base`.
 */
const REGISTER_ARRAYS: readonly {
  readonly base: number;
  readonly bits: number;
  readonly kind: GicBitState | 'priority' | 'icfgr';
  readonly write?: GicBitWrite;
}[] = [
  { base: 0x0080, bits: 1, kind: 'group', write: 'assign' },
  { base: 0x0100, bits: 1, kind: 'enabled', write: 'set' },
  { base: 0x0180, bits: 1, kind: 'enabled', write: 'clear' },
  { base: 0x0200, bits: 1, kind: 'pending', write: 'set' },
  { base: 0x0280, bits: 1, kind: 'pending', write: 'clear' },
  { base: 0x0300, bits: 1, kind: 'active', write: 'set' },
  { base: 0x0380, bits: 1, kind: 'active', write: 'clear' },
  { base: 0x0400, bits: 8, kind: 'priority' },
  { base: 0x0c00, bits: 2, kind: 'icfgr' },
];

/**
 * The per-INTID register array a GICv3 distributor (or SGI-frame) offset is in, with the first INTID
 * the word covers; undefined for another offset.
 */
export function gicRegisterArray(
  reg: number,
): { kind: (typeof REGISTER_ARRAYS)[number]['kind']; write?: GicBitWrite; first: number } | undefined {
  for (const a of REGISTER_ARRAYS)
    if (reg >= a.base && reg < a.base + 128 * a.bits && reg % 4 === 0)
      return { kind: a.kind, ...(a.write ? { write: a.write } : {}), first: ((reg - a.base) * 8) / a.bits };
  return undefined;
}

/** A bit-array word after a write of `v`: GICD_IGROUPR replaces it, the set/clear pairs set or clear bits. */
function afterWrite(write: GicBitWrite, old: number, v: number): number {
  return write === 'assign' ? v : write === 'set' ? old | v : old & ~v;
}

/** Offset of a redistributor's SGI frame from RD_base. */
const SGI_FRAME = 0x1_0000;

/** {@link gicRegisterArray} of a redistributor offset: the SGI frame's words of INTIDs 0–31 only. */
function sgiFrameArray(reg: number): ReturnType<typeof gicRegisterArray> {
  const a = gicRegisterArray(reg - SGI_FRAME);
  return a && a.first < 32 ? a : undefined;
}

function freshRedistributor(): Redistributor {
  return { group: 0, enabled: 0, pending: 0, active: 0, icfgr1: 0, priority: new Uint8Array(32) };
}

/** The CPU interface registers of one vCPU (not part of the state blob, hvf-facts.md §2.7 [H]). */
export class GicCpuInterface {
  readonly icc = new Map<number, bigint>();
  readonly ich = new Map<number, bigint>();
  readonly icv = new Map<number, bigint>();
}

const ICC_WRITABLE: ReadonlyMap<number, bigint> = new Map([
  [ICC.HV_GIC_ICC_REG_PMR_EL1, 0xffn],
  [ICC.HV_GIC_ICC_REG_BPR0_EL1, 0x7n],
  [ICC.HV_GIC_ICC_REG_AP0R0_EL1, 0xffff_ffffn],
  [ICC.HV_GIC_ICC_REG_AP1R0_EL1, 0xffff_ffffn],
  [ICC.HV_GIC_ICC_REG_BPR1_EL1, 0x7n],
  // EOImode (bit 1) and CBPR (bit 0); PRIbits (10:8) is read-only.
  [ICC.HV_GIC_ICC_REG_CTLR_EL1, 0x3n],
  [ICC.HV_GIC_ICC_REG_IGRPEN0_EL1, 0x1n],
  [ICC.HV_GIC_ICC_REG_IGRPEN1_EL1, 0x1n],
  [ICC.HV_GIC_ICC_REG_SRE_EL2, 0x9n],
]);
/** Read-only parts: RPR idle (0xff), CTLR.PRIbits = 7 (eight priority bits), SRE_EL1 = SRE|DFB|DIB. */
const ICC_FIXED: ReadonlyMap<number, bigint> = new Map([
  [ICC.HV_GIC_ICC_REG_RPR_EL1, 0xffn],
  [ICC.HV_GIC_ICC_REG_CTLR_EL1, 7n << 8n],
  [ICC.HV_GIC_ICC_REG_SRE_EL1, 0x7n],
  [ICC.HV_GIC_ICC_REG_SRE_EL2, 0x7n],
]);

/** ICH_VTR_EL2: four list registers (ListRegs 3), five preemption and priority bits. */
const ICH_VTR = (4n << 29n) | (4n << 26n) | 3n;
const ICH_LR0 = ICH.HV_GIC_ICH_REG_LR0_EL2 as number;
/** List registers this GIC implements (ICH_VTR_EL2.ListRegs + 1). */
const ICH_LRS = 4;

/** The device: distributor, redistributors, MSI frame. */
export class GicDevice {
  private ctlr = 0;
  private readonly intids: number;
  private readonly group: Uint32Array;
  private readonly enabled: Uint32Array;
  private readonly pending: Uint32Array;
  private readonly active: Uint32Array;
  private readonly icfgr: Uint32Array;
  private readonly priority: Uint8Array;
  private readonly irouter: BigUint64Array;
  /** Level of each SPI line (hv_gic_set_spi on level-triggered INTIDs). */
  private readonly level: Uint32Array;
  private readonly redistributors: Redistributor[];
  /** The bit arrays by the state they keep. */
  private readonly bits: Readonly<Record<GicBitState, Uint32Array>>;
  readonly cpus = new Map<number, GicCpuInterface>();

  constructor(
    readonly params: GicParameters,
    readonly layout: GicLayout,
    private readonly slots: number,
  ) {
    this.intids = Math.ceil((params.spiBase + params.spiCount) / 32) * 32;
    const words = this.intids / 32;
    this.group = new Uint32Array(words);
    this.enabled = new Uint32Array(words);
    this.pending = new Uint32Array(words);
    this.active = new Uint32Array(words);
    this.level = new Uint32Array(words);
    this.icfgr = new Uint32Array(words * 2);
    this.priority = new Uint8Array(this.intids);
    this.irouter = new BigUint64Array(this.intids);
    this.redistributors = Array.from({ length: slots }, freshRedistributor);
    this.bits = { group: this.group, enabled: this.enabled, pending: this.pending, active: this.active };
  }

  /** hv_gic_reset: every register back to its reset value (zero), lines low. */
  reset(): void {
    this.ctlr = 0;
    for (const a of [this.group, this.enabled, this.pending, this.active, this.icfgr, this.level]) a.fill(0);
    this.priority.fill(0);
    this.irouter.fill(0n);
    for (let i = 0; i < this.redistributors.length; i++) this.redistributors[i] = freshRedistributor();
  }

  /** The redistributor a vCPU with this MPIDR_EL1 uses. */
  slotOf(mpidr: bigint): number {
    const aff =
      Number(mpidr & 0xffn) + 256 * Number((mpidr >> 8n) & 0xffn) + 65536 * Number((mpidr >> 16n) & 0xffn);
    return aff % this.slots;
  }

  /** The IPA of the redistributor a vCPU with this MPIDR_EL1 uses (`hv_gic_get_redistributor_base`). */
  redistributorBase(mpidr: bigint): bigint {
    return this.layout.redistributorBase + BigInt(this.slotOf(mpidr) * this.params.redistributorSize);
  }

  /** Whether an INTID is an SPI of this GIC. */
  isSpi(intid: number): boolean {
    return intid >= this.params.spiBase && intid < this.params.spiBase + this.params.spiCount;
  }

  /** hv_gic_set_spi: a level for level-triggered INTIDs; for edge-triggered ones true is an edge, false nothing. */
  setSpi(intid: number, high: boolean): void {
    const w = intid >> 5;
    const bit = 1 << (intid & 31);
    const edge = ((this.icfgr[intid >> 4] as number) >>> (2 * (intid & 15) + 1)) & 1;
    if (edge) {
      if (high) this.pending[w] = (this.pending[w] as number) | bit;
      return;
    }
    if (high) {
      this.level[w] = (this.level[w] as number) | bit;
      this.pending[w] = (this.pending[w] as number) | bit;
    } else {
      this.level[w] = (this.level[w] as number) & ~bit;
      this.pending[w] = (this.pending[w] as number) & ~bit;
    }
  }

  /** An MSI: its SPI becomes pending (a write of the INTID to GICM_SET_SPI_NSR). */
  sendMsi(intid: number): void {
    this.pending[intid >> 5] = (this.pending[intid >> 5] as number) | (1 << (intid & 31));
  }

  // ---- distributor --------------------------------------------------------------------------------

  /** A distributor register, or undefined for an offset this GIC does not implement. */
  readDistributor(reg: number): bigint | undefined {
    if (reg === 0x0000) return BigInt(this.ctlr | GICD_CTLR_RO);
    // IDbits 9 (ten-bit INTIDs), ITLinesNumber: the SPIs implemented (Arm IHI 0069, GICD_TYPER).
    if (reg === 0x0004) return (9n << 19n) | BigInt(this.intids / 32 - 1);
    if (reg === 0xffe8) return PIDR2_GICV3;
    if (reg >= 0x6100 && reg < 0x6000 + 8 * 1020 && reg % 8 === 0) {
      const n = (reg - 0x6000) / 8;
      return n < this.intids ? (this.irouter[n] as bigint) : 0n;
    }
    const a = gicRegisterArray(reg);
    if (!a) return undefined;
    // SGIs and PPIs live in the redistributors (ARE = 1): their distributor words read as zero.
    if (a.first < 32 || a.first >= this.intids) return 0n;
    if (a.kind === 'priority') return BigInt(new DataView(this.priority.buffer).getUint32(a.first, true));
    if (a.kind === 'icfgr') return BigInt(this.icfgr[a.first >> 4] as number);
    return BigInt(this.bits[a.kind][a.first >> 5] as number);
  }

  /** Writes a distributor register; false for an offset this GIC does not implement. */
  writeDistributor(reg: number, value: bigint): boolean {
    const v = Number(value & 0xffff_ffffn) >>> 0;
    if (reg === 0x0000) {
      this.ctlr = v & GICD_CTLR_RW;
      return true;
    }
    if (reg === 0x0004 || reg === 0xffe8) return true; // read-only: the write is ignored
    if (reg >= 0x6100 && reg < 0x6000 + 8 * 1020 && reg % 8 === 0) {
      const n = (reg - 0x6000) / 8;
      if (n < this.intids) this.irouter[n] = value & IROUTER_MASK;
      return true;
    }
    const a = gicRegisterArray(reg);
    if (!a) return false;
    if (a.first < 32 || a.first >= this.intids) return true;
    if (a.kind === 'priority') new DataView(this.priority.buffer).setUint32(a.first, v, true);
    else if (a.kind === 'icfgr') this.icfgr[a.first >> 4] = v & ICFGR_MASK;
    else {
      const words = this.bits[a.kind];
      const w = a.first >> 5;
      words[w] = afterWrite(a.write as GicBitWrite, words[w] as number, v);
    }
    return true;
  }

  // ---- redistributors ------------------------------------------------------------------------------

  /** A redistributor register of the vCPU with this MPIDR_EL1, or undefined for another offset. */
  readRedistributor(mpidr: bigint, reg: number): bigint | undefined {
    const slot = this.slotOf(mpidr);
    const r = this.redistributors[slot] as Redistributor;
    if (reg === RD.HV_GIC_REDISTRIBUTOR_REG_GICR_TYPER) {
      // Affinity_Value = the PE's Aff3.Aff2.Aff1.Aff0; Processor_Number; Last for the region's last frame.
      const aff = (((mpidr >> 32n) & 0xffn) << 24n) | (mpidr & 0xff_ffffn);
      const last = slot === this.slots - 1 ? 1n << 4n : 0n;
      return (aff << 32n) | (BigInt(slot) << 8n) | last;
    }
    if (reg === RD.HV_GIC_REDISTRIBUTOR_REG_GICR_PIDR2) return PIDR2_GICV3;
    const a = sgiFrameArray(reg);
    if (!a) return undefined;
    if (a.kind === 'priority') return BigInt(new DataView(r.priority.buffer).getUint32(a.first, true));
    // ICFGR0 (SGIs) is fixed: always edge-triggered.
    if (a.kind === 'icfgr') return BigInt(a.first === 0 ? ICFGR_MASK : r.icfgr1 >>> 0);
    return BigInt(r[a.kind] >>> 0);
  }

  /** Writes a redistributor register of the vCPU with this MPIDR_EL1; false for an offset it does not implement. */
  writeRedistributor(mpidr: bigint, reg: number, value: bigint): boolean {
    const r = this.redistributors[this.slotOf(mpidr)] as Redistributor;
    const v = Number(value & 0xffff_ffffn) | 0;
    // Read-only: the write is ignored.
    if (reg === RD.HV_GIC_REDISTRIBUTOR_REG_GICR_TYPER || reg === RD.HV_GIC_REDISTRIBUTOR_REG_GICR_PIDR2)
      return true;
    const a = sgiFrameArray(reg);
    if (!a) return false;
    if (a.kind === 'priority') new DataView(r.priority.buffer).setUint32(a.first, v >>> 0, true);
    else if (a.kind === 'icfgr') {
      if (a.first !== 0) r.icfgr1 = v & ICFGR_MASK;
    } else r[a.kind] = afterWrite(a.write as GicBitWrite, r[a.kind], v);
    return true;
  }

  // ---- CPU interface ---------------------------------------------------------------------------------

  private cpu(vcpu: number): GicCpuInterface {
    let c = this.cpus.get(vcpu);
    if (!c) {
      c = new GicCpuInterface();
      this.cpus.set(vcpu, c);
    }
    return c;
  }

  /** An ICC register of vCPU `vcpu`, or undefined for a register number the enum does not name. */
  readIcc(vcpu: number, reg: number): bigint | undefined {
    const writable = ICC_WRITABLE.get(reg);
    const fixed = ICC_FIXED.get(reg);
    if (writable === undefined && fixed === undefined) return undefined;
    return (this.cpu(vcpu).icc.get(reg) ?? 0n) | (fixed ?? 0n);
  }

  /** Writes an ICC register's writable bits; false for a register number the enum does not name. */
  writeIcc(vcpu: number, reg: number, value: bigint): boolean {
    const writable = ICC_WRITABLE.get(reg);
    if (writable === undefined) return ICC_FIXED.has(reg);
    this.cpu(vcpu).icc.set(reg, value & writable);
    return true;
  }

  /** An ICH register of vCPU `vcpu` (VTR fixed), or undefined for a register number the enum does not name. */
  readIch(vcpu: number, reg: number): bigint | undefined {
    const c = this.cpu(vcpu);
    switch (reg) {
      case ICH.HV_GIC_ICH_REG_VTR_EL2:
        return ICH_VTR;
      case ICH.HV_GIC_ICH_REG_MISR_EL2:
      case ICH.HV_GIC_ICH_REG_EISR_EL2:
        return 0n;
      case ICH.HV_GIC_ICH_REG_ELRSR_EL2: {
        // A list register is empty when its State field (63:62) is 0.
        let empty = 0n;
        for (let i = 0; i < ICH_LRS; i++)
          if ((c.ich.get(ICH_LR0 + i) ?? 0n) >> 62n === 0n) empty |= 1n << BigInt(i);
        return empty;
      }
    }
    if (!Object.values(ICH).includes(reg)) return undefined;
    if (reg >= ICH_LR0 + ICH_LRS && reg < ICH_LR0 + 16) return 0n;
    return c.ich.get(reg) ?? 0n;
  }

  /** Writes an ICH register (read-only ones and absent list registers ignore it); false for an unnamed one. */
  writeIch(vcpu: number, reg: number, value: bigint): boolean {
    if (!Object.values(ICH).includes(reg)) return false;
    const ro: readonly number[] = [
      ICH.HV_GIC_ICH_REG_VTR_EL2 as number,
      ICH.HV_GIC_ICH_REG_MISR_EL2 as number,
      ICH.HV_GIC_ICH_REG_EISR_EL2 as number,
      ICH.HV_GIC_ICH_REG_ELRSR_EL2 as number,
    ];
    if (ro.includes(reg) || (reg >= ICH_LR0 + ICH_LRS && reg < ICH_LR0 + 16)) return true;
    this.cpu(vcpu).ich.set(reg, value);
    return true;
  }

  /** ICV registers: the facts give no enum, so any register number is stored as written. */
  readIcv(vcpu: number, reg: number): bigint {
    return this.cpu(vcpu).icv.get(reg) ?? 0n;
  }

  /** Stores an ICV register as written. */
  writeIcv(vcpu: number, reg: number, value: bigint): void {
    this.cpu(vcpu).icv.set(reg, value);
  }

  // ---- MSI frame -----------------------------------------------------------------------------------------

  /** GICM_TYPER as a GICv2m frame has it: the first SPI (25:16) and how many (9:0); SET_SPI_NSR reads 0. */
  readMsi(reg: number): bigint | undefined {
    const msi = this.layout.msi;
    if (reg === MSI.HV_GIC_REG_GICM_TYPER)
      return msi ? (BigInt(msi.intidBase) << 16n) | BigInt(msi.count) : 0n;
    if (reg === MSI.HV_GIC_REG_GICM_SET_SPI_NSR) return 0n;
    return undefined;
  }

  /** Writes the MSI frame: GICM_SET_SPI_NSR makes its SPI pending; false for another offset. */
  writeMsi(reg: number, value: bigint): boolean {
    const msi = this.layout.msi;
    if (reg === MSI.HV_GIC_REG_GICM_TYPER) return true;
    if (reg !== MSI.HV_GIC_REG_GICM_SET_SPI_NSR) return false;
    const intid = Number(value & 0x3ffn);
    if (msi && intid >= msi.intidBase && intid < msi.intidBase + msi.count) this.sendMsi(intid);
    return true;
  }

  // ---- state blob ------------------------------------------------------------------------------------

  /**
   * The state as opaque data: a magic and version (so that foreign or damaged data is refused), the
   * geometry it belongs to, then the distributor and every redistributor. CPU interfaces are not in it
   * (hvf-facts.md §2.7 [H]).
   */
  serialize(): Uint8Array {
    const words: number[] = [STATE_MAGIC0, STATE_MAGIC1, STATE_VERSION];
    words.push(this.params.spiBase, this.params.spiCount, this.slots, this.ctlr);
    for (const a of [this.group, this.enabled, this.pending, this.active, this.icfgr, this.level])
      words.push(...a);
    const head = new Uint32Array(words);
    const routes = new Uint8Array(this.irouter.buffer.slice(0));
    const redist = new Uint32Array(this.slots * 5);
    const prio = new Uint8Array(this.slots * 32);
    this.redistributors.forEach((r, i) => {
      redist.set([r.group, r.enabled, r.pending, r.active, r.icfgr1], i * 5);
      prio.set(r.priority, i * 32);
    });
    const parts = [new Uint8Array(head.buffer), this.priority, routes, new Uint8Array(redist.buffer), prio];
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  /** The size of {@link serialize}'s data. */
  stateSize(): number {
    const words = this.intids / 32;
    return 4 * (7 + 6 * words + words) + this.intids + 8 * this.intids + this.slots * (20 + 32);
  }

  /** Restores {@link serialize}'s data; false (nothing changed) when it is not data of this GIC. */
  restore(data: Uint8Array): boolean {
    if (data.length !== this.stateSize()) return false;
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const u32 = (i: number): number => view.getUint32(4 * i, true);
    if (u32(0) !== STATE_MAGIC0 || u32(1) !== STATE_MAGIC1 || u32(2) !== STATE_VERSION) return false;
    if (u32(3) !== this.params.spiBase || u32(4) !== this.params.spiCount || u32(5) !== this.slots)
      return false;
    const words = this.intids / 32;
    this.ctlr = u32(6) & GICD_CTLR_RW;
    let i = 7;
    for (const a of [this.group, this.enabled, this.pending, this.active])
      for (let k = 0; k < words; k++) a[k] = u32(i++);
    for (let k = 0; k < 2 * words; k++) this.icfgr[k] = u32(i++) & ICFGR_MASK;
    for (let k = 0; k < words; k++) this.level[k] = u32(i++);
    let at = 4 * i;
    this.priority.set(data.subarray(at, at + this.intids));
    at += this.intids;
    for (let k = 0; k < this.intids; k++)
      this.irouter[k] = view.getBigUint64(at + 8 * k, true) & IROUTER_MASK;
    at += 8 * this.intids;
    this.redistributors.forEach((r, s) => {
      const b = at + 20 * s;
      r.group = view.getUint32(b, true) | 0;
      r.enabled = view.getUint32(b + 4, true) | 0;
      r.pending = view.getUint32(b + 8, true) | 0;
      r.active = view.getUint32(b + 12, true) | 0;
      r.icfgr1 = view.getUint32(b + 16, true) & ICFGR_MASK;
    });
    at += 20 * this.slots;
    this.redistributors.forEach((r, s) => {
      r.priority.set(data.subarray(at + 32 * s, at + 32 * s + 32));
    });
    return true;
  }
}

/** "HVSPGIC1" as two little-endian words: the blob's first byte is 'H', never 0. */
const STATE_MAGIC0 = 0x50535648;
const STATE_MAGIC1 = 0x31434947;
const STATE_VERSION = 1;
