// run.cc — hv_vcpu_run: the KVM_RUN loop.
//
// Each turn writes the VMM's register file back (kvm_dirty_regs), enters KVM_RUN, fills a KvmExit from
// kvm_run, the synced registers, the guest code the translation asks for and the permissions of the
// memory involved, and does what translate_exit (exit.cc) answers: report the exit, enter again, or let
// KVM finish the instruction first. A completion KVM still owes for the reported exit (IN, MMIO read)
// is done at the start of the next hv_vcpu_run, before the VMM's registers are written back, so that
// the VMM's emulation wins (notes §5 point 2).
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>

#include "decode.h"
#include "faults.h"
#include "internal.h"

namespace hvkvm {

namespace {

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + ts.tv_nsec;
}

void set_exit(Vcpu &v, uint64_t reason) {
  v.exit = ExitInfo{};
  v.exit.reason = reason;
}

void adopt_kvm_state(Vcpu &v) {
  v.regs = v.run->s.regs.regs;
  v.sregs = v.run->s.regs.sregs;
  v.dregs_valid = false;
  v.xcrs_valid = false;
}

// Completes whatever KVM still owes for the last exit without entering the guest: KVM_RUN with
// immediate_exit runs the pending completion (IN data, MMIO read data, OUT skip on the VMX fast path)
// and returns EINTR (notes §5). A read-modify-write may emit one more MMIO write exit, which is
// swallowed: the VMM was told about the access and emulates it.
// False when KVM_RUN failed otherwise than with EINTR (the completion is then still owed).
bool flush_completion(Vcpu &v) {
  v.run->immediate_exit = 1;
  v.run->kvm_dirty_regs = 0;
  bool ok = true;
  for (int i = 0; i < 8; ++i) {
    // KVM_RUN with immediate_exit = 1: finishes pending user-space I/O, then returns -EINTR.
    int r = kvm_ioctl(v.fd, KVM_RUN, 0);
    if (r < 0) {
      ok = errno == EINTR;
      break;
    }
    if (v.run->exit_reason != KVM_EXIT_MMIO && v.run->exit_reason != KVM_EXIT_IO) break;
  }
  v.run->immediate_exit = 0;
  return ok;
}

// A pending REP INS (or REP OUTS whose source read is pending): KVM's completion stores this element and then goes on with the next iterations
// (each its own I/O exit, and stores the VMM never asked for), while the VMM has already emulated
// what it wanted. With the count register at 1 in KVM (KVM_SET_REGS makes its emulator read the
// registers again) the completion ends the instruction after this element.
bool trim_rep_ins(Vcpu &v) {
  kvm_regs r = v.run->s.regs.regs;  // KVM's registers at the exit, as it synced them
  uint64_t asz = (v.exit.instr_info >> 7) & 7;
  uint64_t mask = asz == 0 ? 0xffffull : asz == 1 ? 0xffffffffull : ~0ull;
  r.rcx = (r.rcx & ~mask) | 1;
  // KVM_SET_REGS: the general-purpose registers of the vCPU.
  return kvm_ioctl(v.fd, KVM_SET_REGS, &r) == 0;
}

// The completion the last reported exit left pending: KVM gets the VMM's result (for IN, its RAX)
// and finishes the instruction; the VMM's registers are then written back over KVM's. False when KVM
// failed it (still owed).
bool complete_pending(Vcpu &v) {
  if (v.pending == Pending::kNativeMsr && complete_native_msr(v, v.run) == NativeMsr::kFailed) return false;
  if (v.pending == Pending::kMsrRead || v.pending == Pending::kMsrWrite) {
    // The VMM's answer to a RDMSR is in EDX:EAX; a WRMSR it has dealt with. Either way KVM must not
    // inject #GP (error 0); the instruction's RIP is then the VMM's.
    if (v.pending == Pending::kMsrRead) v.run->msr.data = (v.regs.rdx << 32) | (v.regs.rax & 0xffffffffull);
    v.run->msr.error = 0;
  }
  if (v.pending == Pending::kIoIn) {
    uint8_t *data = reinterpret_cast<uint8_t *>(v.run) + v.run->io.data_offset;
    size_t n = static_cast<size_t>(v.run->io.size) * v.run->io.count;
    uint64_t rax = v.regs.rax;
    memcpy(data, &rax, n < 8 ? n : 8);
  }
  if ((v.pending == Pending::kIoIn || v.pending == Pending::kMmioRead) && v.exit.reason == VMX_REASON_IO &&
      (v.exit.qualification & 0x30) == 0x30 && !trim_rep_ins(v))
    return false;
  uint8_t saved[64];
  bool restore = v.pending_store_len && v.pending_store_len <= sizeof saved &&
                 read_guest_phys(*g_vm, v.pending_store_gpa, saved, v.pending_store_len);
  bool ok = flush_completion(v);
  if (restore) write_guest_phys(*g_vm, v.pending_store_gpa, saved, v.pending_store_len);
  if (!ok) return false;
  v.pending = Pending::kNone;
  v.regs_dirty = true;
  return true;
}

// Stores that the exit translation tells from loads by their opcode (one-byte map): MOV r/m, reg and
// imm, MOV moffs, STOS. Any other memory operand is reported as a read.
bool is_store(const Insn &d) {
  if (d.map != 0) return false;
  switch (d.op) {
    case 0x88: case 0x89: case 0xc6: case 0xc7: case 0xa2: case 0xa3: case 0xaa: case 0xab: return true;
    default: return false;
  }
}

// For a triple fault with paging on: whether the access at RIP (the fetch, or the decoded memory
// operand) walks through a paging-structure entry the walk may not read. KVM then raised #PF (it has
// no EPT view of that memory) and set CR2 to the address, which confirms it.
void find_blocked_walk(Vcpu &v, KvmExit &e) {
  if (!(v.sregs.cr0 & 0x80000000ull)) return;
  const int mode = code_mode(v.sregs);
  uint64_t lin = code_linear(v.sregs, v.regs.rip, mode);
  auto &w = e.walk;
  if (walk_blocked(v, lin, &w.entry_gpa, &w.flags)) {
    w.fetch = true;
  } else {
    // code_wanted asks for the bytes from RIP on for this exit.
    Insn d;
    if (e.code.ip != v.regs.rip || !e.code.n || !decode(e.code.bytes, e.code.n, mode, &v.regs, v.regs.rip, &d) ||
        !d.has_mem || !d.ea_known)
      return;
    lin = seg_base(v.sregs, d.seg) + d.ea;
    if (mode != 64) lin &= 0xffffffffull;
    if (!walk_blocked(v, lin, &w.entry_gpa, &w.flags)) return;
    w.write = is_store(d);
    w.len = d.len;
  }
  if (v.sregs.cr2 != lin) return;
  w.gla = lin;
  w.failed = true;
}

// The exit KVM_RUN just returned with, as translate_exit reads it. Does the provider's part of it:
// completes an MMIO access the mapping permits, takes the kick flag on a signal.
void record_exit(Vcpu &v, KvmExit &e) {
  kvm_run *run = v.run;
  e.result = RunResult::kExit;
  e.reason = run->exit_reason;
  e.regs = v.regs;
  e.sregs = v.sregs;
  e.entry_rip = v.entry_rip;
  e.fetch_retry_generation = v.fetch_retry_generation;
  switch (run->exit_reason) {
    case KVM_EXIT_IO:
      e.io.in = run->io.direction == KVM_EXIT_IO_IN;
      e.io.size = run->io.size;
      e.io.port = run->io.port;
      e.io.count = run->io.count;
      break;
    case KVM_EXIT_MMIO:
      e.mmio.gpa = run->mmio.phys_addr;
      e.mmio.len = run->mmio.len;
      e.mmio.is_write = run->mmio.is_write;
      e.mmio.completed = try_complete_access(*g_vm, e.mmio.gpa, run->mmio.data, e.mmio.len, e.mmio.is_write,
                                             &e.mmio.flags, &e.mmio.mapped);
      break;
    case KVM_EXIT_INTERNAL_ERROR:
      e.suberror = run->internal.suberror;
      if (e.suberror == KVM_INTERNAL_ERROR_EMULATION) {
        uint64_t lin = code_linear(v.sregs, v.regs.rip, code_mode(v.sregs));
        e.fetch.translated = linear_to_gpa(v, lin, &e.fetch.gpa);
        if (e.fetch.translated) {
          e.fetch.flags = region_flags(*g_vm, e.fetch.gpa, &e.fetch.mapped, &e.fetch.generation);
          e.fetch.slot_backed = e.fetch.mapped && slot_kind_for(e.fetch.flags) != SlotKind::kNone;
        }
      }
      break;
    case KVM_EXIT_X86_RDMSR:
    case KVM_EXIT_X86_WRMSR:
      e.msr.index = run->msr.index;
      switch (complete_native_msr(v, run)) {
        case NativeMsr::kDone: e.msr.completed = true; break;
        case NativeMsr::kFailed: e.msr.failed = true; break;
        case NativeMsr::kNotNative: break;
      }
      break;
    case KVM_EXIT_INTR:
      e.kicked = v.kick.exchange(false);
      if (e.kicked) drain_kick();
      break;
    default:
      break;
  }
  e.code = fetch_code(v, code_wanted(e));
  if (e.reason == KVM_EXIT_SHUTDOWN) find_blocked_walk(v, e);
}

// KVM's instruction emulator (which runs all ring-0 code on PVM hosts) cannot execute the instructions
// that raise an event themselves: INT n, INT3 and INT1 outside real mode, and UD2 (and INT1) in every
// mode fail emulation (README "What KVM does" §8). The provider raises the architecture's event instead
// (KVM_SET_VCPU_EVENTS) and KVM delivers it through the guest's IDT (the exception bitmap has no
// effect, kvm.controls), or ends in a triple fault:
// - UD2: #UD, a fault (RIP at the UD2).
// - INT n / INT3 / INT1 whose gate lies beyond the IDT limit: #GP with error code vector * 8 + 2 (IDT
//   bit) plus EXT for INT1, which is not one of the software interrupts (INT n, INT3, INTO) that clear
//   it (Intel SDM Vol. 3 §6.12.1, §6.13), RIP at the instruction.
// - INT n / INT3 with a gate within the limit: the software interrupt itself, RIP past the instruction
//   (the return address it pushes); INT1: #DB, RIP past it (a trap, SDM Vol. 3 §6.15 "Interrupt 1").
// In real mode KVM delivers through the IVT without checking IDTR.limit (deviation
// x86.real-mode-idt-limit), so the event is injected as it is.
// True when it did.
bool inject_guest_event(Vcpu &v) {
  if (v.regs_dirty || v.sregs_dirty) return false;  // KVM's state must be the one that failed
  const int mode = code_mode(v.sregs);
  const bool real = !(v.sregs.cr0 & 1);
  CodeBytes c = fetch_code(v, CodeWanted{0, 2});
  if (c.n < 1) return false;
  enum { kFault, kSoftInt, kTrap } kind;
  unsigned vector, len, ext = 0;
  if (c.bytes[0] == 0x0f && c.n >= 2 && c.bytes[1] == 0x0b) {
    kind = kFault, vector = 6, len = 0;
  } else if (c.bytes[0] == 0xcd && c.n >= 2) {
    kind = kSoftInt, vector = c.bytes[1], len = 2;
  } else if (c.bytes[0] == 0xcc) {
    kind = kSoftInt, vector = 3, len = 1;
  } else if (c.bytes[0] == 0xf1) {
    kind = kTrap, vector = 1, len = 1, ext = 1;
  } else {
    return false;
  }
  kvm_vcpu_events ev{};
  // KVM_GET_VCPU_EVENTS / KVM_SET_VCPU_EVENTS: the vCPU's pending and injected events; an injected
  // event is delivered at the next entry, with the RIP the registers then hold.
  if (kvm_ioctl(v.fd, KVM_GET_VCPU_EVENTS, &ev) != 0) return false;
  ev.flags = 0;
  const uint64_t gate_end = real ? vector * 4ull + 3 : mode == 64 ? vector * 16ull + 15 : vector * 8ull + 7;
  if (kind != kFault && !real && gate_end > v.sregs.idt.limit) {
    ev.exception.injected = 1;
    ev.exception.nr = 13;
    ev.exception.has_error_code = 1;
    ev.exception.error_code = vector * 8 + 2 + ext;
    return kvm_ioctl(v.fd, KVM_SET_VCPU_EVENTS, &ev) == 0;
  }
  if (len) {
    kvm_regs r = v.regs;
    r.rip += len;
    if (mode != 64) r.rip &= 0xffffffffull;
    // KVM_SET_REGS: the general-purpose registers (here RIP past the instruction).
    if (kvm_ioctl(v.fd, KVM_SET_REGS, &r) != 0) return false;
    v.regs = r;
  }
  if (kind == kSoftInt) {
    // A software interrupt: no error code whatever the vector, and vectors above 31.
    ev.interrupt.injected = 1;
    ev.interrupt.nr = static_cast<uint8_t>(vector);
    ev.interrupt.soft = 1;
  } else {
    ev.exception.injected = 1;
    ev.exception.nr = static_cast<uint8_t>(vector);
    ev.exception.has_error_code = 0;
  }
  return kvm_ioctl(v.fd, KVM_SET_VCPU_EVENTS, &ev) == 0;
}

// Makes the translation the VMM's view.
void apply(Vcpu &v, const Translation &t) {
  v.fetch_retry_generation = t.fetch_retry_generation;
  if (t.next != Next::kReport) return;
  v.exit = t.exit;
  if (memcmp(&t.regs, &v.regs, sizeof v.regs) != 0) {
    v.regs = t.regs;
    v.regs_dirty = true;
  }
  v.pending = t.pending;
  v.pending_store_len = 0;
  uint64_t dest;
  if (t.guard_store && linear_to_gpa(v, t.guard_linear, &dest)) {
    v.pending_store_gpa = dest;
    v.pending_store_len = t.guard_len;
  }
}

hv_return_t run_vcpu(Vcpu &v) {
  if (v.kick.exchange(false)) {
    drain_kick();
    set_exit(v, VMX_REASON_IRQ);  // sticky kick: exit at once without entering (README, return codes)
    return HV_SUCCESS;
  }
  if (v.pending != Pending::kNone && !complete_pending(v)) return HV_ERROR;
  // KVM would run the guest with paging silently off (deviation x86.mode.prot32-paging).
  if (legacy_paging(v.sregs) && !legacy_paging_works()) return HV_UNSUPPORTED;
  for (;;) {
    kvm_run *run = v.run;
    // A memslot for the guest's page tables that KVM refused (its memslot limit).
    if (sync_guest_tables(v) != HV_SUCCESS) return HV_ERROR;
    if (int err = write_back_ioctl_state(v)) {
      if (err != EINVAL) return HV_ERROR;
      set_exit(v, VMX_REASON_VMENTRY_GUEST | 0x80000000u);  // KVM refuses the values: entry failure
      return HV_SUCCESS;
    }
    run->kvm_valid_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
    run->kvm_dirty_regs = 0;
    if (v.regs_dirty) {
      run->s.regs.regs = v.regs;
      run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
    }
    if (v.sregs_dirty) {
      run->s.regs.sregs = v.sregs;
      run->kvm_dirty_regs |= KVM_SYNC_X86_SREGS;
    }
    // Without an in-kernel LAPIC, KVM_RUN loads CR8 from kvm_run->cr8 after the synced registers.
    run->cr8 = v.sregs.cr8;
    uint64_t t0 = now_ns();
    // KVM_RUN: loads kvm_dirty_regs, runs the guest until an exit to user space (returns 0,
    // exit_reason set), a signal (-EINTR), or an error (-EINVAL for refused register state).
    v.entry_rip = v.regs.rip;
    v.entry_cr2 = v.sregs.cr2;
    int r = kvm_ioctl(v.fd, KVM_RUN, 0);
    int err = errno;
    v.exec_time_ns += now_ns() - t0;
    KvmExit e;
    if (r < 0 && err != EINTR) {
      e.result = RunResult::kFailed;
      e.error = err;
      e.loaded_vmm_state = v.regs_dirty || v.sregs_dirty;
      e.regs = v.regs;
      e.sregs = v.sregs;
    } else {
      v.regs_dirty = v.sregs_dirty = false;
      adopt_kvm_state(v);
      if (r < 0) {
        drain_kick();
        e.result = RunResult::kSignal;
        e.kicked = v.kick.exchange(false);
        e.regs = v.regs;
      } else {
        record_exit(v, e);
      }
    }
    Translation t = translate_exit(e);
    if (t.next == Next::kFlush) {
      // Let KVM finish the instruction, then look again with the code from before the flush.
      e.flushed = true;
      e.flush_rip = v.regs.rip;
      const uint8_t *at = v.code_buf + kMaxCodeBack;
      size_t n = e.code.n - static_cast<size_t>(e.flush_rip - e.code.ip);
      memcpy(v.flush_buf, at, n);
      e.flush_code = CodeBytes{e.flush_rip, v.flush_buf, n};
      if (!flush_completion(v)) return HV_ERROR;
      adopt_kvm_state(v);
      e.regs = v.regs;
      e.sregs = v.sregs;
      e.code = fetch_code(v, code_wanted(e));
      t = translate_exit(e);
      if (t.next == Next::kFlush) t.next = Next::kError;
    }
    if (t.next == Next::kError && e.result == RunResult::kExit && e.reason == KVM_EXIT_INTERNAL_ERROR &&
        e.suberror == KVM_INTERNAL_ERROR_EMULATION && inject_guest_event(v))
      t.next = Next::kResume;
    apply(v, t);
    if (t.next == Next::kReport && e.walk.failed) {
      // KVM's #PF set CR2; the framework's EPT violation leaves it as the guest had it.
      v.sregs.cr2 = v.entry_cr2;
      v.sregs_dirty = true;
    }
    if (e.msr.failed) {
      v.pending = Pending::kNativeMsr;  // the next run tries the access again before entering
      return HV_ERROR;
    }
    switch (t.next) {
      case Next::kReport:
        return HV_SUCCESS;
      case Next::kResume:
      case Next::kFlush:
        continue;
      case Next::kError:
        if (getenv("HVKVM_DEBUG"))
          fprintf(stderr, "hvkvm: vcpu %u: unhandled KVM exit %u (suberror %u) at rip 0x%llx\n", v.id,
                  run->exit_reason, run->exit_reason == KVM_EXIT_INTERNAL_ERROR ? run->internal.suberror : 0,
                  static_cast<unsigned long long>(v.regs.rip));
        return HV_ERROR;
    }
  }
}

}  // namespace

}  // namespace hvkvm

using namespace hvkvm;

extern "C" {

hv_return_t hv_vcpu_run(hv_vcpuid_t vcpu) {
  Vcpu *v = find_vcpu(vcpu, true);
  if (!v) return HV_BAD_ARGUMENT;
  return run_vcpu(*v);
}

hv_return_t hv_vcpu_run_until(hv_vcpuid_t vcpu, uint64_t deadline) {
  Vcpu *v = find_vcpu(vcpu, true);
  if (!v) return HV_BAD_ARGUMENT;
  if (deadline != HV_DEADLINE_FOREVER) return HV_UNSUPPORTED;  // no preemption timer ([H] allows it)
  return run_vcpu(*v);
}

hv_return_t hv_vcpu_get_exec_time(hv_vcpuid_t vcpu, uint64_t *time) {
  Vcpu *v = find_vcpu(vcpu, true);
  if (!v || !time) return HV_BAD_ARGUMENT;
  *time = v->exec_time_ns;  // time spent inside KVM_RUN, in nanoseconds as the x86 header says
  return HV_SUCCESS;
}

}  // extern "C"
