/**
 * Host memory of the model: page-aligned, zeroed buffers that stand in for the `mmap`ed regions a VMM
 * hands to `hv_vm_map` (hvf-facts.md §1.2: "host memory must be a single VM region" [H]). Only
 * `hv_vm_deallocate` frees one (there is no `host_free`), and never while it is mapped, so a mapping
 * can never outlive its memory; `reset()` drops every buffer at once, as process exit would.
 * @module
 */
import { checkHostAllocSize, checkHostOffset, type HostMemory } from '@hvspec/spec';

/** One buffer: the handle given out plus its bytes. */
interface HostBuffer {
  readonly handle: HostMemory;
  readonly bytes: Uint8Array;
}

/** The backend's host buffers, by id. Ids are never reused, so a buffer kept across `reset()` is detected. */
export class HostMemoryPool {
  private readonly buffers = new Map<number, HostBuffer>();
  private nextId = 1;

  constructor(private readonly pageSize: number) {}

  /**
   * Allocates `size` bytes rounded up to the page size, within the limit every backend shares
   * (`checkHostAllocSize`: TypeError for a non-integer, RangeError for 0 or above HOST_ALLOC_MAX). When
   * the memory is refused, V8's RangeError ("Array buffer allocation failed") and nothing allocated.
   */
  alloc(size: number): HostMemory {
    const rounded = checkHostAllocSize(size, this.pageSize);
    const handle: HostMemory = Object.freeze({ id: this.nextId++, size: rounded });
    this.buffers.set(handle.id, { handle, bytes: new Uint8Array(rounded) });
    return handle;
  }

  /**
   * Registers memory the caller already has as a buffer: the bytes are used in place, never copied, so
   * that another process sharing them (a C VMM driving the model through libhvspec-model) and the
   * guest see one memory. Its length must be a whole number of pages.
   */
  adopt(bytes: Uint8Array): HostMemory {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('bytes must be a Uint8Array');
    if (bytes.length === 0 || bytes.length % this.pageSize !== 0)
      throw new RangeError(`an adopted buffer must be a whole number of ${this.pageSize}-byte pages`);
    const handle: HostMemory = Object.freeze({ id: this.nextId++, size: bytes.length });
    this.buffers.set(handle.id, { handle, bytes });
    return handle;
  }

  /** The bytes behind a handle; TypeError when the handle is not a live buffer of this backend. */
  bytes(mem: HostMemory, name = 'mem'): Uint8Array {
    if (typeof mem !== 'object' || mem === null || typeof (mem as { id?: unknown }).id !== 'number') {
      throw new TypeError(`${name} must be a HostMemory returned by host_alloc`);
    }
    const buffer = this.buffers.get(mem.id);
    if (buffer === undefined || buffer.handle !== mem) {
      throw new TypeError(
        `${name} is not a live buffer of this backend (allocated by another backend, or before reset())`,
      );
    }
    return buffer.bytes;
  }

  write(mem: HostMemory, offset: number, bytes: Uint8Array): void {
    const target = this.bytes(mem);
    checkHostOffset('offset', offset);
    if (!(bytes instanceof Uint8Array)) throw new TypeError('bytes must be a Uint8Array');
    if (offset + bytes.length > target.length) {
      throw new RangeError(
        `host_write of ${bytes.length} bytes at offset ${offset} is outside the ${target.length}-byte buffer`,
      );
    }
    target.set(bytes, offset);
  }

  read(mem: HostMemory, offset: number, size: number): Uint8Array {
    const source = this.bytes(mem);
    checkHostOffset('offset', offset);
    checkHostOffset('size', size);
    if (offset + size > source.length) {
      throw new RangeError(
        `host_read of ${size} bytes at offset ${offset} is outside the ${source.length}-byte buffer`,
      );
    }
    return source.slice(offset, offset + size);
  }

  /** Forgets a buffer (hv_vm_deallocate): later uses of its handle are TypeErrors. */
  release(mem: HostMemory): void {
    this.bytes(mem);
    this.buffers.delete(mem.id);
  }

  /**
   * Puts `bytes` (as many as the buffer has) behind an existing handle, its contents copied first: the
   * model server gives memory that `hv_vm_allocate` made for a C VMM the VMM's own mapping, before
   * anything can have mapped it.
   */
  rebind(mem: HostMemory, bytes: Uint8Array): void {
    const old = this.bytes(mem);
    if (!(bytes instanceof Uint8Array) || bytes.length !== old.length)
      throw new RangeError(`rebind: ${bytes.length} bytes for a ${old.length}-byte buffer`);
    bytes.set(old);
    this.buffers.set(mem.id, { handle: mem, bytes });
  }

  clear(): void {
    this.buffers.clear();
  }
}
