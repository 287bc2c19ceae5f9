/** The stage-2 table builder, without QEMU: layouts, descriptors, dirty pages, TLB generations. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HV_MEMORY } from '@hvspec/spec';
import { RAM_BASE, TABLE_POOL_OFFSET } from '../src/abi.ts';
import { pageDescriptor, Stage2, startLevel } from '../src/stage2.ts';

describe('stage-2 layout', () => {
  it('starts at the deepest level whose (concatenated) root resolves the IPA (Arm ARM D8.2)', () => {
    // 4 KiB granule: 9 bits a level, 12-bit pages.
    assert.deepEqual(startLevel(36, 12, 9), { level: 1, entries: 64 });
    assert.deepEqual(startLevel(40, 12, 9), { level: 1, entries: 1024 }); // two concatenated tables
    assert.deepEqual(startLevel(32, 12, 9), { level: 2, entries: 2048 }); // four concatenated tables
    // 16 KiB granule: 11 bits a level, 14-bit pages.
    assert.deepEqual(startLevel(36, 14, 11), { level: 2, entries: 2048 });
    assert.deepEqual(startLevel(40, 14, 11), { level: 2, entries: 32768 });
    assert.deepEqual(startLevel(25, 14, 11), { level: 3, entries: 2048 });
  });

  it('VTCR_EL2 names the granule, the IPA size and the start level', () => {
    const s16 = new Stage2({ granule: 16384, ipaBits: 36 });
    assert.equal(s16.vtcr & 0x3fn, 28n, 'T0SZ = 64 - 36');
    assert.equal((s16.vtcr >> 14n) & 3n, 2n, 'TG0 = 16 KiB');
    assert.equal((s16.vtcr >> 6n) & 3n, 1n, 'SL0 = 1: level 2 with 16 KiB');
    const s4 = new Stage2({ granule: 4096, ipaBits: 36 });
    assert.equal((s4.vtcr >> 14n) & 3n, 0n, 'TG0 = 4 KiB');
    assert.equal((s4.vtcr >> 6n) & 3n, 1n, 'SL0 = 1: level 1 with 4 KiB');
    assert.equal(s4.vttbr >> 48n, 1n, 'VMID 1');
    assert.equal(s4.vttbr & ((1n << 48n) - 1n), BigInt(RAM_BASE + TABLE_POOL_OFFSET));
  });
});

describe('stage-2 descriptors', () => {
  it('encode S2AP read/write and XN from the HV_MEMORY flags, with AF and Normal write-back memory', () => {
    const pa = 0x4400_4000n;
    for (let flags = 0; flags < 8; flags++) {
      const d = pageDescriptor(pa, flags);
      assert.equal(d & 3n, 3n, 'a valid page descriptor, even without permissions');
      assert.equal(d & 0x0000_ffff_ffff_f000n, pa);
      assert.equal((d >> 6n) & 1n, BigInt(flags & HV_MEMORY.READ ? 1 : 0));
      assert.equal((d >> 7n) & 1n, BigInt(flags & HV_MEMORY.WRITE ? 1 : 0));
      assert.equal((d >> 54n) & 1n, BigInt(flags & HV_MEMORY.EXEC ? 0 : 1));
      assert.equal((d >> 10n) & 1n, 1n, 'AF');
      assert.equal((d >> 2n) & 0xfn, 0xfn, 'MemAttr: Normal write-back');
    }
  });

  it('map, protect and unmap touch only the pages asked for; a changed valid descriptor bumps the generation', () => {
    const s = new Stage2({ granule: 16384, ipaBits: 36 });
    assert.ok(s.takeDirty().length >= 1, 'the root is written once');
    s.map(0x10000n, 0x4400_0000n, 0x8000n, HV_MEMORY.READ);
    assert.equal(s.generation, 0n, 'new entries need no TLB flush');
    const dirty = s.takeDirty();
    assert.equal(dirty.length, 2, 'the root and one new level-3 table');
    const leaf = dirty.find((d) => d.offset !== TABLE_POOL_OFFSET) as { bytes: Uint8Array };
    const words = new BigUint64Array(leaf.bytes.buffer);
    assert.equal(words[4], pageDescriptor(0x4400_0000n, HV_MEMORY.READ), 'IPA 0x10000 is entry 4 of level 3');
    assert.equal(words[5], pageDescriptor(0x4400_4000n, HV_MEMORY.READ));
    assert.equal(words[6], 0n);
    s.protect(0x14000n, 0x4000n, HV_MEMORY.READ | HV_MEMORY.WRITE);
    assert.equal(words[5], pageDescriptor(0x4400_4000n, HV_MEMORY.READ | HV_MEMORY.WRITE));
    assert.equal(s.generation, 1n);
    s.unmap(0x10000n, 0x4000n);
    assert.equal(words[4], 0n);
    assert.equal(s.generation, 2n);
    assert.equal(s.takeDirty().length, 1);
  });
});
