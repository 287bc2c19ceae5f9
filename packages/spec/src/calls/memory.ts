/**
 * Rows for `hv_vm_map`, `hv_vm_unmap`, `hv_vm_protect` (and the x86 `_space` variants). Both
 * architectures share the shape; the address argument is `gpa` on x86 and `ipa` on arm64, the
 * granule is 4 KiB on x86 and 16 KiB (or 4 KiB by config) on arm64.
 * @module
 */
import type { Uva } from '../backend.js';
import type { Mapping, SpecState } from '../state.js';
import { HV_MEMORY_RWX } from '../vocabulary/memory.js';
import { HV } from '../vocabulary/returns.js';
import { ANY, arg, code, H, NOT_SUCCESS, noVmRow, R, SUCCESS, U } from './dsl.js';
import { fullyMapped, mappingsIn, protectRange, unmapRange } from './ranges.js';
import type { Row, SpecCall } from './types.js';

const U64_END = 1n << 64n;

interface Shape {
  readonly arch: 'x86_64' | 'arm64';
  /** `gpa` or `ipa`. */
  readonly addr: string;
  /** Whether the call names an address space (`asid` argument). */
  readonly space: boolean;
}

function spaceOf(c: SpecCall, shape: Shape): number {
  return shape.space ? Number(c.args.asid) : 0;
}

const noVm: Row = noVmRow(
  'hvf-facts §1.2/§2.3: memory calls act on the process VM; the code without one is undocumented',
);

function badSpace(shape: Shape): Row[] {
  if (!shape.space) return [];
  return [
    {
      id: 'bad-space',
      when: 'asid is not an existing address space',
      applies: (s, c) => !s.vm?.spaces.has(spaceOf(c, shape)),
      ret: NOT_SUCCESS,
      evidence: U,
      source: 'hvf-facts §1.2: hv_vm_*_space act on a created ASID; the code for others is undocumented',
    },
  ];
}

function granuleRows(shape: Shape, withUva: boolean): Row[] {
  const aligned = (s: SpecState, c: SpecCall): boolean => {
    const g = BigInt(s.vm?.granule ?? 1);
    const a = arg<bigint>(c, shape.addr);
    const size = arg<bigint>(c, 'size');
    const uvaOk = !withUva || arg<Uva>(c, 'uva').offset % Number(g) === 0;
    return a % g === 0n && size % g === 0n && uvaOk;
  };
  return [
    {
      id: 'size-zero',
      when: 'size is 0',
      applies: (_s, c) => arg<bigint>(c, 'size') === 0n,
      ret: NOT_SUCCESS,
      evidence: U,
      source: 'hvf-facts §2.3: "size a multiple of the page size"; a zero size is undocumented',
    },
    shape.arch === 'arm64'
      ? {
          id: 'misaligned',
          when: `${withUva ? 'uva, ' : ''}ipa or size is not a multiple of the stage-2 granule (16 KiB by default, 4 KiB with HV_IPA_GRANULE_4KB)`,
          applies: (s, c) => !aligned(s, c),
          ret: code(HV.HV_BAD_ARGUMENT),
          evidence: R,
          source:
            'hvf-facts §2.5/§3: a 4 KiB-aligned IPA or size under the 16 KiB granule is HV_BAD_ARGUMENT (measured, M1 Max, macOS 26.5) [R]',
        }
      : {
          id: 'misaligned',
          when: `${withUva ? 'uva, ' : ''}gpa or size is not a multiple of 4 KiB`,
          applies: (s, c) => !aligned(s, c),
          ret: NOT_SUCCESS,
          evidence: H,
          source: 'hvf-facts §1.2: "uva and gpa page aligned" [H]; the x86 code is undocumented [U]',
        },
    {
      id: 'out-of-range',
      when:
        shape.arch === 'arm64'
          ? "ipa + size exceeds the VM's IPA space (2^ipa_size)"
          : 'gpa + size wraps past 2^64',
      applies: (s, c) => arg<bigint>(c, shape.addr) + arg<bigint>(c, 'size') > (s.vm?.addrLimit ?? U64_END),
      ret: NOT_SUCCESS,
      evidence: U,
      source:
        shape.arch === 'arm64'
          ? 'hvf-facts §2.3: the IPA size bounds the guest-physical space (default 36 bits [R]); the code is undocumented'
          : 'an address range that wraps cannot be mapped; the code is undocumented',
    },
  ];
}

const badFlags: Row = {
  id: 'bad-flags',
  when: 'flags has bits other than HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC',
  applies: (_s, c) => (arg<number>(c, 'flags') & ~HV_MEMORY_RWX) !== 0,
  ret: NOT_SUCCESS,
  evidence: U,
  source:
    "hvf-facts §0.2: only READ/WRITE/EXEC are shared flags (x86 MAXPROT/UEXEC bits are out of the spec's scope)",
};

/** The rows every range call starts with: a VM, the address space, then the range's size and alignment. */
function rangeRows(shape: Shape, withUva: boolean): Row[] {
  return [noVm, ...badSpace(shape), ...granuleRows(shape, withUva)];
}

/** Rows of `hv_vm_map` / `hv_vm_map_space`. */
export function mapRows(shape: Shape): Row[] {
  return [
    ...rangeRows(shape, true),
    badFlags,
    {
      id: 'uva-out-of-buffer',
      when: 'uva + size runs past the end of its host buffer',
      applies: (s, c) => {
        const uva = arg<Uva>(c, 'uva');
        const bufSize = s.buffers.get(uva.mem.id);
        return bufSize === undefined || uva.offset + Number(arg<bigint>(c, 'size')) > bufSize;
      },
      ret: NOT_SUCCESS,
      evidence: U,
      source:
        'hvf-facts §1.2: "host memory must be a single VM region" [H]; mapping beyond it is undocumented',
    },
    ...above39(shape, 'map'),
    shape.arch === 'arm64'
      ? {
          id: 'overlap',
          when: 'the range overlaps an existing mapping',
          applies: (s, c) => overlapsExisting(s, c, shape),
          ret: code(HV.HV_ERROR),
          evidence: R,
          source:
            'hvf-facts §2.5/§3: an overlapping hv_vm_map returns HV_ERROR (measured, M1 Max, macOS 26.5) [R]',
        }
      : {
          id: 'overlap',
          when: 'the range overlaps an existing mapping',
          applies: (s, c) => overlapsExisting(s, c, shape),
          ret: NOT_SUCCESS,
          evidence: U,
          source: 'hvf-facts §3: arm64 reports HV_ERROR [R]; the x86 code is unknown',
        },
    {
      id: 'ok',
      when: 'VM exists, arguments aligned and in range, no overlap',
      applies: () => true,
      ret: SUCCESS,
      result: 'the range is mapped to the host buffer with the given permissions',
      evidence: H,
      source: 'hvf-facts §1.2/§2.3: hv_vm_map [H]',
      effect: (s, c) => addMapping(s, c, shape),
    },
  ];
}

/**
 * x86: ranges above 2^39. Apple documents no upper bound for a GPA, but EPT covers only the host's
 * physical-address width (39 bits at least on Intel hosts): what happens above it is undocumented.
 */
function above39(shape: Shape, call: 'map' | 'protect'): Row[] {
  if (shape.arch !== 'x86_64') return [];
  return [
    {
      id: 'above-39-bits',
      when: 'gpa + size is above 2^39, the smallest guest-physical width of Intel EPT hosts',
      applies: (_s, c) => arg<bigint>(c, shape.addr) + arg<bigint>(c, 'size') > 1n << 39n,
      ret: ANY,
      result:
        call === 'map'
          ? "undocumented: the limit is the host's physical-address width; on HV_SUCCESS the range is mapped"
          : "undocumented: the limit is the host's physical-address width; on HV_SUCCESS the permissions change",
      evidence: U,
      source:
        "hvf-facts §1.2 documents no upper bound for gpa; EPT covers the host's physical-address width only",
      effect: (s, c, o) => {
        if (o.ret !== HV.HV_SUCCESS) return;
        if (call === 'map') {
          if (!overlapsExisting(s, c, shape)) addMapping(s, c, shape);
        } else if (whollyMapped(s, c, shape)) protect(s, c, shape);
      },
    },
  ];
}

/** Reads the mappings of the address space the call names, with the call's range [addr, addr+size). */
function inSpace<R>(
  s: SpecState,
  c: SpecCall,
  shape: Shape,
  f: (maps: readonly Mapping[], addr: bigint, size: bigint) => R,
): R {
  return f(s.vm?.spaces.get(spaceOf(c, shape)) ?? [], arg<bigint>(c, shape.addr), arg<bigint>(c, 'size'));
}

/** Replaces the mappings of the address space the call names with what `f` makes of them and the range. */
function rewriteSpace(
  s: SpecState,
  c: SpecCall,
  shape: Shape,
  f: (maps: readonly Mapping[], addr: bigint, size: bigint) => Mapping[],
): void {
  s.vm?.spaces.set(spaceOf(c, shape), inSpace(s, c, shape, f));
}

function addMapping(s: SpecState, c: SpecCall, shape: Shape): void {
  const uva = arg<Uva>(c, 'uva');
  const flags = arg<number>(c, 'flags');
  rewriteSpace(s, c, shape, (maps, addr, size) =>
    [...maps, { addr, size, flags, mem: uva.mem.id, offset: uva.offset }].sort((a, b) =>
      a.addr < b.addr ? -1 : 1,
    ),
  );
}

function protect(s: SpecState, c: SpecCall, shape: Shape): void {
  rewriteSpace(s, c, shape, (maps, addr, size) => protectRange(maps, addr, size, arg<number>(c, 'flags')));
}

function overlapsExisting(s: SpecState, c: SpecCall, shape: Shape): boolean {
  return inSpace(s, c, shape, (maps, addr, size) => mappingsIn(maps, addr, size).length > 0);
}

function whollyMapped(s: SpecState, c: SpecCall, shape: Shape): boolean {
  return inSpace(s, c, shape, fullyMapped);
}

/** Rows of `hv_vm_unmap` / `hv_vm_unmap_space`. */
export function unmapRows(shape: Shape): Row[] {
  const unmap = (s: SpecState, c: SpecCall): void => rewriteSpace(s, c, shape, unmapRange);
  return [
    ...rangeRows(shape, false),
    {
      id: 'not-fully-mapped',
      when: 'some page of the range is not mapped',
      applies: (s, c) => !whollyMapped(s, c, shape),
      ret: ANY,
      result: 'undocumented: on HV_SUCCESS the mapped parts are unmapped; otherwise nothing changes',
      evidence: U,
      source:
        'hvf-facts §2.5: unmapping an unmapped range is undocumented; a 2026 QEMU change asserting HV_SUCCESS weakly suggests success [U]',
      effect: (s, c, o) => {
        if (o.ret === HV.HV_SUCCESS) unmap(s, c);
      },
    },
    {
      id: 'ok',
      when: 'every page of the range is mapped (by one or several mappings)',
      applies: () => true,
      ret: SUCCESS,
      result: 'the range is unmapped; mappings it cuts are split',
      evidence: H,
      source: 'hvf-facts §1.2/§2.3: hv_vm_unmap [H]',
      effect: unmap,
    },
  ];
}

/** Rows of `hv_vm_protect` / `hv_vm_protect_space`. */
export function protectRows(shape: Shape): Row[] {
  return [
    ...rangeRows(shape, false),
    badFlags,
    ...above39(shape, 'protect'),
    {
      id: 'not-fully-mapped',
      when: 'some page of the range is not mapped',
      applies: (s, c) => !whollyMapped(s, c, shape),
      ret: NOT_SUCCESS,
      evidence: U,
      source:
        'hvf-facts §2.3: protect applies to a mapped region or subregion [H]; an unmapped page is undocumented',
    },
    {
      id: 'ok',
      when: 'every page of the range is mapped',
      applies: () => true,
      ret: SUCCESS,
      result: 'the permissions of exactly that range change; mappings it cuts are split',
      evidence: H,
      source:
        'hvf-facts §2.3: "protect may apply to a whole region or a subregion" [H]; QEMU dirty logging and the XNU test use it [T]',
      effect: (s, c) => protect(s, c, shape),
    },
  ];
}
