/**
 * The x86_64 rule tables: every modelled `hv_*` function of the Intel flavour, row by row.
 * @module
 */
import type { Vcpu } from '../backend.js';
import { afterGuestRun, newVcpu, type SpecState, type SpecVcpu } from '../state.js';
import { HV } from '../vocabulary/returns.js';
import {
  HV_CAP,
  HV_VCPU_OPTIONS,
  HV_VM_OPTIONS,
  HV_VMX_CAP,
  HV_X86_REG,
  isKnownVmcsField,
  isVmcsHostState,
  isVmcsReadOnly,
  VMCS,
} from '../vocabulary/x86.js';
import {
  ANY,
  always,
  arg,
  code,
  expectEqual,
  H,
  liveVcpu,
  NOT_SUCCESS,
  noVmRow,
  ownerCall,
  R,
  SUCCESS,
  T,
  U,
} from './dsl.js';
import { execTimeSpec } from './exec-time.js';
import { vcpuDestroySpec, vmDestroySpec } from './lifecycle.js';
import { mapRows, protectRows, unmapRows } from './memory.js';
import { IN, OUT, VOCABS, valueIn, valueOut } from './params.js';
import {
  truncateToField,
  VMCS_CONTROL_CAPABILITY,
  VMCS_EXACT,
  VMCS_REG_ALIAS,
  VMCS_REG_MAYBE_ALIAS,
  X86_REG_EXACT,
  X86_REG_SIGNIFICANT,
} from './registers.js';
import type { CallSpec, InParam, Row, SpecCall } from './types.js';
import { X86_FPSTATE_TSC_CALLS } from './x86-fpstate-tsc.js';
import { X86_VCPU_STATE_CALLS } from './x86-vcpu-state.js';
import { X86_VMX_EXTRA_CALLS } from './x86-vmx-extras.js';

const VM_OPTIONS_MASK = Object.values(HV_VM_OPTIONS).reduce((a, b) => a | b, 0);
const VCPU_OPTIONS_MASK = Object.values(HV_VCPU_OPTIONS).reduce((a, b) => a | b, 0);
const VMX_CAP_IDS = new Set<number>(Object.values(HV_VMX_CAP));

function liveCount(s: SpecState): number {
  return s.vcpus.size;
}

/** Forgets what the spec knew about a register and the VMCS fields that may share its storage. */
function forgetRegister(v: SpecVcpu, reg: number): void {
  v.regs.delete(reg);
  for (const [field, r] of [...VMCS_REG_ALIAS, ...VMCS_REG_MAYBE_ALIAS])
    if (r === reg) v.fields.delete(field);
}

function readRegister(v: SpecVcpu, reg: number, value: bigint): string | undefined {
  const known = v.regs.get(reg);
  if (known === undefined) return undefined;
  const mask = X86_REG_SIGNIFICANT.get(reg);
  if (mask !== undefined)
    return expectEqual(`register ${reg} (significant bits)`, known & mask, value & mask);
  return expectEqual(`register ${reg}`, known, value);
}

const hv_capability: CallSpec = {
  name: 'hv_capability',
  arch: 'x86_64',
  summary: 'Reads a capability of the host: the maximum number of vCPUs or of address spaces.',
  availability: 'macOS 10.15',
  thread: 'process',
  header: 'hv.h',
  params: [
    {
      name: 'capability',
      dir: 'in',
      type: IN.u32('hv_capability_t', VOCABS.cap),
      doc: 'HV_CAP_VCPUMAX or HV_CAP_ADDRSPACEMAX',
    },
    valueOut('the capability value'),
  ],
  rows: [
    {
      id: 'ok',
      when: 'capability is HV_CAP_VCPUMAX or HV_CAP_ADDRSPACEMAX',
      applies: (_s, c) =>
        arg<number>(c, 'capability') === HV_CAP.HV_CAP_VCPUMAX ||
        arg<number>(c, 'capability') === HV_CAP.HV_CAP_ADDRSPACEMAX,
      ret: SUCCESS,
      result: 'value = the host limit (the backend declares it in its capabilities)',
      evidence: H,
      source: 'hvf-facts §1.1: hv_capability(cap, &u64), 10.15+ [H]',
      expect: (s, c) =>
        BigInt(
          arg<number>(c, 'capability') === HV_CAP.HV_CAP_VCPUMAX ? s.env.maxVcpus : s.env.maxAddressSpaces,
        ),
    },
    {
      id: 'unknown',
      when: 'capability is not an hv_capability_t value',
      applies: always,
      ret: NOT_SUCCESS,
      evidence: U,
      source: 'hvf-facts §1.1 lists two capabilities; others are undocumented',
    },
  ],
};

const hv_vm_create: CallSpec = {
  name: 'hv_vm_create',
  arch: 'x86_64',
  summary: 'Creates the VM of the current process.',
  availability: 'macOS 10.10',
  thread: 'process',
  header: 'hv.h',
  params: [
    {
      name: 'flags',
      dir: 'in',
      type: IN.options('hv_vm_options_t', VOCABS.vmOptions),
      doc: 'HV_VM_DEFAULT or mitigation/APIC options',
    },
  ],
  rows: [
    {
      id: 'vm-exists',
      when: 'a VM already exists in this process',
      applies: (s) => s.vm !== null,
      ret: NOT_SUCCESS,
      evidence: H,
      source:
        'hvf-facts §0.3: "one virtual machine at a time per process" [H]; the x86 code is probably HV_BUSY as on arm64 (§3) [U]',
    },
    {
      id: 'bad-options',
      when: 'flags has bits that are not hv_vm_options_t values',
      applies: (_s, c) => (arg<bigint>(c, 'flags') & ~BigInt(VM_OPTIONS_MASK)) !== 0n,
      ret: NOT_SUCCESS,
      evidence: U,
      source: 'hvf-facts §1.1 lists the option bits; unknown bits are undocumented',
    },
    {
      id: 'ok',
      when: 'no VM exists (including after hv_vm_destroy)',
      applies: always,
      ret: SUCCESS,
      result: 'the process has a VM with the default address space and no mappings',
      evidence: T,
      source:
        "hvf-facts §1.8: Apple's XNU test creates a VM per test, with HV_VM_DEFAULT and with all mitigation bits [T]",
      effect: (s) => {
        s.vm = { granule: 4096, addrLimit: 1n << 64n, spaces: new Map([[0, []]]) };
      },
    },
  ],
};

const hv_vm_destroy = vmDestroySpec(
  'x86_64',
  'macOS 10.10',
  {
    liveVcpus:
      'hvf-facts §3: destroy "requires all vCPUs be destroyed" [H]; the code is undocumented (HV_BUSY plausible) [U]',
    ok: 'hvf-facts §1.8: the XNU test destroys the VM after each test [T]',
  },
  'no VM; every mapping and address space is gone',
);

const hv_vm_space_create: CallSpec = {
  name: 'hv_vm_space_create',
  arch: 'x86_64',
  summary: 'Creates an additional guest-physical address space.',
  availability: 'macOS 10.15',
  thread: 'process',
  header: 'hv.h',
  params: [{ name: 'asid', dir: 'out', type: OUT.asid(), doc: 'the new address space' }],
  rows: [
    noVmRow('hvf-facts §1.2: address spaces belong to the VM; undocumented without one'),
    {
      id: 'limit',
      when: 'HV_CAP_ADDRSPACEMAX address spaces (the default one included) already exist',
      applies: (s) => (s.vm?.spaces.size ?? 0) >= s.env.maxAddressSpaces,
      ret: NOT_SUCCESS,
      evidence: U,
      source: 'hvf-facts §1.1: HV_CAP_ADDRSPACEMAX [H]; the code at the limit is undocumented',
    },
    {
      id: 'ok',
      requires: (env) => env.maxAddressSpaces > 1,
      when: 'a VM exists below the address-space limit',
      applies: always,
      ret: SUCCESS,
      result: 'asid = a new, empty address space (never 0)',
      evidence: H,
      source: 'hvf-facts §1.2: hv_vm_space_create [H]',
      value: (s, _c, v) =>
        typeof v === 'number' && v !== 0 && !s.vm?.spaces.has(v)
          ? undefined
          : `asid: expected a new non-zero id, got ${String(v)}`,
      effect: (s, _c, o) => {
        s.vm?.spaces.set(Number(o.value), []);
      },
    },
  ],
};

const hv_vm_space_destroy: CallSpec = {
  name: 'hv_vm_space_destroy',
  arch: 'x86_64',
  summary: 'Destroys an additional address space.',
  availability: 'macOS 10.15',
  thread: 'process',
  header: 'hv.h',
  params: [{ name: 'asid', dir: 'in', type: IN.asid(), doc: 'the address space' }],
  rows: [
    noVmRow('undocumented'),
    {
      id: 'default-or-unknown',
      when: 'asid is HV_VM_SPACE_DEFAULT or not an existing address space',
      applies: (s, c) => arg<number>(c, 'asid') === 0 || !s.vm?.spaces.has(arg<number>(c, 'asid')),
      ret: NOT_SUCCESS,
      evidence: U,
      source: 'hvf-facts §1.2: only created spaces can be destroyed; the code is undocumented',
    },
    {
      id: 'in-use',
      requires: (env) => env.maxAddressSpaces > 1,
      when: 'a live vCPU uses the address space',
      applies: (s, c) => [...s.vcpus.values()].some((v) => v.space === arg<number>(c, 'asid')),
      ret: NOT_SUCCESS,
      evidence: U,
      source: 'undocumented; a space in use cannot sensibly go away',
    },
    {
      id: 'ok',
      requires: (env) => env.maxAddressSpaces > 1,
      when: 'asid is a created address space no vCPU uses',
      applies: always,
      ret: SUCCESS,
      result: 'the address space and its mappings are gone',
      evidence: H,
      source: 'hvf-facts §1.2: hv_vm_space_destroy [H]',
      effect: (s, c) => {
        s.vm?.spaces.delete(arg<number>(c, 'asid'));
      },
    },
  ],
};

const addrShape = { arch: 'x86_64', addr: 'gpa', space: false } as const;
const spaceShape = { arch: 'x86_64', addr: 'gpa', space: true } as const;
const memParams = {
  uva: {
    name: 'uva',
    dir: 'in',
    type: IN.uva('hv_uvaddr_t'),
    doc: 'host address: a host_alloc buffer and offset (page aligned; size bytes of it are mapped)',
    extent: 'size',
  },
  gpa: { name: 'gpa', dir: 'in', type: IN.u64('hv_gpaddr_t'), doc: 'guest-physical address, page aligned' },
  size: {
    name: 'size',
    dir: 'in',
    type: IN.u64('size_t'),
    doc: 'size in bytes, a multiple of the page size',
  },
  flags: {
    name: 'flags',
    dir: 'in',
    type: IN.flags(VOCABS.memoryX86),
    doc: 'HV_MEMORY_READ | _WRITE | _EXEC',
  },
  asid: { name: 'asid', dir: 'in', type: IN.asid(), doc: 'the address space' },
} satisfies Record<string, InParam>;

const mapping: CallSpec[] = [
  {
    name: 'hv_vm_map',
    arch: 'x86_64',
    summary: 'Maps host memory into the default guest-physical address space.',
    availability: 'macOS 10.10',
    thread: 'process',
    header: 'hv.h',
    params: [memParams.uva, memParams.gpa, memParams.size, memParams.flags],
    rows: mapRows(addrShape),
  },
  {
    name: 'hv_vm_unmap',
    arch: 'x86_64',
    summary: 'Unmaps a range of the default guest-physical address space.',
    availability: 'macOS 10.10',
    thread: 'process',
    header: 'hv.h',
    params: [memParams.gpa, memParams.size],
    rows: unmapRows(addrShape),
  },
  {
    name: 'hv_vm_protect',
    arch: 'x86_64',
    summary: 'Changes the permissions of a mapped range of the default address space.',
    availability: 'macOS 10.10',
    thread: 'process',
    header: 'hv.h',
    params: [memParams.gpa, memParams.size, memParams.flags],
    rows: protectRows(addrShape),
  },
  {
    name: 'hv_vm_map_space',
    arch: 'x86_64',
    summary: 'Maps host memory into a given address space.',
    availability: 'macOS 10.15',
    thread: 'process',
    header: 'hv.h',
    params: [memParams.asid, memParams.uva, memParams.gpa, memParams.size, memParams.flags],
    rows: mapRows(spaceShape),
  },
  {
    name: 'hv_vm_unmap_space',
    arch: 'x86_64',
    summary: 'Unmaps a range of a given address space.',
    availability: 'macOS 10.15',
    thread: 'process',
    header: 'hv.h',
    params: [memParams.asid, memParams.gpa, memParams.size],
    rows: unmapRows(spaceShape),
  },
  {
    name: 'hv_vm_protect_space',
    arch: 'x86_64',
    summary: 'Changes the permissions of a mapped range of a given address space.',
    availability: 'macOS 10.15',
    thread: 'process',
    header: 'hv.h',
    params: [memParams.asid, memParams.gpa, memParams.size, memParams.flags],
    rows: protectRows(spaceShape),
  },
];

const hv_vcpu_create: CallSpec = {
  name: 'hv_vcpu_create',
  arch: 'x86_64',
  summary: 'Creates a vCPU bound to the calling thread.',
  availability: 'macOS 10.10',
  thread: 'any',
  header: 'hv.h',
  params: [
    { name: 'vcpu', dir: 'out', type: OUT.vcpu('hv_vcpuid_t *'), doc: 'the new vCPU' },
    {
      name: 'flags',
      dir: 'in',
      type: IN.options('hv_vcpu_options_t', VOCABS.vcpuOptions),
      doc: 'HV_VCPU_DEFAULT or options',
    },
  ],
  rows: [
    noVmRow('hvf-facts §3: undocumented; HV_NO_DEVICE ("no VM or vCPU available") is the plausible code'),
    {
      id: 'bad-options',
      when: 'flags has bits that are not hv_vcpu_options_t values',
      applies: (_s, c) => (arg<bigint>(c, 'flags') & ~BigInt(VCPU_OPTIONS_MASK)) !== 0n,
      ret: NOT_SUCCESS,
      evidence: U,
      source: 'hvf-facts §1.1 lists the option bits; unknown bits are undocumented',
    },
    {
      id: 'limit',
      when: 'HV_CAP_VCPUMAX vCPUs are live',
      applies: (s) => liveCount(s) >= s.env.maxVcpus,
      ret: NOT_SUCCESS,
      evidence: U,
      source: 'hvf-facts §3: more vCPUs than HV_CAP_VCPUMAX fails; the code is undocumented',
    },
    {
      id: 'thread-owns-one',
      when: 'the calling thread already owns a live vCPU',
      applies: (s, c) => [...s.vcpus.values()].some((v) => v.owner === c.t),
      ret: ANY,
      result: 'undocumented on x86 (the arm64 header forbids it): on HV_SUCCESS a second vCPU is created',
      evidence: U,
      source:
        'hvf-facts §1.2: "creates a vCPU bound to the calling thread" [H]; one-per-thread is stated only for arm64',
      effect: (s, c, o) => {
        if (o.ret === HV.HV_SUCCESS) addVcpu(s, c, o.value);
      },
      value: (s, _c, v) => newHandle(s, v),
    },
    {
      id: 'ok',
      when: 'a VM exists, below the vCPU limit',
      applies: always,
      ret: SUCCESS,
      result: 'vcpu = a new handle owned by the calling thread, in the default address space',
      evidence: T,
      source: 'hvf-facts §1.2 [H]; the XNU test creates vCPUs on their own threads [T]',
      value: (s, _c, v) => newHandle(s, v),
      effect: (s, c, o) => addVcpu(s, c, o.value),
    },
  ],
};

function newHandle(s: SpecState, v: unknown): string | undefined {
  if (typeof v !== 'number') return `vcpu: expected a handle, got ${String(v)}`;
  if (s.vcpus.has(v)) return `vcpu: handle ${v} is already a live vCPU`;
  return undefined;
}

function addVcpu(s: SpecState, c: SpecCall, handle: unknown): void {
  const h = Number(handle);
  s.stale.delete(h);
  s.vcpus.set(h, newVcpu(h, c.t));
}

const hv_vcpu_destroy = vcpuDestroySpec('x86_64', 'macOS 10.10', {
  evidence: T,
  source: 'hvf-facts §1.2 [H]; the XNU test destroys each vCPU on its thread [T]',
  result: 'the handle is stale',
});

const hv_vcpu_set_space = ownerCall({
  name: 'hv_vcpu_set_space',
  arch: 'x86_64',
  summary: 'Sets the address space a vCPU uses.',
  availability: 'macOS 10.15',
  params: [memParams.asid],
  rows: [
    {
      id: 'bad-space',
      when: 'asid is not an existing address space',
      applies: (s, c) => !s.vm?.spaces.has(arg<number>(c, 'asid')),
      ret: NOT_SUCCESS,
      evidence: U,
      source: 'undocumented',
    },
    {
      id: 'ok',
      when: 'asid exists',
      applies: always,
      ret: SUCCESS,
      result: "the vCPU's guest accesses use that address space",
      evidence: H,
      source: 'hvf-facts §1.2: hv_vcpu_set_space [H]',
      effect: (s, c) => {
        liveVcpu(s, c).space = arg<number>(c, 'asid');
      },
    },
  ],
});

const regParam: InParam = {
  name: 'reg',
  dir: 'in',
  type: IN.u32('hv_x86_reg_t', VOCABS.x86Reg),
  doc: 'the register',
};

const hv_vcpu_read_register = ownerCall({
  name: 'hv_vcpu_read_register',
  arch: 'x86_64',
  summary: 'Reads an architectural register of a vCPU.',
  params: [regParam, valueOut('the value')],
  rows: [
    {
      id: 'bad-reg',
      when: 'reg is not an hv_x86_reg_t register (>= HV_X86_REGISTERS_MAX)',
      applies: (_s, c) => arg<number>(c, 'reg') >= HV_X86_REG.HV_X86_REGISTERS_MAX,
      ret: NOT_SUCCESS,
      evidence: U,
      source: 'hvf-facts §1.3: registers 0..50; others are undocumented',
    },
    {
      id: 'ok',
      when: 'reg is a register',
      applies: always,
      ret: SUCCESS,
      result:
        'value = what the VMM or the guest last wrote (GPRs and RIP exactly; RFLAGS in its defined bits; others unspecified)',
      evidence: T,
      source: 'hvf-facts §1.8: the XNU test writes registers, runs, and reads back guest changes [T]',
      expect: (s, c) =>
        X86_REG_EXACT.has(arg<number>(c, 'reg')) ? liveVcpu(s, c).regs.get(arg<number>(c, 'reg')) : undefined,
      value: (s, c, v) => readRegister(liveVcpu(s, c), arg<number>(c, 'reg'), v as bigint),
      effect: (s, c, o) => {
        const v = liveVcpu(s, c);
        const reg = arg<number>(c, 'reg');
        if (X86_REG_EXACT.has(reg) && !v.regs.has(reg)) v.regs.set(reg, o.value as bigint);
      },
    },
  ],
});

const hv_vcpu_write_register = ownerCall({
  name: 'hv_vcpu_write_register',
  arch: 'x86_64',
  summary: 'Writes an architectural register of a vCPU.',
  params: [regParam, valueIn()],
  rows: [
    {
      id: 'bad-reg',
      when: 'reg is not an hv_x86_reg_t register',
      applies: (_s, c) => arg<number>(c, 'reg') >= HV_X86_REG.HV_X86_REGISTERS_MAX,
      ret: NOT_SUCCESS,
      evidence: U,
      source: 'hvf-facts §1.3; undocumented',
    },
    {
      id: 'gpr',
      when: 'reg is RIP or a general-purpose register',
      applies: (_s, c) => X86_REG_EXACT.has(arg<number>(c, 'reg')),
      ret: SUCCESS,
      result: 'the register holds the value; the guest sees it on the next run',
      evidence: T,
      source: 'hvf-facts §1.8: the XNU test writes every GPR before a run and the guest sees them [T]',
      effect: (s, c) => {
        const v = liveVcpu(s, c);
        const reg = arg<number>(c, 'reg');
        forgetRegister(v, reg);
        v.regs.set(reg, arg<bigint>(c, 'value'));
        for (const [field, r] of VMCS_REG_ALIAS) if (r === reg) v.fields.set(field, arg<bigint>(c, 'value'));
      },
    },
    {
      id: 'ok',
      when: 'reg is another register',
      applies: always,
      ret: ANY,
      result:
        'HV_SUCCESS for every register the XNU test writes; a value the register cannot hold (e.g. reserved CR bits) may be refused',
      evidence: T,
      source:
        'hvf-facts §1.8: the XNU test writes all GPRs, DR0–DR7 and segment selectors [T]; invalid values are undocumented',
      effect: (s, c, o) => {
        const v = liveVcpu(s, c);
        const reg = arg<number>(c, 'reg');
        forgetRegister(v, reg);
        if (o.ret !== HV.HV_SUCCESS) return;
        const value = arg<bigint>(c, 'value');
        if (X86_REG_SIGNIFICANT.has(reg)) v.regs.set(reg, value);
        for (const [field, r] of VMCS_REG_ALIAS) if (r === reg) v.fields.set(field, value);
      },
    },
  ],
});

const hv_vmx_read_capability: CallSpec = {
  name: 'hv_vmx_read_capability',
  arch: 'x86_64',
  summary: 'Reads a VMX capability of the host (allowed-0 / allowed-1 settings of the controls).',
  availability: 'macOS 10.10 (ids 5–16 macOS 11.0)',
  thread: 'process',
  header: 'hv_vmx.h',
  params: [
    { name: 'field', dir: 'in', type: IN.u32('hv_vmx_capability_t', VOCABS.vmxCap), doc: 'the capability' },
    valueOut('the capability value'),
  ],
  rows: [
    {
      id: 'ok',
      when: 'field is an hv_vmx_capability_t value',
      applies: (_s, c) => VMX_CAP_IDS.has(arg<number>(c, 'field')),
      ret: SUCCESS,
      result:
        "value = the host's capability; for the control capabilities (0–4, 6–9) the must-be-1 bits (low 32) are a subset of the may-be-1 bits (high 32)",
      evidence: H,
      source:
        'hvf-facts §1.2: hv_vmx_read_capability and its encoding [H]; canonicalisation in the XNU test [T]',
      value: (s, c, v) => {
        const field = arg<number>(c, 'field');
        if (typeof v !== 'bigint') return `value: expected a bigint, got ${String(v)}`;
        // Only the control capabilities (PINBASED..EXIT and their TRUE_ forms) have the allowed-0 /
        // allowed-1 layout; BASIC, MISC, the CR fixed bits, VMCS_ENUM and EPT_VPID_CAP are other formats.
        if (field <= 4 || (field >= 6 && field <= 9)) {
          const must = v & 0xffff_ffffn;
          const may = v >> 32n;
          if ((must & ~may) !== 0n)
            return `capability ${field}: must-be-1 bits 0x${must.toString(16)} not within may-be-1 0x${may.toString(16)}`;
        }
        const declared = s.env.vmxCapabilities[field];
        return declared === undefined ? undefined : expectEqual(`capability ${field}`, declared, v);
      },
    },
    {
      id: 'unknown',
      when: 'field is not an hv_vmx_capability_t value',
      applies: always,
      ret: NOT_SUCCESS,
      evidence: U,
      source: 'undocumented',
    },
  ],
};

const fieldParam: InParam = {
  name: 'field',
  dir: 'in',
  type: IN.u32('uint32_t', VOCABS.vmcs),
  doc: 'the VMCS field encoding',
};

const vmcsNotAccessible = (c: SpecCall): boolean => {
  const f = arg<number>(c, 'field');
  return !isKnownVmcsField(f) || isVmcsHostState(f);
};

const hv_vmx_vcpu_read_vmcs = ownerCall({
  name: 'hv_vmx_vcpu_read_vmcs',
  arch: 'x86_64',
  summary: "Reads a field of a vCPU's VMCS.",
  header: 'hv_vmx.h',
  params: [fieldParam, valueOut('the value')],
  // Exit reasons read as the VMM reads them: VMX_REASON_* names in a trace's expectation.
  valueVocab: (args) => (args[1] === VMCS.VMCS_RO_EXIT_REASON ? VOCABS.vmxReason : undefined),
  rows: [
    {
      id: 'eptp',
      when: 'field is VMCS_CTRL_EPTP (owned by the framework)',
      applies: (_s, c) => arg<number>(c, 'field') === VMCS.VMCS_CTRL_EPTP,
      ret: code(HV.HV_BAD_ARGUMENT),
      evidence: T,
      source: "hvf-facts §1.2/§3: Apple's XNU test asserts HV_BAD_ARGUMENT for EPTP [T]",
    },
    {
      id: 'not-accessible',
      when: 'field is not a VMCS field the spec knows, or a host-state field',
      applies: (_s, c) => vmcsNotAccessible(c),
      ret: NOT_SUCCESS,
      evidence: U,
      source: 'the host-state area is loaded by the framework on every entry; undocumented',
    },
    {
      id: 'exit-info',
      when: 'field is a read-only exit-information field (VMCS_RO_*)',
      applies: (_s, c) => isVmcsReadOnly(arg<number>(c, 'field')),
      ret: SUCCESS,
      result:
        "value = the last exit's information (checked by guest programs; unspecified before the first run)",
      evidence: T,
      source: 'hvf-facts §1.7: the VMM reads VMCS_RO_EXIT_REASON etc. after hv_vcpu_run [T]',
    },
    {
      id: 'ok',
      when: 'field is a guest-state or control field',
      applies: always,
      ret: SUCCESS,
      result:
        'value = the value last written, truncated to the field width (for fields without fixed bits); otherwise unspecified',
      evidence: U,
      source:
        'hvf-facts §1.2: hv_vmx_vcpu_read_vmcs [H]; read-back of written values is not asserted by any test [U]',
      expect: (s, c) => liveVcpu(s, c).fields.get(arg<number>(c, 'field')),
    },
  ],
});

function capabilityAllows(s: SpecState, field: number, value: bigint): boolean | undefined {
  const capId = VMCS_CONTROL_CAPABILITY.get(field);
  if (capId === undefined) return true;
  const cap = s.env.vmxCapabilities[capId];
  if (cap === undefined) return undefined;
  const must = cap & 0xffff_ffffn;
  const may = cap >> 32n;
  const v = value & 0xffff_ffffn;
  return (v & must) === must && (v & ~may) === 0n && value >> 32n === 0n;
}

const hv_vmx_vcpu_write_vmcs = ownerCall({
  name: 'hv_vmx_vcpu_write_vmcs',
  arch: 'x86_64',
  summary: "Writes a field of a vCPU's VMCS.",
  header: 'hv_vmx.h',
  params: [fieldParam, valueIn()],
  rows: [
    {
      id: 'not-writable',
      when: 'field is VMCS_CTRL_EPTP, a host-state field, a read-only exit field, or not a field the spec knows',
      applies: (_s, c) => {
        const f = arg<number>(c, 'field');
        return f === VMCS.VMCS_CTRL_EPTP || vmcsNotAccessible(c) || isVmcsReadOnly(f);
      },
      ret: NOT_SUCCESS,
      evidence: U,
      source:
        'hvf-facts §1.2: EPTP is framework-owned (its read is HV_BAD_ARGUMENT [T]); writes are undocumented',
    },
    {
      id: 'control-violates-capability',
      when: 'a pin/CPU/CPU2/entry/exit control value has a must-be-1 bit clear or a may-be-1 bit set outside the capability',
      applies: (s, c) => capabilityAllows(s, arg<number>(c, 'field'), arg<bigint>(c, 'value')) === false,
      ret: ANY,
      result: '"may cause the call to fail": on HV_SUCCESS the value is stored, otherwise nothing changes',
      evidence: H,
      source:
        'hvf-facts §1.2: bits violating hv_vmx_vcpu_get_cap_write_vmcs "may cause the call to fail" [H]',
      effect: (s, c, o) => {
        const v = liveVcpu(s, c);
        v.fields.delete(arg<number>(c, 'field'));
        if (o.ret === HV.HV_SUCCESS) storeField(v, arg<number>(c, 'field'), arg<bigint>(c, 'value'));
      },
    },
    {
      id: 'ok',
      when: 'field is a guest-state or control field',
      applies: always,
      ret: SUCCESS,
      result:
        'the field holds the value (reads of fields without fixed bits return it, truncated to the field width)',
      evidence: T,
      source:
        'hvf-facts §1.8: the XNU test sets up every guest-state field and the controls with hv_vmx_vcpu_write_vmcs [T]',
      effect: (s, c) => storeField(liveVcpu(s, c), arg<number>(c, 'field'), arg<bigint>(c, 'value')),
    },
  ],
});

function storeField(v: SpecVcpu, field: number, value: bigint): void {
  if (field === VMCS.VMCS_CTRL_CPU_BASED2) v.cpuBased2 = value & 0xffff_ffffn;
  const alias = VMCS_REG_ALIAS.get(field);
  const maybe = VMCS_REG_MAYBE_ALIAS.get(field);
  if (maybe !== undefined) v.regs.delete(maybe);
  if (alias !== undefined) {
    v.regs.set(alias, value);
    v.fields.set(field, value);
    return;
  }
  if (VMCS_EXACT.has(field)) v.fields.set(field, truncateToField(field, value));
  else v.fields.delete(field);
}

/** The rows of both run calls after the vCPU prelude. */
const runRows: Row[] = [
  {
    id: 'canceled',
    when: 'an hv_vcpu_interrupt is pending for the vCPU',
    applies: (s, c) => liveVcpu(s, c).cancel,
    ret: SUCCESS,
    result:
      'returns at once without entering the guest; the kick is consumed; the exit reason is unspecified (VMX_REASON_IRQ likely)',
    evidence: R,
    source:
      'hvf-facts §1.7/§5.2: kicks are sticky on x86, observed by QEMU developers [R]; the reason is undocumented [U]',
    effect: (s, c) => {
      const v = liveVcpu(s, c);
      v.cancel = false;
      v.ran = true;
    },
  },
  {
    id: 'guest',
    when: 'no kick is pending',
    applies: always,
    ret: ANY,
    result:
      'enters the guest; the exit is what the guest program predicts (see the guest-program rules); registers change',
    evidence: H,
    source: 'hvf-facts §1.2/§1.7 [H]',
    effect: (s, c) => afterGuestRun(liveVcpu(s, c)),
  },
];

const hv_vcpu_run = ownerCall({
  name: 'hv_vcpu_run',
  arch: 'x86_64',
  summary: 'Runs a vCPU until its next exit, including exits the kernel handled (deprecated in macOS 11).',
  availability: 'macOS 10.10, deprecated 11.0',
  deprecated: 'macOS 11.0: use hv_vcpu_run_until',
  runsGuest: true,
  async: true,
  rows: runRows,
});

const hv_vcpu_run_until = ownerCall({
  name: 'hv_vcpu_run_until',
  arch: 'x86_64',
  summary: 'Runs a vCPU until an exit the framework did not handle, or a deadline.',
  availability: 'macOS 10.15',
  runsGuest: true,
  params: [
    {
      name: 'deadline',
      dir: 'in',
      type: IN.u64('uint64_t', VOCABS.deadline),
      doc: 'mach absolute time, or HV_DEADLINE_FOREVER',
    },
  ],
  rows: runRows,
});

const hv_vcpu_interrupt: CallSpec = {
  name: 'hv_vcpu_interrupt',
  arch: 'x86_64',
  summary: 'Forces the listed vCPUs to exit; callable from any thread.',
  availability: 'macOS 10.10',
  thread: 'any',
  header: 'hv.h',
  params: [
    { name: 'vcpus', dir: 'in', type: IN.vcpus('hv_vcpuid_t *'), doc: 'the vCPUs' },
    { name: 'vcpu_count', dir: 'in', type: IN.count('unsigned int'), doc: 'how many' },
  ],
  rows: interruptRows('hv_vcpu_interrupt'),
};

/** Rows shared by `hv_vcpu_interrupt` (x86) and `hv_vcpus_exit` (arm64). */
export function interruptRows(name: string): Row[] {
  const listed = (c: SpecCall): number[] =>
    arg<Vcpu[]>(c, 'vcpus').slice(0, arg<number>(c, 'vcpu_count')).map(Number);
  return [
    {
      id: 'empty',
      when: 'vcpu_count is 0',
      applies: (_s, c) => arg<number>(c, 'vcpu_count') === 0,
      ret: ANY,
      result: 'undocumented: nothing to kick; no vCPU is affected whatever the code',
      evidence: U,
      source: 'hvf-facts §1.2/§2.4: an empty list is undocumented',
    },
    {
      id: 'stale-handle',
      when: 'a listed handle is a destroyed vCPU',
      applies: (s, c) => listed(c).some((h) => s.stale.has(h) && !s.vcpus.has(h)),
      ret: NOT_SUCCESS,
      evidence: U,
      source:
        'hvf-facts §3: stale handles are undocumented (one project guesses HV_BAD_ARGUMENT); racing a destroy risks a host-kernel use-after-free [R]',
      dangerous:
        'a kick of a destroyed vCPU risks a host-kernel use-after-free when it races the destroy (hvf-facts §3, §5.17 [R])',
    },
    {
      id: 'unknown-handle',
      when: 'a listed handle was never a vCPU',
      applies: (s, c) => listed(c).some((h) => !s.vcpus.has(h)),
      ret: NOT_SUCCESS,
      evidence: U,
      source: 'hvf-facts §3: undocumented',
    },
    {
      id: 'ok',
      when: 'every listed handle is a live vCPU (any calling thread)',
      applies: always,
      ret: SUCCESS,
      result: 'each listed vCPU exits now if running, or its next run returns at once',
      evidence: H,
      source: `hvf-facts §1.2/§2.4: ${name} forces an exit and is callable from any thread [H]; sticky when not running [H arm64 / R x86]`,
      effect: (s, c) => {
        for (const h of listed(c)) {
          const v = s.vcpus.get(h);
          if (v) v.cancel = true;
        }
      },
    },
  ];
}

/** Every x86 rule table. */
export const X86_CALLS: readonly CallSpec[] = [
  hv_capability,
  hv_vm_create,
  hv_vm_destroy,
  hv_vm_space_create,
  hv_vm_space_destroy,
  ...mapping,
  hv_vcpu_create,
  hv_vcpu_destroy,
  hv_vcpu_set_space,
  hv_vcpu_read_register,
  hv_vcpu_write_register,
  hv_vmx_read_capability,
  hv_vmx_vcpu_read_vmcs,
  hv_vmx_vcpu_write_vmcs,
  hv_vcpu_run,
  hv_vcpu_run_until,
  hv_vcpu_interrupt,
  execTimeSpec('x86_64'),
  ...X86_VCPU_STATE_CALLS,
  ...X86_FPSTATE_TSC_CALLS,
  ...X86_VMX_EXTRA_CALLS,
];
