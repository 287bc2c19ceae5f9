/**
 * The canonical guest page tables of the paging modes, and the spec's page walk over them (Intel SDM
 * Vol. 3 §4.3 "32-Bit Paging", §4.5 "4-Level Paging"). The VMM writes the tables into guest memory
 * (they are ordinary guest-physical pages, mapped READ|WRITE), loads CR3 with their root, and the
 * prediction walks them as the CPU does, byte by byte, so that an access to a table the EPT does not
 * map is an EPT violation of its own (qualification bit 8 clear: the access was to a paging structure).
 *
 * The canonical linear map (both modes):
 *
 * | linear range | maps to | what an access there does |
 * |---|---|---|
 * | [0, 64 MiB) | the same GPAs (identity) | the EPT decides: no exit, or an EPT violation at that GPA |
 * | [1 GiB, 1 GiB + 64 MiB) | GPAs [0, 64 MiB) (an alias) | the same, at GPA = linear − 1 GiB |
 * | [2 GiB, 2 GiB + one large page) | through a page table at {@link X86PageTables.missingTable}, which the VMM does not map | an EPT violation on the table entry |
 * | everything else | not present | a page fault (#PF) |
 *
 * 32-bit paging (prot32-paging) uses 4 MiB pages (CR4.PSE) from one page directory; 4-level paging
 * (long64) uses 2 MiB pages from one page directory that both PDPT entries 0 and 1 point to. Every
 * entry has Present, R/W and Accessed set, every leaf also Dirty, so that the CPU never has to write an
 * entry (SDM §4.8): the prediction need not model accessed/dirty updates.
 * @module
 */
import type { X86Mode } from './actions.js';

/** The modes with paging on. */
export type X86PagingMode = Extract<X86Mode, 'prot32-paging' | 'long64'>;

/** The canonical linear map: see the module comment. */
export const X86_LINEAR_MAP = {
  /** End of the identity-mapped range [0, identityEnd). */
  identityEnd: 0x400_0000n,
  /** Start of the alias range; linear aliasBase + g maps to GPA g for g < identityEnd. */
  aliasBase: 0x4000_0000n,
  /** Start of the range translated through the table the VMM does not map. */
  structureFaultBase: 0x8000_0000n,
  /** Start of a range that is not present (any address outside the three ranges above is). */
  notPresentBase: 0xc000_0000n,
} as const;

/** The size of the large pages of a paging mode: 4 MiB (32-bit paging with PSE) or 2 MiB (4-level). */
export function x86LargePage(mode: X86PagingMode): bigint {
  return mode === 'long64' ? 0x20_0000n : 0x40_0000n;
}

/** The tables a VMM writes for a paging mode. */
export interface X86PageTables {
  readonly mode: X86PagingMode;
  /** The value of CR3: the GPA of the page directory (32-bit) or of the PML4 (4-level). */
  readonly root: bigint;
  /** The table pages, each 4 KiB, in GPA order, contiguous from `root`. */
  readonly pages: ReadonlyArray<{ readonly gpa: bigint; readonly bytes: Uint8Array }>;
  /** The GPA of the page table the structure-fault range points to (the VMM must leave it unmapped). */
  readonly missingTable: bigint;
}

const PAGE = 0x1000n;
/** P | R/W | A: a present, writable, already-accessed entry. */
const NON_LEAF = 0x23n;
/** P | R/W | A | D | PS: a large page, already accessed and dirty. */
const LEAF = 0xe3n;

function putEntry(page: Uint8Array, index: number, value: bigint, width: 4 | 8): void {
  for (let i = 0; i < width; i++) page[index * width + i] = Number((value >> BigInt(8 * i)) & 0xffn);
}

/**
 * The canonical tables of `mode`, built at `tablesGpa` (4 KiB aligned: 1 page for 32-bit paging, 3
 * for 4-level), with the structure-fault range pointing at `missingTable` (4 KiB aligned).
 */
export function x86CanonicalPageTables(
  mode: X86PagingMode,
  tablesGpa: bigint,
  missingTable: bigint,
): X86PageTables {
  if (tablesGpa % PAGE !== 0n || missingTable % PAGE !== 0n || tablesGpa < 0n || missingTable < 0n)
    throw new TypeError('tablesGpa and missingTable must be 4 KiB aligned GPAs');
  const limit = mode === 'long64' ? 1n << 40n : 1n << 32n;
  if (tablesGpa + 3n * PAGE > limit || missingTable >= limit)
    throw new TypeError(`the tables must lie below 0x${limit.toString(16)} in ${mode}`);
  const large = x86LargePage(mode);
  const count = Number(X86_LINEAR_MAP.identityEnd / large);
  if (mode === 'prot32-paging') {
    const pd = new Uint8Array(4096);
    const at = (linear: bigint) => Number(linear >> 22n);
    for (let i = 0; i < count; i++) {
      putEntry(pd, i, (BigInt(i) * large) | LEAF, 4);
      putEntry(pd, at(X86_LINEAR_MAP.aliasBase) + i, (BigInt(i) * large) | LEAF, 4);
    }
    putEntry(pd, at(X86_LINEAR_MAP.structureFaultBase), missingTable | NON_LEAF, 4);
    return { mode, root: tablesGpa, pages: [{ gpa: tablesGpa, bytes: pd }], missingTable };
  }
  const pml4 = new Uint8Array(4096);
  const pdpt = new Uint8Array(4096);
  const pd = new Uint8Array(4096);
  const pdptGpa = tablesGpa + PAGE;
  const pdGpa = tablesGpa + 2n * PAGE;
  putEntry(pml4, 0, pdptGpa | NON_LEAF, 8);
  // PDPT entry i covers linear [i GiB, (i+1) GiB): 0 identity, 1 the alias, 2 the structure fault.
  putEntry(pdpt, 0, pdGpa | NON_LEAF, 8);
  putEntry(pdpt, Number(X86_LINEAR_MAP.aliasBase >> 30n), pdGpa | NON_LEAF, 8);
  putEntry(pdpt, Number(X86_LINEAR_MAP.structureFaultBase >> 30n), missingTable | NON_LEAF, 8);
  for (let i = 0; i < count; i++) putEntry(pd, i, (BigInt(i) * large) | LEAF, 8);
  return {
    mode,
    root: tablesGpa,
    pages: [
      { gpa: tablesGpa, bytes: pml4 },
      { gpa: pdptGpa, bytes: pdpt },
      { gpa: pdGpa, bytes: pd },
    ],
    missingTable,
  };
}

/** The GPA range the canonical tables of a mode occupy. */
export function x86PageTablesSize(mode: X86PagingMode): bigint {
  return mode === 'long64' ? 3n * PAGE : PAGE;
}

/** What a linear address translates to. */
export type X86Translation =
  /** The access may go on to the EPT at `gpa`. */
  | { readonly kind: 'gpa'; readonly gpa: bigint }
  /** A page fault (#PF) with this error code (Intel SDM Vol. 3 §4.7). */
  | { readonly kind: 'page-fault'; readonly errorCode: number }
  /** Reading the paging-structure entry at `gpa` needs an EPT permission the entry's page lacks. */
  | { readonly kind: 'structure'; readonly gpa: bigint };

/** How the walk reads a paging-structure entry: its value, or undefined when the EPT denies the read. */
export type X86EntryReader = (gpa: bigint, width: 4 | 8) => bigint | undefined;

/** The page-fault error-code bits (Intel SDM Vol. 3 §4.7). */
export const X86_PF_ERROR = { P: 1, W: 2, US: 4, RSVD: 8, ID: 16 } as const;

/**
 * Translates `linear` for an access of kind `access` at CPL 0 (supervisor) the way the CPU walks the
 * tables rooted at `cr3`, reading entries through `read`. CR0.WP = 0 and no SMEP/SMAP (as in the
 * canonical setups), so a present page is always accessible to the supervisor, except for an
 * instruction fetch from a page with XD set when `nxe` (IA32_EFER.NXE) is on. Entries the canonical
 * tables never hold (reserved bits, 1 GiB pages) are outside this walk: it returns a reserved-bit
 * page fault only for XD without NXE, and reads PDPTE.PS as a 1 GiB page.
 *
 * A non-present entry is a page fault with P = 0, W/R = the access, U/S = 0 and I/D = 1 only for a
 * fetch with NXE on (4-level; 32-bit paging has no XD and I/D needs SMEP there), §4.7.
 */
export function translateX86(
  mode: X86PagingMode,
  cr3: bigint,
  linear: bigint,
  access: 'read' | 'write' | 'fetch',
  read: X86EntryReader,
  nxe = false,
): X86Translation {
  const w = access === 'write' ? X86_PF_ERROR.W : 0;
  const fetchBit = access === 'fetch' && nxe && mode === 'long64' ? X86_PF_ERROR.ID : 0;
  const notPresent: X86Translation = { kind: 'page-fault', errorCode: w | fetchBit };
  if (mode === 'prot32-paging') {
    const l = linear & 0xffff_ffffn;
    const pdeAt = (cr3 & 0xffff_f000n) + ((l >> 22n) << 2n);
    const pde = read(pdeAt, 4);
    if (pde === undefined) return { kind: 'structure', gpa: pdeAt };
    if ((pde & 1n) === 0n) return notPresent;
    if (pde & 0x80n) return { kind: 'gpa', gpa: (pde & 0xffc0_0000n) | (l & 0x3f_ffffn) };
    const pteAt = (pde & 0xffff_f000n) + (((l >> 12n) & 0x3ffn) << 2n);
    const pte = read(pteAt, 4);
    if (pte === undefined) return { kind: 'structure', gpa: pteAt };
    if ((pte & 1n) === 0n) return notPresent;
    return { kind: 'gpa', gpa: (pte & 0xffff_f000n) | (l & 0xfffn) };
  }
  const address = 0x000f_ffff_ffff_f000n;
  let table = cr3 & address;
  let noExec = false;
  const shifts = [39n, 30n, 21n, 12n];
  for (let level = 0; level < 4; level++) {
    const shift = shifts[level]!;
    const at = table + (((linear >> shift) & 0x1ffn) << 3n);
    const e = read(at, 8);
    if (e === undefined) return { kind: 'structure', gpa: at };
    if ((e & 1n) === 0n) return notPresent;
    const xd = (e >> 63n) & 1n;
    if (xd && !nxe)
      return { kind: 'page-fault', errorCode: X86_PF_ERROR.P | X86_PF_ERROR.RSVD | w | fetchBit };
    if (xd) noExec = true;
    const large = level > 0 && level < 3 && (e & 0x80n) !== 0n;
    if (large || level === 3) {
      // XD anywhere on the way makes the page non-executable (SDM §4.6).
      if (noExec && access === 'fetch') return { kind: 'page-fault', errorCode: X86_PF_ERROR.P | fetchBit };
      const offsetMask = (1n << shift) - 1n;
      return { kind: 'gpa', gpa: (e & address & ~offsetMask) | (linear & offsetMask) };
    }
    table = e & address;
  }
  throw new Error('unreachable: the 4-level walk ends at level 4');
}
