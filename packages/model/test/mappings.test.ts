import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HV, HV_MEMORY, HV_X86_REG } from '@hvspec/spec';
import fc from 'fast-check';
import { createArm64Model, createX86Model } from '../src/create.js';
import type { Arm64Region, GuestMemory, MemFault, X86Engine } from '../src/engine.js';
import { isFault } from '../src/engine.js';
import { GuestMemoryView, MappingTable } from '../src/mappings.js';

const { READ, WRITE, EXEC } = HV_MEMORY;
const RWX = READ | WRITE | EXEC;
const P = 4096n;

function fault(r: Uint8Array | MemFault | undefined): MemFault {
  assert.ok(r !== undefined && !(r instanceof Uint8Array), 'expected a fault');
  return r;
}

describe('host memory', () => {
  it('rounds host_alloc up to the page size and zeroes it', () => {
    const x86 = createX86Model();
    assert.equal(x86.host_alloc(1).size, 4096);
    assert.equal(x86.host_alloc(4097).size, 8192);
    const arm = createArm64Model();
    const m = arm.host_alloc(100);
    assert.equal(m.size, 16384);
    assert.deepEqual(arm.host_read(m, 0, 4), new Uint8Array(4));
  });

  it('throws RangeError outside the buffer and TypeError for foreign buffers', () => {
    const a = createX86Model();
    const b = createX86Model();
    const m = a.host_alloc(4096);
    a.host_write(m, 4092, new Uint8Array([1, 2, 3, 4]));
    assert.deepEqual(a.host_read(m, 4092, 4), new Uint8Array([1, 2, 3, 4]));
    assert.throws(() => a.host_write(m, 4093, new Uint8Array(4)), RangeError);
    assert.throws(() => a.host_read(m, 4096, 1), RangeError);
    assert.throws(() => a.host_read(m, -1, 1), TypeError);
    assert.throws(() => b.host_read(m, 0, 1), TypeError);
    assert.throws(() => a.host_alloc(0), RangeError);
    assert.throws(() => a.host_alloc('1' as unknown as number), TypeError);
  });

  it('forgets buffers on reset()', async () => {
    const a = createX86Model();
    const m = a.host_alloc(4096);
    await a.reset();
    assert.throws(() => a.host_read(m, 0, 1), TypeError);
  });
});

describe('mapping table and guest memory view', () => {
  it('splits on unmap and protect: map 4 pages, unmap the 2nd, protect the 4th', () => {
    const t = new MappingTable();
    const buf = new Uint8Array(4 * 4096);
    for (let i = 0; i < 4; i++) buf[i * 4096] = i + 1;
    t.add(0x10000n, 0x10000n + 4n * P, buf, 0, RWX);
    t.remove(0x10000n + P, 0x10000n + 2n * P);
    t.protect(0x10000n + 3n * P, 0x10000n + 4n * P, READ);
    assert.deepEqual(
      t.mappings().map((m) => [m.start, m.end, m.offset, m.flags]),
      [
        [0x10000n, 0x11000n, 0, RWX],
        [0x12000n, 0x13000n, 8192, RWX],
        [0x13000n, 0x14000n, 12288, READ],
      ],
    );
    const mem: GuestMemory = new GuestMemoryView(t);
    assert.deepEqual(mem.read(0x10000n, 1, 'read'), new Uint8Array([1]));
    assert.deepEqual(mem.read(0x12000n, 1, 'fetch'), new Uint8Array([3]));
    assert.deepEqual(mem.read(0x13000n, 1, 'read'), new Uint8Array([4]));
    // The unmapped 2nd page.
    assert.deepEqual(fault(mem.read(0x11000n, 4, 'read')), {
      gpa: 0x11000n,
      access: 'read',
      size: 4,
      mapped: false,
      perms: 0,
    });
    // A read crossing from page 1 into page 2 faults at page 2's first byte.
    assert.deepEqual(fault(mem.read(0x10ffen, 4, 'read')), {
      gpa: 0x11000n,
      access: 'read',
      size: 4,
      mapped: false,
      perms: 0,
    });
    // The read-only 4th page: writes and fetches fault with the mapping's permissions.
    assert.deepEqual(fault(mem.write(0x13010n, new Uint8Array([9]))), {
      gpa: 0x13010n,
      access: 'write',
      size: 1,
      mapped: true,
      perms: READ,
    });
    assert.equal(fault(mem.read(0x13000n, 4, 'fetch')).perms, READ);
    // A write crossing from page 3 (RWX) into page 4 (READ) writes nothing.
    const f = fault(mem.write(0x12ffen, new Uint8Array([7, 7, 7, 7])));
    assert.equal(f.gpa, 0x13000n);
    assert.equal(buf[8192 + 4094], 0);
    // A read crossing page 3 → 4 is allowed (both readable) and stitches both pages.
    assert.deepEqual(mem.read(0x12fffn, 2, 'read'), new Uint8Array([0, 4]));
    // Writes land in the host buffer.
    assert.equal(mem.write(0x10004n, new Uint8Array([0xaa, 0xbb])), undefined);
    assert.equal(buf[4], 0xaa);
    assert.equal(buf[5], 0xbb);
  });

  it('checks every permission set for each access kind', () => {
    for (let flags = 0; flags < 8; flags++) {
      const t = new MappingTable();
      t.add(0n, P, new Uint8Array(4096), 0, flags);
      const mem = new GuestMemoryView(t);
      assert.equal(isFault(mem.read(0n, 1, 'read')), (flags & READ) === 0, `read with ${flags}`);
      assert.equal(isFault(mem.read(0n, 1, 'fetch')), (flags & EXEC) === 0, `fetch with ${flags}`);
      assert.equal(isFault(mem.write(0n, new Uint8Array(1))), (flags & WRITE) === 0, `write with ${flags}`);
    }
  });

  it('covers() sees ranges spanning adjacent mappings and gaps', () => {
    const t = new MappingTable();
    t.add(0n, P, new Uint8Array(4096), 0, RWX);
    t.add(P, 2n * P, new Uint8Array(4096), 0, READ);
    t.add(3n * P, 4n * P, new Uint8Array(4096), 0, READ);
    assert.equal(t.covers(0n, 2n * P), true);
    assert.equal(t.covers(0n, 3n * P), false);
    assert.equal(t.covers(3n * P, 4n * P), true);
    assert.equal(t.covers(2n * P, 3n * P), false);
  });

  it('agrees with a page-by-page reference over random map, unmap and protect (chunks split and empty)', () => {
    // 64 pages, chunks of 2 mappings: splits, empty chunks and ranges across chunk boundaries are the
    // usual case here. Each page of the reference holds [flags, host page] or undefined.
    const PAGES = 64;
    const op = fc.record({
      kind: fc.constantFrom('map', 'unmap', 'protect'),
      page: fc.integer({ min: 0, max: PAGES - 1 }),
      pages: fc.integer({ min: 1, max: 8 }),
      flags: fc.integer({ min: 0, max: 7 }),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const host = new Uint8Array((PAGES + 8) * 4096);
        const t = new MappingTable(2);
        const ref: ([number, number] | undefined)[] = new Array(PAGES + 8).fill(undefined);
        for (const o of ops) {
          const start = BigInt(o.page) * P;
          const end = start + BigInt(o.pages) * P;
          const pages = [...Array(o.pages).keys()].map((k) => o.page + k);
          const mappedAny = pages.some((p) => ref[p] !== undefined);
          const mappedAll = pages.every((p) => ref[p] !== undefined);
          assert.equal(t.overlaps(start, end), mappedAny, `overlaps ${o.page}+${o.pages}`);
          assert.equal(t.covers(start, end), mappedAll, `covers ${o.page}+${o.pages}`);
          if (o.kind === 'map' && !mappedAny) {
            t.add(start, end, host, o.page * 4096, o.flags);
            for (const p of pages) ref[p] = [o.flags, p];
          } else if (o.kind === 'unmap') {
            t.remove(start, end);
            for (const p of pages) ref[p] = undefined;
          } else if (o.kind === 'protect' && mappedAll) {
            t.protect(start, end, o.flags);
            for (const p of pages) ref[p] = [o.flags, ref[p]![1]];
          }
        }
        const list = t.mappings();
        for (let k = 1; k < list.length; k++)
          assert.ok(list[k - 1]!.end <= list[k]!.start, 'sorted, disjoint');
        for (let p = 0; p < PAGES + 8; p++) {
          const gpa = BigInt(p) * P;
          const m = t.find(gpa + 5n);
          const n = t.findAt(p * 4096 + 7);
          assert.equal(m, n, `find and findAt agree at page ${p}`);
          const want = ref[p];
          if (want === undefined) {
            assert.equal(m, undefined, `page ${p} unmapped`);
          } else {
            assert.ok(m !== undefined, `page ${p} mapped`);
            assert.equal(m.flags, want[0], `page ${p} flags`);
            assert.equal(m.offset + Number(gpa - m.start), want[1] * 4096, `page ${p} host page`);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('the view an engine gets through the API', () => {
  it('reflects map, unmap and protect of the vCPU address space, and aliases host memory', () => {
    let seen: GuestMemory | undefined;
    const spy: X86Engine = (_cpu, mem) => {
      seen = mem;
      return { kind: 'hlt', len: 1 };
    };
    const m = createX86Model({ engines: { x86: spy } });
    assert.equal(m.hv_vm_create(0, 0n).ret, HV.HV_SUCCESS);
    const ram = m.host_alloc(4 * 4096);
    m.host_write(ram, 3 * 4096, new Uint8Array([0x42]));
    assert.equal(m.hv_vm_map(0, { mem: ram, offset: 0 }, 0x100000n, 4n * P, RWX).ret, HV.HV_SUCCESS);
    assert.equal(m.hv_vm_unmap(0, 0x101000n, P).ret, HV.HV_SUCCESS);
    assert.equal(m.hv_vm_protect(0, 0x103000n, P, READ).ret, HV.HV_SUCCESS);
    const cpu = m.hv_vcpu_create(0, 0n).value!;
    assert.equal(m.hv_vcpu_run(0, cpu).ret, HV.HV_SUCCESS);
    const mem = seen!;
    assert.deepEqual(mem.read(0x103000n, 1, 'read'), new Uint8Array([0x42]));
    assert.equal(fault(mem.read(0x101000n, 1, 'read')).mapped, false);
    assert.equal(fault(mem.write(0x103000n, new Uint8Array(1))).perms, READ);
    assert.equal(mem.write(0x102000n, new Uint8Array([5])), undefined);
    assert.deepEqual(m.host_read(ram, 2 * 4096, 1), new Uint8Array([5]));
    // A vCPU moved to another address space sees that space only.
    const asid = m.hv_vm_space_create(0).value!;
    assert.equal(m.hv_vm_map_space(0, asid, { mem: ram, offset: 4096 }, 0n, P, READ).ret, HV.HV_SUCCESS);
    assert.equal(m.hv_vcpu_set_space(0, cpu, asid).ret, HV.HV_SUCCESS);
    assert.equal(m.hv_vcpu_run(0, cpu).ret, HV.HV_SUCCESS);
    assert.equal(seen!.read(0x100000n, 1, 'read') instanceof Uint8Array, false);
    assert.ok(seen!.read(0n, 1, 'read') instanceof Uint8Array);
    assert.equal(m.hv_vcpu_read_register(0, cpu, HV_X86_REG.HV_X86_RIP).ret, HV.HV_SUCCESS);
  });

  it('arm64: the stage-2 regions the engine sees honour protect across several mappings', () => {
    let seen: ((ipa: number) => Arm64Region | undefined) | undefined;
    const m = createArm64Model({
      engines: {
        arm64: (ctx) => {
          seen = ctx.region;
          return { kind: 'exception', syndrome: 0x5a000000n, virtual_address: 0n, physical_address: 0n };
        },
      },
    });
    const G = 16384n;
    m.hv_vm_create(0, null);
    const a = m.host_alloc(2 * 16384);
    const b = m.host_alloc(16384);
    m.host_write(b, 8, new Uint8Array([0x42]));
    assert.equal(m.hv_vm_map(0, { mem: a, offset: 0 }, 0n, 2n * G, RWX).ret, HV.HV_SUCCESS);
    assert.equal(m.hv_vm_map(0, { mem: b, offset: 0 }, 2n * G, G, RWX).ret, HV.HV_SUCCESS);
    assert.equal(m.hv_vm_protect(0, G, 2n * G, READ | EXEC).ret, HV.HV_SUCCESS);
    const cpu = m.hv_vcpu_create(0, null).value!;
    assert.equal(m.hv_vcpu_run(0, cpu).ret, HV.HV_SUCCESS);
    assert.equal(seen!(0)?.flags, RWX);
    assert.equal(seen!(Number(G))?.flags, READ | EXEC);
    const r = seen!(Number(2n * G + 8n))!;
    assert.equal(r.flags, READ | EXEC);
    assert.equal(r.bytes[r.offset + (Number(2n * G + 8n) - r.startN)], 0x42);
    assert.equal(seen!(Number(3n * G)), undefined);
  });
});
