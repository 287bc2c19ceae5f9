import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type Arm64MmuConfig,
  type Arm64S1Entry,
  arm64LevelSpan,
  arm64Stage1,
  arm64StartLevel,
  buildArm64Tables,
} from '../../../src/guest/arm64/mmu.js';
import { arm64Granules } from '../../../src/guest/arm64/scenario.js';

const T = 0x100000n;
const page = (va: bigint, o: Partial<Arm64S1Entry> = {}): Arm64S1Entry => ({
  va,
  level: 3,
  oa: va,
  ap: 1,
  uxn: false,
  pxn: false,
  af: true,
  device: false,
  ...o,
});
const CFG: Arm64MmuConfig = {
  granule: 4096,
  t0sz: 25,
  t1sz: 39,
  ttbr1: false,
  tableIpa: T,
  tableSize: 0x10000,
  entries: [
    page(0x10000n, { ap: 3 }),
    page(0x20000n),
    page(0x30000n, { af: false }),
    { va: 0x4000_0000n, level: 2, oa: 0x4000_0000n, ap: 2, uxn: true, pxn: false, af: true, device: true },
  ],
  badTables: [{ va: 0x6000_0000n, level: 2, ipa: 0x9000_0000n }],
};
const desc = (bytes: Uint8Array, at: bigint): bigint => {
  let v = 0n;
  for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(bytes[Number(at - T) + i]!);
  return v;
};

test('geometry: start levels and spans of the three granules', () => {
  assert.equal(arm64StartLevel({ ...CFG, t0sz: 16 }, false), 0); // 4 KiB, 48-bit VA
  assert.equal(arm64StartLevel(CFG, false), 1); // 4 KiB, 39-bit VA
  assert.equal(arm64StartLevel({ ...CFG, granule: 16384, t0sz: 16 }, false), 0);
  assert.equal(arm64StartLevel({ ...CFG, granule: 16384, t0sz: 25 }, false), 1);
  assert.equal(arm64StartLevel({ ...CFG, granule: 16384, t0sz: 28 }, false), 2); // 36 bits: exactly two levels
  assert.equal(arm64StartLevel({ ...CFG, granule: 65536, t0sz: 22 }, false), 2);
  assert.equal(arm64StartLevel({ ...CFG, granule: 65536, t0sz: 16 }, false), 1);
  assert.equal(arm64LevelSpan(4096, 2), 0x20_0000n);
  assert.equal(arm64LevelSpan(16384, 2), 0x200_0000n);
  assert.equal(arm64LevelSpan(65536, 2), 0x2000_0000n);
  assert.equal(arm64LevelSpan(65536, 3), 0x1_0000n);
});

test('buildArm64Tables: registers and descriptors, bit for bit', () => {
  const s = buildArm64Tables(CFG);
  // T0SZ 25, IRGN0/ORGN0 write-back, SH0 inner, TG0 4 KiB, T1SZ 39, EPD1, IRGN1/ORGN1/SH1, TG1 4 KiB, IPS 40 bits.
  assert.equal(s.tcr, 0x2_b5a7_3519n);
  assert.equal(s.mair, 0xffn);
  assert.equal(s.sctlr, 1n);
  assert.equal(s.ttbr0, T);
  // Tables take granule slots in the order they are needed: the root, the level-2 table the bad table
  // descriptor lives in (level-1 entry 1), then level 2 and level 3 for the pages (level-1 entry 0).
  assert.equal(desc(s.bytes, T), (T + 0x2000n) | 3n);
  assert.equal(desc(s.bytes, T + 8n), (T + 0x1000n) | 3n);
  assert.equal(desc(s.bytes, T + 0x2000n), (T + 0x3000n) | 3n);
  // Pages: AP 3 (RO at both ELs) and AP 1; SH inner, AF; the access-flag-clear page has bit 10 clear.
  const l3 = T + 0x3000n;
  assert.equal(desc(s.bytes, l3 + 0x10n * 8n), 0x107c3n);
  assert.equal(desc(s.bytes, l3 + 0x20n * 8n), 0x20743n);
  assert.equal(desc(s.bytes, l3 + 0x30n * 8n), 0x30343n);
  // The 2 MiB block: Device (AttrIndx 1), AP 2, UXN, in level-1 entry 1's level-2 table.
  const l2b = T + 0x1000n;
  assert.equal(desc(s.bytes, l2b), 0x0040_0000_4000_0785n);
  // The bad table descriptor: level 2 of the 0x40000000 GiB, entry 0x100, → IPA 0x90000000.
  assert.equal(desc(s.bytes, l2b + 0x100n * 8n), 0x9000_0003n);
});

test('arm64Stage1 from the description: levels, permissions, attributes, walks', () => {
  const ok = (ipa: bigint, device = false) => ({ kind: 'ok', ipa, device });
  const fault = (fsc: number) => ({ kind: 'fault', fsc });
  assert.deepEqual(arm64Stage1(CFG, 0x10004n, 'fetch', 0), ok(0x10004n));
  assert.deepEqual(arm64Stage1(CFG, 0x10004n, 'fetch', 1), ok(0x10004n));
  assert.deepEqual(arm64Stage1(CFG, 0x10004n, 'write', 1), fault(0x0f)); // AP 3: read-only
  assert.deepEqual(arm64Stage1(CFG, 0x20008n, 'write', 0), ok(0x20008n));
  assert.deepEqual(arm64Stage1(CFG, 0x20000n, 'fetch', 1), fault(0x0f)); // EL0-writable: never EL1-executable
  assert.deepEqual(arm64Stage1(CFG, 0x20000n, 'fetch', 0), ok(0x20000n));
  assert.deepEqual(arm64Stage1(CFG, 0x21000n, 'read', 1), fault(0x07)); // no page descriptor
  assert.deepEqual(arm64Stage1(CFG, 0x30000n, 'read', 1), fault(0x0b)); // access flag
  assert.deepEqual(arm64Stage1(CFG, 0x4012_3456n, 'read', 1), ok(0x4012_3456n, true));
  assert.deepEqual(arm64Stage1(CFG, 0x4012_3456n, 'write', 1), fault(0x0e)); // block at level 2, RO
  assert.deepEqual(arm64Stage1(CFG, 0x4012_3456n, 'read', 0), fault(0x0e)); // AP 2: no EL0 access
  assert.deepEqual(arm64Stage1(CFG, 0x4020_0000n, 'read', 1), fault(0x06)); // next 2 MiB: nothing
  assert.deepEqual(arm64Stage1(CFG, 0x8000_0000n, 'read', 1), fault(0x05)); // level-1 entry 2: invalid
  assert.deepEqual(arm64Stage1(CFG, 1n << 39n, 'read', 1), fault(0x04)); // beyond T0SZ
  assert.deepEqual(arm64Stage1(CFG, 0xffff_ffff_ffff_f000n, 'read', 1), fault(0x04)); // TTBR1 disabled (EPD1)
  // The bad table: the level-3 descriptor is read at its IPA + index * 8.
  assert.deepEqual(arm64Stage1(CFG, 0x6000_3000n, 'read', 1), { kind: 'walk', ipa: 0x9000_0018n });
  // MMU off: VA = IPA, data Device, fetch Normal; a VA beyond the 40-bit PA is an address-size fault.
  assert.deepEqual(arm64Stage1(undefined, 0x1234n, 'read', 0), ok(0x1234n, true));
  assert.deepEqual(arm64Stage1(undefined, 0x1234n, 'fetch', 1), ok(0x1234n));
  assert.deepEqual(arm64Stage1(undefined, 1n << 40n, 'read', 1), fault(0x00));
  // EL0 fetch from memory EL0 cannot read: not predicted (the Arm ARM's wording has varied).
  assert.throws(
    () => arm64Stage1({ ...CFG, entries: [page(0x10000n, { ap: 0 })] }, 0x10000n, 'fetch', 0),
    RangeError,
  );
});

test('TTBR1: the upper VA range, with its own tables', () => {
  const cfg: Arm64MmuConfig = {
    ...CFG,
    granule: 16384,
    t0sz: 28,
    t1sz: 28,
    ttbr1: true,
    entries: [page(0xffff_fff0_0000_0000n, { oa: 0x20000n & ~0x3fffn })],
    badTables: [],
  };
  const s = buildArm64Tables(cfg);
  assert.notEqual(s.ttbr1, 0n);
  assert.equal((s.tcr >> 23n) & 1n, 0n); // EPD1 clear
  assert.equal((s.tcr >> 30n) & 3n, 1n); // TG1 = 16 KiB
  assert.deepEqual(arm64Stage1(cfg, 0xffff_fff0_0000_0010n, 'read', 1), {
    kind: 'ok',
    ipa: 0x20010n,
    device: false,
  });
  assert.deepEqual(arm64Stage1(cfg, 0xffff_ffe0_0000_0000n, 'read', 1), { kind: 'fault', fsc: 0x04 }); // below 2^64 - 2^36
});

test('buildArm64Tables refuses what it cannot build', () => {
  assert.throws(() => buildArm64Tables({ ...CFG, entries: [page(0x10000n), page(0x10000n)] }), RangeError);
  assert.throws(
    () => buildArm64Tables({ ...CFG, granule: 16384, t0sz: 28, entries: [{ ...page(0n), level: 1 }] }),
    RangeError,
  ); // no level-1 block with 16 KiB
  assert.throws(() => buildArm64Tables({ ...CFG, entries: [page(0x10800n)] }), RangeError); // misaligned
  assert.throws(() => buildArm64Tables({ ...CFG, tableSize: 0x1000 }), RangeError); // does not fit
  assert.throws(() => buildArm64Tables({ ...CFG, t0sz: 12 }), RangeError);
  // An entry under the bad table's span cannot be placed.
  assert.throws(() => buildArm64Tables({ ...CFG, entries: [page(0x6000_1000n)] }), RangeError);
});

test('arm64Granules reads the granules ID_AA64MMFR0_EL1 advertises', () => {
  assert.deepEqual(arm64Granules(0x0010_0002n), [4096, 16384, 65536]); // the model's pretend core
  assert.deepEqual(arm64Granules(0x0f10_0002n), [4096, 16384]); // TGran64 = 0xf: an Apple core
  assert.deepEqual(arm64Granules(0xf000_0000n), [65536]); // TGran4 = 0xf, TGran16 = 0
  assert.deepEqual(arm64Granules(0xff00_0000n), []);
});
