/**
 * The spec's software GIC (the one `hv_gic_*` answers from on the model and on el2) held against an
 * implementation of the GICv3 architecture we did not write: QEMU's own distributor, under the EL2
 * runtime. Any sequence of writes to the SPI registers of INTIDs 64–95 (group, enable, pending, active,
 * priority, configuration, routing) must read back the same on both (Arm IHI 0069: set/clear register
 * pairs, a priority byte per INTID, ICFGR keeping bit 1 of each field, IROUTER's Aff3–Aff0 and IRM with
 * the rest RES0, which an implementation may keep as written or read as zero: compared without them).
 * Routing stays away from the runtime's own CPU (Aff0 odd, IRM 0), so that no interrupt
 * the test makes pending is delivered.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GicDevice, softwareGicParameters } from '@hvspec/spec';
import fc from 'fast-check';
import { el2, skip } from './helpers.ts';

const backend = el2();

/** One bit per INTID: the word of INTIDs 64–95 in each array (IGROUPR2, ISENABLER2, …, ICACTIVER2). */
const BIT_WORDS = [0x88, 0x108, 0x188, 0x208, 0x288, 0x308, 0x388];
/** A byte per INTID: IPRIORITYR16–23. */
const PRIORITY_WORDS = Array.from({ length: 8 }, (_, i) => 0x440 + 4 * i);
/** Two bits per INTID: ICFGR4–5. */
const CONFIG_WORDS = [0xc10, 0xc14];
/** IROUTER64–95. */
const ROUTERS = Array.from({ length: 32 }, (_, i) => 0x6000 + 8 * (64 + i));
const WORDS = [...BIT_WORDS, ...PRIORITY_WORDS, ...CONFIG_WORDS];

/** IROUTER's fields: Aff3 (39:32), IRM (31), Aff2–Aff0 (23:0); the rest is RES0. */
const IROUTER_FIELDS = 0xff_80ff_ffffn;

/** Never the runtime's CPU (affinity 0.0.0.0) and never "any CPU" (IRM = 1): Aff0's bit 0 set, IRM clear. */
const awayFromCpu0 = (v: bigint): bigint => (v | 1n) & ~(1n << 31n);

type Write = { readonly reg: number; readonly value: bigint };

const writeArb: fc.Arbitrary<Write> = fc.oneof(
  fc.record({
    reg: fc.constantFrom(...WORDS),
    value: fc
      .oneof(
        fc.integer({ min: 0, max: 0xffff_ffff }),
        fc.constantFrom(0, 0xffff_ffff, 0x5555_5555, 0xaaaa_aaaa),
      )
      .map(BigInt),
  }),
  fc.record({
    reg: fc.constantFrom(...ROUTERS),
    value: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map(awayFromCpu0),
  }),
);

describe("the spec's software GIC against QEMU's GICv3 distributor", { skip }, () => {
  it('reads back what QEMU does after any writes to the SPI registers of INTIDs 64–95', () => {
    const b = backend();
    const qemu = {
      write: (w: Write) => b.qemuDistributor(w.reg, w.reg >= 0x6000 ? 8 : 4, w.value),
      read: (reg: number) => b.qemuDistributor(reg, reg >= 0x6000 ? 8 : 4),
    };
    // Both from the same state: routed away, disabled, idle, group 0, priority 0, level-sensitive.
    const start: Write[] = [
      ...ROUTERS.map((reg) => ({ reg, value: 1n })),
      ...[0x188, 0x288, 0x388].map((reg) => ({ reg, value: 0xffff_ffffn })),
      ...[0x88, ...PRIORITY_WORDS, ...CONFIG_WORDS].map((reg) => ({ reg, value: 0n })),
    ];
    fc.assert(
      fc.property(fc.array(writeArb, { minLength: 1, maxLength: 24 }), (writes) => {
        const ours = new GicDevice(
          softwareGicParameters(1),
          { distributorBase: 0n, redistributorBase: 0n, msi: undefined },
          1,
        );
        for (const w of [...start, ...writes]) {
          qemu.write(w);
          assert.ok(ours.writeDistributor(w.reg, w.value), `offset 0x${w.reg.toString(16)}`);
        }
        for (const reg of [...WORDS, ...ROUTERS]) {
          // IROUTER's RES0 bits may read as written (QEMU keeps them; the spec's GIC reads them as 0).
          const q = qemu.read(reg) & (reg >= 0x6000 ? IROUTER_FIELDS : 0xffff_ffffn);
          const o = ours.readDistributor(reg);
          assert.equal(
            `0x${o?.toString(16)}`,
            `0x${q.toString(16)}`,
            `GICD offset 0x${reg.toString(16)}: the spec's GIC reads 0x${o?.toString(16)}, QEMU's 0x${q.toString(16)}`,
          );
        }
      }),
      { numRuns: 40 },
    );
  });

  it("refuses the runtime's own registers", () => {
    const b = backend();
    assert.throws(() => b.qemuDistributor(0x0, 4), RangeError); // GICD_CTLR
    assert.throws(() => b.qemuDistributor(0x104, 4, 0n), RangeError); // ISENABLER1: the UART's INTID 33
    assert.throws(() => b.qemuDistributor(0x6000 + 8 * 33, 8, 0n), RangeError);
    assert.throws(() => b.qemuDistributor(0x442, 4), RangeError); // misaligned
  });
});
