import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  translateX86,
  X86_LINEAR_MAP,
  X86_PF_ERROR,
  x86CanonicalPageTables,
  x86PageTablesSize,
} from '../../../src/guest/x86/paging.js';

/** An entry reader over the tables' pages (every other GPA unmapped). */
function reader(pages: ReadonlyArray<{ gpa: bigint; bytes: Uint8Array }>) {
  return (gpa: bigint, width: 4 | 8): bigint | undefined => {
    const p = pages.find((x) => gpa >= x.gpa && gpa < x.gpa + 0x1000n);
    if (!p) return undefined;
    let v = 0n;
    for (let k = width - 1; k >= 0; k--) v = (v << 8n) | BigInt(p.bytes[Number(gpa - p.gpa) + k]!);
    return v;
  };
}

test('canonical 4-level tables: PML4 → PDPT → one PD of 2 MiB pages shared by the identity and the alias', () => {
  const t = x86CanonicalPageTables('long64', 0x20_1000n, 0xfff0_0000n);
  assert.equal(t.root, 0x20_1000n);
  assert.deepEqual(
    t.pages.map((p) => p.gpa),
    [0x20_1000n, 0x20_2000n, 0x20_3000n],
  );
  assert.equal(x86PageTablesSize('long64'), 0x3000n);
  const read = reader(t.pages);
  assert.equal(read(0x20_1000n, 8), 0x20_2023n, 'PML4[0] → PDPT, P|RW|A');
  assert.equal(read(0x20_2000n, 8), 0x20_3023n, 'PDPT[0] → PD');
  assert.equal(read(0x20_2008n, 8), 0x20_3023n, 'PDPT[1] → the same PD (the alias)');
  assert.equal(read(0x20_2010n, 8), 0xfff0_0023n, 'PDPT[2] → the missing table');
  assert.equal(read(0x20_3000n + 8n, 8), 0x20_00e3n, 'PD[1]: 2 MiB at 2 MiB, P|RW|A|D|PS');
  assert.equal(read(0x20_3000n + 32n * 8n, 8), 0n, 'PD[32]: past 64 MiB, not present');
  const tr = (l: bigint, access: 'read' | 'write' | 'fetch' = 'read') =>
    translateX86('long64', t.root, l, access, read);
  assert.deepEqual(tr(0x20_1234n), { kind: 'gpa', gpa: 0x20_1234n });
  assert.deepEqual(tr(X86_LINEAR_MAP.aliasBase + 0x3_4567n), { kind: 'gpa', gpa: 0x3_4567n });
  assert.deepEqual(tr(X86_LINEAR_MAP.identityEnd), { kind: 'page-fault', errorCode: 0 });
  assert.deepEqual(tr(X86_LINEAR_MAP.notPresentBase, 'write'), {
    kind: 'page-fault',
    errorCode: X86_PF_ERROR.W,
  });
  assert.deepEqual(tr(X86_LINEAR_MAP.structureFaultBase + 0x20_0123n), {
    kind: 'structure',
    gpa: 0xfff0_0008n,
  });
  // No NXE: the fetch bit of the error code stays clear (SDM §4.7).
  assert.deepEqual(tr(0xc000_0000n, 'fetch'), { kind: 'page-fault', errorCode: 0 });
});

test('canonical 32-bit tables: one page directory of 4 MiB pages (CR4.PSE)', () => {
  const t = x86CanonicalPageTables('prot32-paging', 0x20_1000n, 0xfff0_0000n);
  assert.deepEqual(
    t.pages.map((p) => p.gpa),
    [0x20_1000n],
  );
  const read = reader(t.pages);
  assert.equal(read(0x20_1000n + 4n, 4), 0x40_00e3n);
  assert.equal(read(0x20_1000n + 0x100n * 4n, 4), 0xe3n, 'PD[0x100]: 1 GiB → GPA 0');
  assert.equal(read(0x20_1000n + 0x200n * 4n, 4), 0xfff0_0023n, 'PD[0x200] → the missing page table');
  const tr = (l: bigint) => translateX86('prot32-paging', t.root, l, 'read', read);
  assert.deepEqual(tr(0x3f_fffen), { kind: 'gpa', gpa: 0x3f_fffen });
  assert.deepEqual(tr(0x4123_4567n), { kind: 'gpa', gpa: 0x123_4567n });
  assert.deepEqual(tr(0x8000_5000n), { kind: 'structure', gpa: 0xfff0_0014n });
  assert.deepEqual(tr(0xc000_0000n), { kind: 'page-fault', errorCode: 0 });
});

test('4-level walk: XD without NXE is a reserved-bit fault; with NXE a fetch from an XD page faults with I/D', () => {
  // PML4 at 0x1000 → PDPT at 0x2000 → PD at 0x3000 with one 2 MiB page, XD set.
  const pages = [0x1000n, 0x2000n, 0x3000n].map((gpa) => ({ gpa, bytes: new Uint8Array(4096) }));
  const put = (i: number, at: number, v: bigint) => {
    for (let k = 0; k < 8; k++) pages[i]!.bytes[at + k] = Number((v >> BigInt(8 * k)) & 0xffn);
  };
  put(0, 0, 0x2003n);
  put(1, 0, 0x3003n);
  put(2, 0, (1n << 63n) | 0x83n);
  const read = reader(pages);
  assert.deepEqual(translateX86('long64', 0x1000n, 0x10n, 'read', read), {
    kind: 'page-fault',
    errorCode: X86_PF_ERROR.P | X86_PF_ERROR.RSVD,
  });
  assert.deepEqual(translateX86('long64', 0x1000n, 0x10n, 'read', read, true), { kind: 'gpa', gpa: 0x10n });
  assert.deepEqual(translateX86('long64', 0x1000n, 0x10n, 'fetch', read, true), {
    kind: 'page-fault',
    errorCode: X86_PF_ERROR.P | X86_PF_ERROR.ID,
  });
  assert.throws(() => x86CanonicalPageTables('long64', 0x1001n, 0n), TypeError);
});
