// exit.h — the translation of a KVM exit into the exit Hypervisor.framework would report.
//
// A pure function of a decoded exit record (as Firecracker keeps its exit handling): no ioctl, no
// guest-memory access, no global state. The run loop (run.cc) fills a KvmExit from kvm_run, the synced
// registers, the guest code bytes it fetched and the permissions of the memory involved, calls
// translate_exit, and carries out what the Translation says. test/exit_test.cc tests it without
// /dev/kvm.
//
// Where KVM has already retired the exiting instruction (OUT and MMIO writes emulated by KVM, HLT), the
// translation finds the instruction's start by decoding and reports RIP there, as HVF does; where KVM
// still owes a completion (IN, MMIO read), the Translation names it, and the next hv_vcpu_run performs
// it before the VMM's registers are written back (kvm-provider-notes.md §5).
#ifndef HVSPEC_PROVIDER_EXIT_H
#define HVSPEC_PROVIDER_EXIT_H

#include <linux/kvm.h>

#include <cstddef>
#include <cstdint>

namespace hvkvm {

// The last exit as the VMM reads it through hv_vmx_vcpu_read_vmcs (notes §5).
struct ExitInfo {
  uint64_t reason = 0;
  uint64_t qualification = 0;
  uint64_t gpa = 0;
  uint64_t gla = 0;
  uint64_t instr_len = 0;
  uint64_t instr_info = 0;
  uint64_t io_rcx = 0, io_rsi = 0, io_rdi = 0, io_rip = 0;
};

// A KVM completion still owed when hv_vcpu_run returned (notes §5 point 2, §7).
// kNativeMsr: an MSR exit the provider must still complete itself (its KVM_GET/SET_MSRS failed).
enum class Pending { kNone, kIoIn, kMmioRead, kMsrRead, kMsrWrite, kNativeMsr };

// Guest code the provider read: bytes[0..n) are the code at CS-relative offsets [ip, ip + n).
struct CodeBytes {
  uint64_t ip = 0;
  const uint8_t *bytes = nullptr;
  size_t n = 0;
};

// How KVM_RUN ended.
enum class RunResult {
  kExit,    // returned 0 with kvm_run->exit_reason set
  kSignal,  // -EINTR: a signal (the kick of hv_vcpu_interrupt, or another one)
  kFailed,  // any other error
};

// Everything the translation looks at. Fields that do not apply to the exit's kind are ignored.
struct KvmExit {
  RunResult result = RunResult::kExit;
  int error = 0;                  // errno of a failed KVM_RUN
  bool loaded_vmm_state = false;  // that KVM_RUN loaded registers the VMM had written
  bool kicked = false;            // hv_vcpu_interrupt's flag was set (the caller took it)
  uint32_t reason = 0;            // kvm_run->exit_reason
  struct {
    bool in = false;
    uint8_t size = 0;
    uint16_t port = 0;
    uint32_t count = 0;
  } io;
  struct {
    uint64_t gpa = 0;
    uint32_t len = 0;
    bool is_write = false;
    bool completed = false;  // permitted by the mapping, so the provider did the access itself
    bool mapped = false;     // gpa is in a mapping (whatever its permissions)
    uint32_t flags = 0;      // that mapping's hv_memory_flags_t
  } mmio;
  struct {
    uint32_t index = 0;      // KVM_EXIT_X86_RDMSR / WRMSR: the MSR (as in RCX)
    bool completed = false;  // the vCPU runs it natively, so the provider did the access itself
    bool failed = false;     // it runs it natively, but the provider's access failed (HV_ERROR)
  } msr;
  uint32_t suberror = 0;  // KVM_EXIT_INTERNAL_ERROR
  // For an emulation failure: where the fetch at RIP goes (notes §3: KVM reports no GPA).
  struct {
    bool translated = false;  // CS:RIP has a guest-physical address
    uint64_t gpa = 0;
    bool mapped = false;
    uint32_t flags = 0;
    bool slot_backed = false;  // the mapping has a KVM memslot (fetches are native there)
    uint64_t generation = 0;   // the memslot generation the lookup saw
  } fetch;
  // KVM_EXIT_SHUTDOWN with paging on: the guest's page walk for the access at RIP (the fetch, or the
  // decoded memory operand) reached a paging-structure entry in memory the walk may not read, where
  // KVM (which has no EPT view of it) raised #PF and the guest could not deliver it (tables.cc).
  struct {
    bool failed = false;
    bool write = false, fetch = false;
    uint64_t entry_gpa = 0;  // the entry's guest-physical address
    uint32_t flags = 0;      // the permissions of the memory it is in (0: unmapped)
    uint64_t gla = 0;        // the linear address being translated
    int len = 0;             // the instruction's length (0 for a fetch)
  } walk;
  uint64_t fetch_retry_generation = ~0ull;  // the vCPU's last retry (see Translation)
  // The vCPU's registers after the exit (KVM_CAP_SYNC_REGS), and the RIP it entered the guest at.
  kvm_regs regs{};
  kvm_sregs sregs{};
  uint64_t entry_rip = 0;
  // The code around RIP that code_wanted() asked for.
  CodeBytes code;
  // A second look after Next::kFlush: RIP and the code at RIP from before the flush.
  bool flushed = false;
  uint64_t flush_rip = 0;
  CodeBytes flush_code;
};

// What the run loop does next.
enum class Next {
  kReport,  // return HV_SUCCESS from hv_vcpu_run with this exit
  kResume,  // enter the guest again (a handled exit, or a signal that was not a kick)
  kFlush,   // let KVM finish the instruction (KVM_RUN with immediate_exit), then translate again
  kError,   // return HV_ERROR: no VMX equivalent (deviation kvm.unhandled-exit)
};

struct Translation {
  Next next = Next::kError;
  ExitInfo exit;
  kvm_regs regs{};                    // the registers the VMM sees: RIP at the exiting instruction
  Pending pending = Pending::kNone;   // the completion the next run must do
  // A pending MMIO read by MOVS, or IN by INS, also stores to ES:(E)DI when KVM completes it; the run
  // loop saves those bytes before the completion and puts them back after it, so that the VMM's own
  // emulation of the store stands.
  bool guard_store = false;
  uint64_t guard_linear = 0;
  uint32_t guard_len = 0;
  uint64_t fetch_retry_generation = ~0ull;  // keep for the next KvmExit
};

// How many code bytes before RIP and from RIP the translation of `e` reads (e.code should cover
// [rip - back, rip + fwd), as far as the guest's code is readable).
struct CodeWanted {
  uint64_t back = 0;
  uint64_t fwd = 0;
};
CodeWanted code_wanted(const KvmExit &e);
constexpr uint64_t kMaxAnchorSpan = 4096;  // see anchored_length in exit.cc
constexpr uint64_t kMaxCodeBack = kMaxAnchorSpan;
constexpr uint64_t kMaxInsn = 15;

Translation translate_exit(const KvmExit &e);

// Linear address of the code at CS-relative `ip` in code mode `mode` (16, 32, 64).
uint64_t code_linear(const kvm_sregs &s, uint64_t ip, int mode);

}  // namespace hvkvm

#endif  // HVSPEC_PROVIDER_EXIT_H
