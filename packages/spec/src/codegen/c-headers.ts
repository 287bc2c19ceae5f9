/**
 * The C headers in Apple's layout (`<Hypervisor/Hypervisor.h>` and the files it includes), derived from
 * the spec's vocabulary (types, enums, codes) and registry (one declaration per function), so that VMM
 * source written for macOS compiles unchanged against hvspec on Linux, and the addon and the KVM
 * provider compile against the very declarations the spec states.
 *
 * One header tree serves both flavours, as Apple's SDK does: `Hypervisor.h` includes the flavour's
 * headers. The flavour is the target's (x86_64 or arm64) unless `HVSPEC_API_X86_64` or
 * `HVSPEC_API_ARM64` is defined (`hvspec cflags --arch ...`), so that an arm64 VMM builds on an x86_64
 * Linux host against the model.
 * @module
 */
import type { Arch } from '../backend.js';
import type { ObjectKind } from '../calls/params.js';
import { callSpecs } from '../calls/registry.js';
import type { AppleHeader, CallSpec, Param } from '../calls/types.js';
import * as arm64 from '../vocabulary/arm64.js';
import { HV_MEMORY, HV_MEMORY_X86 } from '../vocabulary/memory.js';
import { ALL_RETURNS, HV } from '../vocabulary/returns.js';
import * as x86 from '../vocabulary/x86.js';

type Values = Readonly<Record<string, number | bigint>>;

/** One item of a header, in the order written. */
type Item =
  | { readonly kind: 'comment'; readonly text: string }
  | { readonly kind: 'typedef'; readonly name: string; readonly type: string; readonly doc?: string }
  /** An anonymous enum of constants (Apple's x86 style), optionally with an integer typedef before it. */
  | { readonly kind: 'consts'; readonly doc: string; readonly values: Values; readonly suffix?: 'u' | 'ull' }
  /** `typedef enum { ... } name;` (Apple's x86 style for register and capability enums). */
  | { readonly kind: 'enum'; readonly name: string; readonly doc: string; readonly values: Values }
  /** Apple's arm64 `OS_ENUM(name, type, ...)`: a distinct enum type in C++, an integer typedef in C. */
  | {
      readonly kind: 'os_enum';
      readonly name: string;
      readonly type: string;
      readonly doc: string;
      readonly values: Values;
    }
  | { readonly kind: 'raw'; readonly text: string };

/** A header of the tree: the flavour it belongs to (or both), what it includes, and its items. */
interface HeaderSpec {
  readonly file: string;
  readonly flavour: Arch | 'both';
  readonly doc: string;
  readonly includes: readonly string[];
  readonly items: readonly Item[];
}

/** VMX constants: unsigned 32-bit encodings, as `hv_arch_vmx.h` writes them. */
const vmxConsts = (doc: string, values: Values): Item => ({ kind: 'consts', doc, values, suffix: 'u' });

/** An arm64 header that declares functions only (the registry's calls that name it), no types or constants. */
const arm64Functions = (file: string, doc: string, includes: readonly string[]): HeaderSpec => ({
  file,
  flavour: 'arm64',
  doc,
  includes,
  items: [],
});

const hex = (v: number | bigint, width = 0): string => `0x${BigInt(v).toString(16).padStart(width, '0')}`;

/** HV_SIMD_FP_REG_Q0..Q31. */
const SIMD_REGS: Values = Object.fromEntries(
  Array.from({ length: arm64.HV_SIMD_FP_REG_COUNT }, (_, i) => [`HV_SIMD_FP_REG_Q${i}`, i]),
);

const RETURN_DOC: Readonly<Record<string, string>> = {
  HV_SUCCESS: 'success',
  HV_ERROR: 'generic failure',
  HV_BUSY: 'the owning resource is busy',
  HV_BAD_ARGUMENT: 'an argument is invalid',
  HV_ILLEGAL_GUEST_STATE: 'the guest is in an illegal state',
  HV_NO_RESOURCES: 'the host is out of resources',
  HV_NO_DEVICE: 'no VM or vCPU available',
  HV_DENIED: 'the system did not allow the operation (missing entitlement)',
  HV_FAULT: 'name uncertain (HV_EXISTS in one arm64 kernel header); semantics undocumented [R]',
  HV_UNSUPPORTED: 'not supported',
};

const FLAVOUR_GUARD = `#if defined(HVSPEC_API_ARM64) && defined(HVSPEC_API_X86_64)
#error "define at most one of HVSPEC_API_ARM64 and HVSPEC_API_X86_64"
#endif
#if !defined(HVSPEC_API_ARM64) && !defined(HVSPEC_API_X86_64)
#if defined(__aarch64__) || defined(__arm64__)
#define HVSPEC_API_ARM64 1
#else
#define HVSPEC_API_X86_64 1
#endif
#endif`;

const HEADERS: readonly HeaderSpec[] = [
  {
    file: 'hv_error.h',
    flavour: 'both',
    doc: '`hv_return_t` and its codes: `err_local | err_sub(0xba5) | code` = 0xfae94000 | code, a signed 32-bit `mach_error_t` (hvf-facts.md §0.1 [H]). hvspec gives 0xfae94008 one name in both flavours.',
    includes: [],
    items: [
      { kind: 'raw', text: FLAVOUR_GUARD },
      {
        kind: 'raw',
        text: "/* Apple's headers carry clang's nullability qualifiers; other compilers do not know them. */\n#if !defined(__clang__) && !defined(_Nullable)\n#define _Nullable\n#endif\n#if !defined(__clang__) && !defined(_Nonnull)\n#define _Nonnull\n#endif",
      },
      { kind: 'typedef', name: 'hv_return_t', type: 'int', doc: 'mach_error_t' },
      {
        kind: 'raw',
        text: ALL_RETURNS.map(
          (n) => `#define ${n} ((hv_return_t)${hex(HV[n], 8)}) /* ${RETURN_DOC[n] ?? ''} */`,
        ).join('\n'),
      },
    ],
  },
  // ---- x86_64 (Intel Macs; the KVM provider and the model on Linux) -------------------------------
  {
    file: 'hv_types.h',
    flavour: 'both',
    doc: 'Types of the API (hvf-facts.md §1.1, §2.1 [H]).',
    includes: ['hv_error.h'],
    items: [
      { kind: 'raw', text: '#if defined(HVSPEC_API_X86_64)' },
      { kind: 'typedef', name: 'hv_vcpuid_t', type: 'unsigned' },
      { kind: 'typedef', name: 'hv_uvaddr_t', type: 'const void *' },
      { kind: 'typedef', name: 'hv_gpaddr_t', type: 'uint64_t' },
      { kind: 'typedef', name: 'hv_vm_space_t', type: 'unsigned' },
      { kind: 'typedef', name: 'hv_memory_flags_t', type: 'uint64_t' },
      { kind: 'typedef', name: 'hv_vm_options_t', type: 'uint64_t' },
      { kind: 'typedef', name: 'hv_vcpu_options_t', type: 'uint64_t' },
      { kind: 'typedef', name: 'hv_capability_t', type: 'uint64_t' },
      { kind: 'consts', doc: 'hv_vm_space_t', values: { HV_VM_SPACE_DEFAULT: 0 } },
      {
        kind: 'consts',
        doc: 'hv_memory_flags_t (the MAXPROT/UEXEC bits are x86 only, §0.2 [H])',
        values: {
          HV_MEMORY_READ: HV_MEMORY.READ,
          HV_MEMORY_WRITE: HV_MEMORY.WRITE,
          HV_MEMORY_EXEC: HV_MEMORY.EXEC,
          ...Object.fromEntries(Object.entries(HV_MEMORY_X86).map(([k, v]) => [`HV_MEMORY_${k}`, v])),
        },
        suffix: 'ull',
      },
      { kind: 'consts', doc: 'hv_vm_options_t', values: x86.HV_VM_OPTIONS, suffix: 'ull' },
      { kind: 'consts', doc: 'hv_vcpu_options_t', values: x86.HV_VCPU_OPTIONS, suffix: 'ull' },
      { kind: 'consts', doc: 'hv_capability_t', values: x86.HV_CAP, suffix: 'ull' },
      { kind: 'raw', text: '#define HV_DEADLINE_FOREVER (~(uint64_t)0)' },
      { kind: 'raw', text: '#else /* arm64 */' },
      { kind: 'raw', text: OS_ENUM_MACRO() },
      { kind: 'typedef', name: 'hv_vcpu_t', type: 'uint64_t' },
      { kind: 'typedef', name: 'hv_ipa_t', type: 'uint64_t' },
      {
        kind: 'typedef',
        name: 'hv_memory_flags_t',
        type: 'uint64_t',
        doc: 'a plain integer, not an OS_ENUM (§0.2 [H])',
      },
      {
        kind: 'consts',
        doc: 'hv_memory_flags_t',
        values: {
          HV_MEMORY_READ: HV_MEMORY.READ,
          HV_MEMORY_WRITE: HV_MEMORY.WRITE,
          HV_MEMORY_EXEC: HV_MEMORY.EXEC,
        },
        suffix: 'ull',
      },
      {
        kind: 'raw',
        text: "/* OS objects, released with os_release; opaque here. NULL = defaults. Without Objective-C\n * (OS_OBJECT_USE_OBJC = 0) Apple's headers spell them like this. */\ntypedef struct hv_vm_config_s *hv_vm_config_t;\ntypedef struct hv_vcpu_config_s *hv_vcpu_config_t;\nvoid os_release(void *object);",
      },
      { kind: 'raw', text: '#endif' },
    ],
  },
  {
    file: 'hv_arch_x86.h',
    flavour: 'x86_64',
    doc: '`hv_x86_reg_t`, sequential from 0; segment registers are selectors only (hvf-facts.md §1.3 [H]).',
    includes: [],
    items: [
      { kind: 'enum', name: 'hv_x86_reg_t', doc: 'x86 architectural registers', values: x86.HV_X86_REG },
    ],
  },
  {
    file: 'hv_arch_vmx.h',
    flavour: 'x86_64',
    doc: "VMX constants by Apple's names; values are Intel encodings (hvf-facts.md §1.4, §1.5 [H]).",
    includes: [],
    items: [
      vmxConsts('VMCS field encodings', x86.VMCS),
      vmxConsts('VMX basic exit reasons (the low 16 bits of VMCS_RO_EXIT_REASON)', x86.VMX_REASON),
      vmxConsts('Pin-based VM-execution controls', x86.PIN_BASED),
      vmxConsts('Processor-based VM-execution controls', x86.CPU_BASED),
      vmxConsts('Secondary processor-based VM-execution controls', x86.CPU_BASED2),
      vmxConsts('VM-exit controls', x86.VMEXIT),
      vmxConsts('VM-entry controls', x86.VMENTRY),
      vmxConsts('Interruption information (VMENTRY_IRQ_INFO / VMEXIT_IRQ_INFO)', x86.IRQ_INFO),
    ],
  },
  {
    file: 'hv.h',
    flavour: 'x86_64',
    doc: 'The x86 VM and vCPU functions (hvf-facts.md §1.2 [H]).',
    includes: ['hv_error.h', 'hv_types.h', 'hv_arch_x86.h'],
    items: [],
  },
  {
    file: 'hv_vmx.h',
    flavour: 'x86_64',
    doc: 'VMX capabilities and VMCS access (hvf-facts.md §1.2 [H]).',
    includes: ['hv_error.h', 'hv_types.h', 'hv_arch_vmx.h'],
    items: [
      {
        kind: 'enum',
        name: 'hv_vmx_capability_t',
        doc: 'hv_vmx_read_capability ids',
        values: x86.HV_VMX_CAP,
      },
      {
        kind: 'consts',
        doc: 'hv_shadow_flags_t: shadow VMCS permissions of hv_vmx_vcpu_set_shadow_access (macOS 10.15)',
        values: x86.HV_SHADOW_VMCS,
        suffix: 'ull',
      },
      { kind: 'typedef', name: 'hv_shadow_flags_t', type: 'uint64_t' },
      {
        kind: 'consts',
        doc: 'hv_vmx_msr_info_t: hv_vmx_get_msr_info ids (macOS 11.0)',
        values: x86.HV_VMX_MSR_INFO,
      },
      { kind: 'typedef', name: 'hv_vmx_msr_info_t', type: 'uint64_t' },
    ],
  },
  // ---- arm64 (Apple Silicon; the model on Linux) ---------------------------------------------------
  {
    file: 'hv_vm_types.h',
    flavour: 'arm64',
    doc: 'VM types (hvf-facts.md §2.1 [H]).',
    includes: ['hv_types.h'],
    items: [
      {
        kind: 'os_enum',
        name: 'hv_ipa_granule',
        type: 'uint32_t',
        doc: 'macOS 26.0 (§2.3 [H])',
        values: arm64.HV_IPA_GRANULE,
      },
      // A plain integer with an anonymous enum constant, not an OS_ENUM: Apple's documentation shows
      // `hv_allocate_flags_t` as an alias of UInt64 and HV_ALLOCATE_DEFAULT as a plain Int constant,
      // so `hv_vm_allocate(&p, size, 0)` compiles in C++ on a Mac and must here too.
      {
        kind: 'typedef',
        name: 'hv_allocate_flags_t',
        type: 'uint64_t',
        doc: 'hv_vm_allocate flags (§2.1 [H])',
      },
      { kind: 'consts', doc: 'hv_allocate_flags_t', values: { HV_ALLOCATE_DEFAULT: 0 }, suffix: 'ull' },
    ],
  },
  {
    file: 'hv_vcpu_types.h',
    flavour: 'arm64',
    doc: 'vCPU types: the exit record, registers, interrupts (hvf-facts.md §2.1, §2.2 [H]).',
    includes: ['hv_types.h'],
    items: [
      {
        kind: 'os_enum',
        name: 'hv_exit_reason',
        type: 'uint32_t',
        doc: 'why hv_vcpu_run returned',
        values: arm64.HV_EXIT_REASON,
      },
      {
        kind: 'raw',
        text: `typedef struct {
  uint64_t syndrome;         /* ESR_ELx */
  uint64_t virtual_address;  /* FAR_ELx */
  hv_ipa_t physical_address; /* the faulting IPA */
} hv_vcpu_exit_exception_t;

/* Layout (hvf-facts.md §2.1): reason @0 (+4 bytes padding), syndrome @8, VA @16, IPA @24, size 32. */
typedef struct {
  hv_exit_reason_t reason;
  hv_vcpu_exit_exception_t exception;
} hv_vcpu_exit_t;`,
      },
      {
        kind: 'os_enum',
        name: 'hv_interrupt_type',
        type: 'uint32_t',
        doc: 'IRQ = 0, FIQ = 1 (one binding has them swapped, §2.1 [H])',
        values: arm64.HV_INTERRUPT_TYPE,
      },
      {
        kind: 'os_enum',
        name: 'hv_reg',
        type: 'uint32_t',
        doc: 'X0..X30 = 0..30, PC 31 (so HV_REG_X0 + 31 is the PC, not XZR: §2.8 [T]), FPCR, FPSR, CPSR',
        values: { ...arm64.HV_REG, HV_REG_FP: arm64.HV_REG.HV_REG_X29, HV_REG_LR: arm64.HV_REG.HV_REG_X30 },
      },
      { kind: 'os_enum', name: 'hv_simd_fp_reg', type: 'uint32_t', doc: 'Q0..Q31', values: SIMD_REGS },
      {
        kind: 'raw',
        text: `#if defined(__clang__)
typedef uint8_t hv_simd_fp_uchar16_t __attribute__((ext_vector_type(16)));
#else
typedef uint8_t hv_simd_fp_uchar16_t __attribute__((vector_size(16)));
#endif`,
      },
      {
        kind: 'os_enum',
        name: 'hv_sys_reg',
        type: 'uint16_t',
        doc: 'op0<<14 | op1<<11 | CRn<<7 | CRm<<3 | op2 (§2.2 [H])',
        values: arm64.HV_SYS_REG,
      },
      {
        kind: 'os_enum',
        name: 'hv_feature_reg',
        type: 'uint32_t',
        doc: 'hv_vcpu_config_get_feature_reg ids',
        values: arm64.HV_FEATURE_REG,
      },
      {
        kind: 'os_enum',
        name: 'hv_cache_type',
        type: 'uint32_t',
        doc: 'CCSIDR_EL1 cache types',
        values: arm64.HV_CACHE_TYPE,
      },
    ],
  },
  arm64Functions('hv_vm.h', 'The arm64 VM functions (hvf-facts.md §2.3 [H]).', [
    'hv_error.h',
    'hv_types.h',
    'hv_vm_types.h',
    'hv_vm_config.h',
  ]),
  arm64Functions('hv_vm_config.h', 'VM configuration objects (macOS 13.0+; hvf-facts.md §2.3 [H]).', [
    'hv_error.h',
    'hv_types.h',
    'hv_vm_types.h',
  ]),
  arm64Functions('hv_vcpu_config.h', 'vCPU configuration objects (hvf-facts.md §2.4 [H]).', [
    'hv_error.h',
    'hv_types.h',
    'hv_vcpu_types.h',
  ]),
  arm64Functions(
    'hv_vcpu.h',
    'The arm64 vCPU functions: every call but hv_vcpus_exit from the owning thread (hvf-facts.md §2.4 [H]).',
    ['hv_error.h', 'hv_types.h', 'hv_vcpu_types.h', 'hv_vcpu_config.h'],
  ),
  arm64Functions(
    'hv_vm_allocate.h',
    'Host memory for guests: anonymous memory with proper accounting (macOS 12.1+; hvf-facts.md §2.3 [H]).',
    ['hv_error.h', 'hv_types.h', 'hv_vm_types.h'],
  ),
  {
    file: 'hv_gic_types.h',
    flavour: 'arm64',
    doc: 'Types of the in-framework GICv3: its objects and register enums (macOS 15.0+; hvf-facts.md §2.7 [H]).',
    includes: ['hv_types.h'],
    items: [
      {
        kind: 'raw',
        text: "/* OS objects, released with os_release; opaque here, spelt as Apple's headers do without Objective-C. */\ntypedef struct hv_gic_config_s *hv_gic_config_t;\ntypedef struct hv_gic_state_s *hv_gic_state_t;",
      },
      {
        kind: 'os_enum',
        name: 'hv_gic_intid',
        type: 'uint16_t',
        doc: 'INTIDs the framework reserves; the EL2 ones with EL2 only',
        values: arm64.HV_GIC_INT,
      },
      {
        kind: 'os_enum',
        name: 'hv_gic_distributor_reg',
        type: 'uint16_t',
        doc: 'GICD register offsets (the GICv3 map); other offsets of the register arrays may be passed too',
        values: arm64.HV_GIC_DISTRIBUTOR_REG,
      },
      {
        kind: 'os_enum',
        name: 'hv_gic_redistributor_reg',
        type: 'uint32_t',
        doc: 'GICR register offsets from RD_base; the SGI frame at 0x10000',
        values: arm64.HV_GIC_REDISTRIBUTOR_REG,
      },
      {
        kind: 'os_enum',
        name: 'hv_gic_icc_reg',
        type: 'uint16_t',
        doc: 'ICC system registers (hv_sys_reg_t encoding)',
        values: arm64.HV_GIC_ICC_REG,
      },
      {
        kind: 'os_enum',
        name: 'hv_gic_ich_reg',
        type: 'uint16_t',
        doc: 'ICH system registers, EL2 VMs only (hv_sys_reg_t encoding)',
        values: arm64.HV_GIC_ICH_REG,
      },
      {
        kind: 'typedef',
        name: 'hv_gic_icv_reg_t',
        type: 'uint16_t',
        doc: 'ICV system registers, EL2 VMs only: the facts give no values, so hvspec names none',
      },
      {
        kind: 'os_enum',
        name: 'hv_gic_msi_reg',
        type: 'uint16_t',
        doc: 'MSI frame register offsets',
        values: arm64.HV_GIC_MSI_REG,
      },
    ],
  },
  arm64Functions(
    'hv_gic_config.h',
    'GIC configuration objects: the bases of the distributor, redistributor and MSI regions, the MSI INTIDs (macOS 15.0+; hvf-facts.md §2.7 [H]).',
    ['hv_error.h', 'hv_types.h', 'hv_gic_types.h', 'hv_vm_types.h'],
  ),
  arm64Functions(
    'hv_gic_parameters.h',
    "The GIC's sizes, alignments, SPI range and reserved INTIDs: runtime queries (macOS 15.0+; hvf-facts.md §2.7 [H]).",
    ['hv_error.h', 'hv_types.h', 'hv_gic_types.h'],
  ),
  arm64Functions(
    'hv_gic_state.h',
    'GIC state objects: save the distributor and redistributors as opaque data (macOS 15.0+; hvf-facts.md §2.7 [H]).',
    ['hv_error.h', 'hv_types.h', 'hv_gic_types.h'],
  ),
  arm64Functions(
    'hv_gic.h',
    'The in-framework GICv3: creation, injection, registers, state restore, reset (macOS 15.0+; hvf-facts.md §2.7 [H]).',
    ['hv_error.h', 'hv_types.h', 'hv_gic_types.h', 'hv_vcpu.h', 'hv_vm_types.h'],
  ),
];

function OS_ENUM_MACRO(): string {
  return `/* Apple declares enumerated types with OS_ENUM(name, type, ...) from <os/base.h>: in C++ a distinct
 * enum type an integer does not convert to implicitly (\`hv_ipa_granule_t g = 0;\` does not compile on
 * a Mac, so it does not here either); in C an integer typedef plus an anonymous enum. */
#ifndef HVSPEC_OS_ENUM
#if defined(__cplusplus)
#define HVSPEC_OS_ENUM(_name, _type, ...) typedef enum : _type { __VA_ARGS__ } _name##_t
#else
#define HVSPEC_OS_ENUM(_name, _type, ...) \\
  typedef _type _name##_t;                \\
  enum { __VA_ARGS__ }
#endif
#endif`;
}

function constValue(v: number | bigint, suffix: 'u' | 'ull' | undefined): string {
  const n = BigInt(v);
  const text = n < 10n ? n.toString() : hex(n);
  return suffix ? `${text}${suffix}` : text;
}

function renderItem(item: Item): string {
  switch (item.kind) {
    case 'comment':
      return `/* ${item.text} */`;
    case 'raw':
      return item.text;
    case 'typedef':
      return `typedef ${item.type} ${item.name};${item.doc ? ` /* ${item.doc} */` : ''}`;
    case 'consts':
      return `/* ${item.doc} */\nenum {\n${Object.entries(item.values)
        .map(([k, v]) => `  ${k} = ${constValue(v, item.suffix)},`)
        .join('\n')}\n};`;
    case 'enum':
      return `/* ${item.doc} */\ntypedef enum {\n${Object.entries(item.values)
        .map(([k, v]) => `  ${k} = ${constValue(v, undefined)},`)
        .join('\n')}\n} ${item.name};`;
    case 'os_enum':
      return `/* ${item.doc} */\nHVSPEC_OS_ENUM(${item.name}, ${item.type},\n${Object.entries(item.values)
        .map(([k, v]) => `               ${k} = ${constValue(v, undefined)}`)
        .join(',\n')});`;
  }
}

/** The parameters of a registry entry as C passes them, in order (the arm64 exit record is not one). */
export function cParams(spec: CallSpec): readonly Param[] {
  return spec.params.filter((p) => p.dir === 'in' || (p.c ?? 'param') === 'param');
}

/** The C return type of a registry entry: `hv_return_t`, or the object it returns (`hv_vm_config_t`). */
export function cReturnType(spec: CallSpec): string {
  const returned = spec.params.find((p) => p.dir === 'out' && p.c === 'return');
  return returned ? returned.type.c : 'hv_return_t';
}

/**
 * The C prototype of a registry entry, without the semicolon, under `name` (default: its own name), so
 * that wrappers and implementations of the same function are declared exactly as Apple's header does.
 */
export function cPrototype(spec: CallSpec, name: string = spec.name): string {
  const params = cParams(spec);
  return `${cReturnType(spec)} ${name}(${params.length ? params.map(cParam).join(', ') : 'void'})`;
}

/** The C declaration of a registry entry, exactly as Apple's header has it. */
export function cDeclaration(spec: CallSpec): string {
  const notes = [spec.availability];
  if (spec.thread !== 'owner') notes.push(spec.thread === 'any' ? 'any thread' : 'any thread of the process');
  return `${cPrototype(spec)}; /* ${notes.join('; ')} */`;
}

/** One C parameter as Apple's header spells it (`uint64_t *value`, `uint64_t values[_Nonnull 8]`). */
export function cParam(p: Param): string {
  const type = p.type.c;
  if (p.dir === 'out' && p.type.array !== undefined) return `${type} ${p.name}[${p.type.array}]`;
  return type.endsWith('*') ? `${type}${p.name}` : `${type} ${p.name}`;
}

function guardName(file: string): string {
  return `HVSPEC_HYPERVISOR_${file.replace(/\W/g, '_').toUpperCase()}`;
}

function renderHeader(h: HeaderSpec): string {
  const lines: string[] = [];
  lines.push(
    `/* GENERATED FILE — do not edit. Written by the build from the spec's registry (scripts/generate.ts).`,
  );
  lines.push(` *`);
  lines.push(` * <Hypervisor/${h.file}> as hvspec declares it: ${h.doc}`);
  lines.push(` * From the spec's vocabulary and registry (packages/spec/src/codegen/c-headers.ts). */`);
  lines.push(`#ifndef ${guardName(h.file)}`);
  lines.push(`#define ${guardName(h.file)}`);
  lines.push('');
  lines.push('#include <stdbool.h>\n#include <stddef.h>\n#include <stdint.h>');
  for (const inc of h.includes) lines.push(`#include "${inc}"`);
  lines.push('');
  if (h.flavour !== 'both') {
    const macro = h.flavour === 'x86_64' ? 'HVSPEC_API_X86_64' : 'HVSPEC_API_ARM64';
    if (h.includes.length === 0) lines.push('#include "hv_error.h" /* selects the flavour */');
    lines.push(`#if !defined(${macro})`);
    lines.push(`#error "<Hypervisor/${h.file}> belongs to the ${h.flavour} API; see hvspec cflags --arch"`);
    lines.push('#endif');
    lines.push('');
  }
  lines.push('#ifdef __cplusplus\nextern "C" {\n#endif\n');
  for (const item of h.items) lines.push(renderItem(item), '');
  const flavours: Arch[] = h.flavour === 'both' ? [] : [h.flavour];
  for (const arch of flavours) {
    const decls = callSpecs(arch).filter((c) => c.header === (h.file as AppleHeader));
    if (decls.length) lines.push(decls.map(cDeclaration).join('\n'), '');
  }
  lines.push('#ifdef __cplusplus\n}\n#endif\n');
  lines.push(`#endif /* ${guardName(h.file)} */`);
  return `${lines.join('\n')}\n`;
}

function umbrella(): string {
  const by = (f: Arch) =>
    HEADERS.filter((h) => h.flavour === f)
      .map((h) => `#include "${h.file}"`)
      .join('\n');
  return `/* GENERATED FILE — do not edit. Written by the build from the spec's registry (scripts/generate.ts).
 *
 * <Hypervisor/Hypervisor.h> as hvspec declares it: the umbrella header of Apple's Hypervisor.framework
 * API, with Apple's names, types and signatures, for VMMs built on Linux against hvspec's libraries
 * (the KVM provider or the model). The flavour is the target's unless HVSPEC_API_X86_64 or
 * HVSPEC_API_ARM64 is defined (\`hvspec cflags --arch x86_64|arm64\`). Only the functions the spec
 * models are declared: a VMM calling any other fails to compile, never to run. */
#ifndef HVSPEC_HYPERVISOR_HYPERVISOR_H
#define HVSPEC_HYPERVISOR_HYPERVISOR_H

#include "hv_error.h"
#include "hv_types.h"

#if defined(HVSPEC_API_X86_64)
${by('x86_64')}
#else
${by('arm64')}
#endif

#endif /* HVSPEC_HYPERVISOR_HYPERVISOR_H */
`;
}

const BASE_BITS: Readonly<Record<string, number>> = {
  uint8_t: 8,
  uint16_t: 16,
  uint32_t: 32,
  uint64_t: 64,
  unsigned: 32,
  'unsigned int': 32,
  int: 32,
  bool: 8,
  size_t: 64,
};

/**
 * The number generated C gives each kind of arm64 OS object, stored with the object so that a handle
 * of the wrong kind is told apart: the addon's argument table and libhvspec-model use the same numbers.
 */
export const OBJECT_KIND_NUMBER: Readonly<Record<ObjectKind, number>> = {
  config: 1,
  vcpu_config: 2,
  gic_config: 3,
  gic_state: 4,
};

/**
 * The width in bits of an integer C type of the headers (`hv_sys_reg_t` → 16), or undefined for a
 * type that is not a plain integer or enum (pointers, structs, vectors).
 */
export function cIntegerBits(type: string): number | undefined {
  const c = type.replace(/\s*_Nullable\s*/, '').trim();
  if (c in BASE_BITS) return BASE_BITS[c];
  for (const h of HEADERS)
    for (const item of h.items) {
      if (item.kind === 'os_enum' && `${item.name}_t` === c) return BASE_BITS[item.type];
      if (item.kind === 'enum' && item.name === c) return 32;
      if (item.kind === 'typedef' && item.name === c) return cIntegerBits(item.type);
    }
  return undefined;
}

/**
 * The largest value a plain C enum of the headers (`typedef enum { ... } name;`, no fixed underlying
 * type) can hold in C++, or undefined for any other type. C++ gives such an enum only the values of
 * the smallest bit-field that holds its enumerators ([dcl.enum]/8): converting a larger integer to it
 * is undefined behaviour, so the addon must refuse one before the conversion.
 */
export function cEnumMax(type: string): bigint | undefined {
  const c = type.replace(/\s*_Nullable\s*/, '').trim();
  for (const h of HEADERS)
    for (const item of h.items) {
      if (item.kind !== 'enum' || item.name !== c) continue;
      let top = 0n;
      for (const v of Object.values(item.values)) if (BigInt(v) > top) top = BigInt(v);
      return (1n << BigInt(top.toString(2).length)) - 1n;
    }
  return undefined;
}

/**
 * The macOS release a registry entry's `availability` names first (`macOS 26.0` → 260000, the form of
 * `__MAC_OS_X_VERSION_MAX_ALLOWED` / `__MAC_OS_X_VERSION_MIN_REQUIRED`), or undefined without one.
 * Code that calls Apple's functions gates the newer ones on it (the addon, the macOS interposer).
 */
export function macosVersion(availability: string): { number: number; text: string } | undefined {
  const m = /macOS (\d+)\.(\d+)/.exec(availability);
  if (!m) return undefined;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  return { number: major * 10000 + minor * 100, text: `${major}.${minor}` };
}

/** Every header of the tree: file name (inside `Hypervisor/`) → text. */
export function cHeaders(): Record<string, string> {
  const out: Record<string, string> = { 'Hypervisor.h': umbrella() };
  for (const h of HEADERS) out[h.file] = renderHeader(h);
  const placed = new Set(HEADERS.map((h) => h.file));
  for (const arch of ['x86_64', 'arm64'] as const)
    for (const spec of callSpecs(arch))
      if (!placed.has(spec.header))
        throw new Error(`registry: ${spec.name} names a header hvspec does not generate: ${spec.header}`);
  return out;
}
