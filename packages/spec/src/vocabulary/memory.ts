/**
 * `hv_memory_flags_t` (uint64): permissions of a guest-physical mapping (hvf-facts.md §0.2, [H]).
 * @module
 */

/** Memory permission flags shared by both architectures. */
export const HV_MEMORY = {
  /** No access (applevisor's name; `hv_vm_protect` accepts 0 in its tests [T]). */
  NONE: 0,
  READ: 1 << 0,
  WRITE: 1 << 1,
  EXEC: 1 << 2,
} as const;

/** x86-only flag bits of newer `hv_types.h` [H]. Not present on arm64. */
export const HV_MEMORY_X86 = {
  UEXEC: 1 << 3,
  MAXPROT: 1 << 4,
  MAXPROT_READ: 1 << 5,
  MAXPROT_WRITE: 1 << 6,
  MAXPROT_EXEC: 1 << 7,
  MAXPROT_UEXEC: 1 << 8,
} as const;

/** The three permission bits the spec models on both architectures. */
export const HV_MEMORY_RWX = HV_MEMORY.READ | HV_MEMORY.WRITE | HV_MEMORY.EXEC;

/** The names a trace may use in a flags list. */
export type MemoryFlagName = 'READ' | 'WRITE' | 'EXEC';

/** Parses `["READ","EXEC"]` or a number into the numeric flags. */
export function memoryFlagsFrom(value: readonly MemoryFlagName[] | number): number {
  if (typeof value === 'number') return value;
  let flags = 0;
  for (const name of value) flags |= HV_MEMORY[name];
  return flags;
}

/** Spells flags as `READ|WRITE` (or `NONE`), with unknown bits in hex. */
export function memoryFlagsName(flags: number): string {
  const parts: string[] = [];
  if (flags & HV_MEMORY.READ) parts.push('READ');
  if (flags & HV_MEMORY.WRITE) parts.push('WRITE');
  if (flags & HV_MEMORY.EXEC) parts.push('EXEC');
  const rest = flags & ~HV_MEMORY_RWX;
  if (rest) parts.push(`0x${rest.toString(16)}`);
  return parts.length ? parts.join('|') : 'NONE';
}
