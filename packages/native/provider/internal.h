// internal.h — shared state of hvspec's KVM provider (the hv_* x86 API on /dev/kvm).
//
// Facts this code relies on are cited as "notes §N" (README.md, "What KVM does": measured behaviour of
// KVM) and "facts §N" (hvf-facts.md, with their evidence tags); the provider's own choices of return
// codes are the table "Return codes" in README.md. Only provider files call ioctl.
#ifndef HVSPEC_PROVIDER_INTERNAL_H
#define HVSPEC_PROVIDER_INTERNAL_H

#include <linux/kvm.h>
#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "exit.h"
#include "hvspec/kvm_provider.h"
#include "memslots.h"

namespace hvkvm {

// The uapi headers declare flexible arrays with __DECLARE_FLEX_ARRAY, whose empty struct has size 1
// in C++: there sizeof(kvm_cpuid2), sizeof(kvm_signal_mask), their member offsets and therefore the
// ioctl numbers differ from the kernel's (the kernel answers EINVAL/ENOTTY). The provider builds
// these buffers by hand with the C layout and uses the C ioctl numbers.
constexpr unsigned long kKvmGetSupportedCpuid = _IOC(_IOC_READ | _IOC_WRITE, KVMIO, 0x05, 8);
constexpr unsigned long kKvmSetCpuid2 = _IOC(_IOC_WRITE, KVMIO, 0x90, 8);
constexpr unsigned long kKvmSetSignalMask = _IOC(_IOC_WRITE, KVMIO, 0x8b, 4);
constexpr size_t kCpuid2Header = 8;       // u32 nent, u32 padding, then kvm_cpuid_entry2[nent]
constexpr size_t kSignalMaskHeader = 4;   // u32 len, then the sigset bytes

constexpr uint64_t kPage = 4096;
constexpr unsigned kMaxVcpus = 64;  // HV_CAP_VCPUMAX: KVM_CAP_MAX_VCPUS capped at a sane number.

struct Vcpu {
  hv_vcpuid_t id;
  int fd = -1;
  kvm_run *run = nullptr;
  size_t run_size = 0;
  pthread_t owner;
  pid_t owner_tid;
  std::atomic<bool> kick{false};  // the cancel flag of hv_vcpu_interrupt (sticky, facts §1.7 [R])

  // Virtual register file: what the VMM sees. Written back to KVM before the next KVM_RUN.
  kvm_regs regs{};
  kvm_sregs sregs{};
  bool regs_dirty = false;
  bool sregs_dirty = false;
  kvm_debugregs dregs{};
  bool dregs_valid = false, dregs_dirty = false;
  kvm_xcrs xcrs{};
  bool xcrs_valid = false, xcrs_dirty = false;
  uint64_t cr1 = 0, dr4 = 0, dr5 = 0;  // no KVM counterpart: kept so that writes round-trip
  bool cr4_vmxe = false;              // CR4.VMXE: VMX requires it, KVM refuses it (no nested VMX)

  std::unordered_map<uint32_t, uint64_t> vmcs;  // stored fields with no KVM counterpart
  ExitInfo exit;
  Pending pending = Pending::kNone;
  // A pending MMIO read by MOVS, or IN by INS, also writes guest RAM when KVM completes it: these bytes
  // are saved before the flush and put back after it (Translation::guard_store).
  uint64_t pending_store_gpa = 0;
  uint32_t pending_store_len = 0;
  uint64_t exec_time_ns = 0;
  // RIP at the last KVM_RUN entry: a known instruction boundary from which the instruction behind a
  // retired exit can be found by decoding forward (see anchored_length in exit.cc).
  uint64_t entry_rip = 0;
  uint64_t entry_cr2 = 0;  // CR2 at that entry (see find_blocked_walk in run.cc)
  uint64_t fetch_retry_generation = ~0ull;  // see translate_emulation_failure in exit.cc
  // What the last walk of this vCPU's page tables (tables.cc) saw: CR0.PG, CR3, CR4, EFER, the memslot
  // generation and Vm::table_writes. Equal at entry: no walk.
  uint64_t tables_key[6] = {~0ull, 0, 0, 0, 0, 0};
  uint16_t native_msrs = 0;                 // hv_vcpu_enable_native_msr (bits: msr.cc's kKnownMsrs)
  uint64_t tsc_sync_seen = 0;               // the last hv_vm_sync_tsc applied to this vCPU (extras.cc)
  // Guest code fetched for the exit translation (KvmExit::code, ::flush_code).
  uint8_t code_buf[kMaxCodeBack + kMaxInsn];
  uint8_t flush_buf[kMaxInsn];
};

struct Vm {
  int sys_fd = -1;
  int vm_fd = -1;
  size_t run_size = 0;
  uint8_t *cpuid = nullptr;  // C-layout kvm_cpuid2 (see kKvmGetSupportedCpuid)
  // Guest memory and its memslots; all guarded by mem_mu.
  GuestMemory mem;
  std::vector<uint32_t> free_slot_ids;
  uint32_t next_slot_id = 0;
  uint32_t max_slots = 0;       // KVM_CAP_NR_MEMSLOTS: memslot ids run below it
  uint64_t mem_generation = 0;  // bumped by every memslot change
  std::mutex mem_mu;
  // Paging structures each vCPU's guest page tables consist of, as tables.cc last walked them, and the
  // trap-mode pages among them that carry kTableBit (memory.cc, mark_guest_tables); guarded by mem_mu.
  std::map<hv_vcpuid_t, std::vector<uint64_t>> table_pages;
  std::vector<uint64_t> marked_tables;
  uint64_t table_writes = 0;  // completed guest writes to marked pages (a reason to walk again)
  std::map<hv_vcpuid_t, Vcpu *> vcpus;  // live vCPUs; guarded by g_mu
  hv_vcpuid_t next_vcpu_id = 0;
  unsigned max_vcpus = kMaxVcpus;
  // Guest RDMSR/WRMSR exit to user space through KVM's MSR filter (notes §7); the filter currently
  // lets through the MSRs in msr_filter_native. Guarded by g_mu.
  bool msr_exits = false;
  uint16_t msr_filter_native = 0;
  // KVM's hypercall patching is off: a guest VMCALL on AMD/PVM hosts raises #UD (notes §7).
  bool hypercall_patching_off = false;
  // A KVM vCPU that never runs, created on first use with the VM's CPUID: hv_vcpu_write_register asks
  // it whether KVM accepts a CR0/CR4 value (KVM_SET_SREGS), so that the real vCPU is not touched
  // (loading a paging state into it and back left PVM's MMU confused). Guarded by probe_mu.
  int probe_fd = -1;
  bool probe_failed = false;
  std::mutex probe_mu;
  // hv_vm_sync_tsc (extras.cc): the guest TSC asked for and the host TSC at that moment, applied by each
  // vCPU's owner before its next entry or MSR access. Written under g_mu; tsc_sync_gen counts them.
  std::atomic<uint64_t> tsc_sync_gen{0};
  uint64_t tsc_sync_value = 0, tsc_sync_host = 0;
};

// Global lock for the VM's existence and the vCPU table.
extern std::mutex g_mu;
extern Vm *g_vm;

// Kicks (kick.cc): the signal hv_vcpu_interrupt sends to a vCPU thread, blocked outside KVM_RUN and
// unblocked inside it through KVM_SET_SIGNAL_MASK (notes §6 method B).
int kick_signal();
void install_kick_handler();
// Consumes kick signals left pending on the calling thread.
void drain_kick();

// vCPUs (vcpu.cc). find_vcpu looks up a live vCPU; with owner_only, only from its owning thread.
// Takes g_mu.
Vcpu *find_vcpu(hv_vcpuid_t id, bool owner_only);
void free_vcpu(Vcpu *v);

// Guest memory (memory.cc). All take vm.mem_mu themselves.
// Copies guest-physical memory regardless of permissions (for the decoder); false if unmapped.
bool read_guest_phys(Vm &vm, uint64_t gpa, void *out, size_t len);
// For an MMIO exit: whether the provider may complete it itself, and does so if yes.
// Returns the region flags of gpa in *flags (0 when unmapped) and *mapped.
bool try_complete_access(Vm &vm, uint64_t gpa, uint8_t *data, size_t len, bool is_write, uint32_t *flags,
                         bool *mapped);
// Copies into guest-physical memory regardless of permissions; false if unmapped.
bool write_guest_phys(Vm &vm, uint64_t gpa, const void *in, size_t len);
uint32_t region_flags(Vm &vm, uint64_t gpa, bool *mapped, uint64_t *generation);
// Records the guest-physical pages of `vcpu`'s paging structures and gives those in trap-mode memory
// with READ a read-only memslot (kTableBit), taking it from pages no vCPU walks any more.
hv_return_t mark_guest_tables(Vm &vm, hv_vcpuid_t vcpu, std::vector<uint64_t> pages);
void release_memory(Vm &vm);

// Guest page tables (tables.cc): before an entry with paging on, makes sure KVM can walk the
// vCPU's page tables (mark_guest_tables) when they or the memory map changed since the last walk.
hv_return_t sync_guest_tables(Vcpu &v);
// Whether this host's KVM runs 32-bit and PAE paging (CR0.PG without long mode); PVM does not
// (deviation x86.mode.prot32-paging). legacy_paging: whether a register state asks for it.
bool legacy_paging_works();
// Whether KVM checks IDTR.limit when it delivers a real-mode event (PVM's emulator does not: README §8).
bool real_idt_limit_checked();
bool legacy_paging(const kvm_sregs &s);
// Walks the vCPU's page tables for `lin` (64-bit, PAE or 32-bit paging) and answers whether the walk
// reaches an entry in memory it may not read (unmapped, or without READ): that entry's GPA and the
// permissions of its memory. False when the walk completes or ends at a not-present entry.
bool walk_blocked(Vcpu &v, uint64_t lin, uint64_t *entry_gpa, uint32_t *flags);

// Guest code (guest_code.cc): linear → guest-physical with the vCPU's paging state, and the code
// bytes the exit translation asks for.
bool linear_to_gpa(Vcpu &v, uint64_t lin, uint64_t *gpa);
CodeBytes fetch_code(Vcpu &v, const CodeWanted &want);

// Register file (registers.cc): make sure lazily loaded parts are present; write the VMM's pending
// changes of ioctl-only state to KVM (0, or the errno of the ioctl that failed: EINVAL when KVM
// refuses the values).
bool load_dregs(Vcpu &v);
bool load_xcrs(Vcpu &v);
int write_back_ioctl_state(Vcpu &v);

// MSRs (msr.cc). msr_get/msr_set: KVM_GET_MSRS/KVM_SET_MSRS, FS/GS base through the register file.
// setup_msr_exits enables the exits at VM creation (false: KVM has them but refused); update_msr_filter (caller holds g_mu) lets through
// what every live vCPU runs natively; complete_native_msr does the access of a KVM MSR exit itself
// when this vCPU runs that MSR natively (kNotNative: the VMM must see it; kFailed: KVM_GET/SET_MSRS
// failed, the exit is still owed).
bool msr_get(Vcpu &v, uint32_t msr, uint64_t *value);
bool msr_set(Vcpu &v, uint32_t msr, uint64_t value);
bool setup_msr_exits(Vm &vm);
bool update_msr_filter(Vm &vm);
enum class NativeMsr { kNotNative, kDone, kFailed };
NativeMsr complete_native_msr(Vcpu &v, kvm_run *run);
// Whether a TSC write just made on `v` took effect; whether KVM here lets user space set a guest TSC
// at all (asked on a throwaway VM).
bool tsc_write_took(Vcpu &v, uint64_t value);
bool tsc_writable_probe();

// hv_vm_sync_tsc (extras.cc): on the owner thread, sets the vCPU's TSC to the last synchronised value
// (plus the host TSC ticks since) if it has not seen that one yet. False: KVM_SET_MSRS failed.
bool apply_tsc_sync(Vcpu &v);

// VMCS view (vmcs.cc).
bool vmcs_field_known(uint32_t field);
hv_return_t vmcs_read(Vcpu &v, uint32_t field, uint64_t *value);
hv_return_t vmcs_write(Vcpu &v, uint32_t field, uint64_t value);

// Segments (segments.cc): VMX access-rights format (type 3:0, S 4, DPL 6:5, P 7, AVL 12, L 13,
// D/B 14, G 15, unusable 16) <-> kvm_segment. Index order is the VMCS order ES CS SS DS FS GS LDTR TR.
uint64_t ar_of(const kvm_segment &s);
void set_ar(kvm_segment &s, uint64_t ar);
kvm_segment *seg_by_index(kvm_sregs &s, int index);

}  // namespace hvkvm

#endif  // HVSPEC_PROVIDER_INTERNAL_H
