/**
 * The mapping workload: `hv_vm_map` of many single pages one call at a time, then `hv_vm_unmap` of each
 * in the same order — the "contiguous" layout of the KVM provider's C bench (packages/native/provider,
 * `bench/map_bench.c`): consecutive guest addresses from 4 GiB, backed by consecutive host pages, RWX.
 * A VMM that maps guest RAM page by page (or a balloon driver) makes exactly these calls; DESIGN.md's
 * target is 100,000 of them in seconds on every backend, without a per-call scan of every mapping.
 * @module
 */
import { type Backend, type HostMemory, HV, HV_MEMORY, hvReturnName } from '@hvspec/spec';

/** Where the pages go: above any low-memory layout, as in the provider's bench. */
export const MAP_BASE = 0x1_0000_0000n;

/** A VM ready for the workload: one host buffer of `pages` pages. */
export interface MapWorkload {
  readonly backend: Backend;
  readonly mem: HostMemory;
  readonly pages: number;
  readonly pageSize: number;
}

/**
 * Allocates the host buffer (untouched: the OS and V8 give zero pages lazily) and creates the VM unless
 * the backend already has one (the native backend shares its one VM with the exit-loop tasks).
 */
export function setupMapping(backend: Backend, pages: number, createVm: boolean): MapWorkload {
  if (!Number.isInteger(pages) || pages < 1)
    throw new TypeError(`pages must be a positive integer, got ${pages}`);
  if (createVm) {
    const r = backend.arch === 'x86_64' ? backend.hv_vm_create(0, 0n) : backend.hv_vm_create(0, null);
    if (r.ret !== HV.HV_SUCCESS) throw new Error(`hv_vm_create returned ${hvReturnName(r.ret)}`);
  }
  const pageSize = backend.capabilities.pageSize;
  return { backend, mem: backend.host_alloc(pages * pageSize), pages, pageSize };
}

/** One iteration: maps every page, then unmaps every page; throws naming the first call that failed. */
export function mapUnmapPages(w: MapWorkload): void {
  const { backend, mem, pages, pageSize } = w;
  const size = BigInt(pageSize);
  const rwx = HV_MEMORY.READ | HV_MEMORY.WRITE | HV_MEMORY.EXEC;
  // The two flavours' hv_vm_map / hv_vm_unmap take the same arguments (gpa on x86, ipa on arm64).
  const b = backend as Pick<Backend, 'hv_vm_map' | 'hv_vm_unmap'>;
  let addr = MAP_BASE;
  for (let i = 0; i < pages; i++, addr += size) {
    const r = b.hv_vm_map(0, { mem, offset: i * pageSize }, addr, size, rwx);
    if (r.ret !== HV.HV_SUCCESS) throw new Error(`hv_vm_map of page ${i} returned ${hvReturnName(r.ret)}`);
  }
  addr = MAP_BASE;
  for (let i = 0; i < pages; i++, addr += size) {
    const r = b.hv_vm_unmap(0, addr, size);
    if (r.ret !== HV.HV_SUCCESS) throw new Error(`hv_vm_unmap of page ${i} returned ${hvReturnName(r.ret)}`);
  }
}
