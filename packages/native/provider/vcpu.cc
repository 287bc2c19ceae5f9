// vcpu.cc — vCPU lifecycle: hv_vcpu_create/destroy (each vCPU bound to its creating thread, facts §1.2
// [H]), the address-space and cache calls, and the vCPU table lookups.
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <new>

#include "faults.h"
#include "internal.h"

namespace hvkvm {

Vcpu *find_vcpu(hv_vcpuid_t id, bool owner_only) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_vm) return nullptr;
  auto it = g_vm->vcpus.find(id);
  if (it == g_vm->vcpus.end()) return nullptr;
  if (owner_only && !pthread_equal(it->second->owner, pthread_self())) return nullptr;
  return it->second;
}

void free_vcpu(Vcpu *v) {
  if (v->run) munmap(v->run, v->run_size);
  if (v->fd >= 0) close(v->fd);  // KVM keeps the vCPU itself until the VM goes (deviation kvm.vcpu-ids)
  delete v;
}

}  // namespace hvkvm

using namespace hvkvm;

extern "C" {

hv_return_t hv_vcpu_create(hv_vcpuid_t *vcpu, hv_vcpu_options_t flags) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_vm) return HV_NO_DEVICE;
  if (!vcpu || (flags & ~uint64_t{HV_VCPU_ACCEL_RDPMC | HV_VCPU_TSC_RELATIVE})) return HV_BAD_ARGUMENT;
  Vm &vm = *g_vm;
  if (vm.vcpus.size() >= vm.max_vcpus) return HV_NO_RESOURCES;
  Vcpu *v = alloc_fails() ? nullptr : new (std::nothrow) Vcpu();
  if (!v) return HV_NO_RESOURCES;
  v->id = vm.next_vcpu_id;
  // KVM_CREATE_VCPU(id): a new vCPU fd; EINVAL/EEXIST when the id is out of range or was used
  // (KVM frees vCPUs only with the VM).
  v->fd = kvm_ioctl(vm.vm_fd, KVM_CREATE_VCPU, static_cast<unsigned long>(v->id));
  if (v->fd < 0) {
    delete v;
    return HV_NO_RESOURCES;
  }
  vm.next_vcpu_id++;  // the id is KVM's now, whatever happens below (deviation kvm.vcpu-ids)
  v->run_size = vm.run_size;
  void *p = os_mmap(nullptr, vm.run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
  if (p == MAP_FAILED) {
    free_vcpu(v);
    return HV_NO_RESOURCES;
  }
  v->run = static_cast<kvm_run *>(p);
  // KVM_SET_CPUID2: the CPUID the guest sees (KVM_GET_SUPPORTED_CPUID as is); KVM serves CPUID itself.
  if (kvm_ioctl(v->fd, kKvmSetCpuid2, vm.cpuid) != 0) {
    free_vcpu(v);
    return HV_ERROR;
  }
  // Kicks (notes §6 B): block the signal on this thread, and unblock it only inside KVM_RUN.
  sigset_t kick, cur;
  sigemptyset(&kick);
  sigaddset(&kick, kick_signal());
  pthread_sigmask(SIG_BLOCK, &kick, &cur);
  sigdelset(&cur, kick_signal());
  alignas(8) uint8_t km[kSignalMaskHeader + 8] = {};
  uint32_t km_len = 8;  // the kernel's sigset size on x86_64
  memcpy(km, &km_len, sizeof km_len);
  memcpy(km + kSignalMaskHeader, &cur, 8);
  // KVM_SET_SIGNAL_MASK: the signal mask in force while this vCPU is in KVM_RUN.
  // KVM_GET_REGS / KVM_GET_SREGS: the reset state, the register file's starting point.
  if (kvm_ioctl(v->fd, kKvmSetSignalMask, km) != 0 || kvm_ioctl(v->fd, KVM_GET_REGS, &v->regs) != 0 ||
      kvm_ioctl(v->fd, KVM_GET_SREGS, &v->sregs) != 0) {
    free_vcpu(v);
    return HV_ERROR;
  }
  v->owner = pthread_self();
  v->owner_tid = static_cast<pid_t>(syscall(SYS_gettid));
  vm.vcpus[v->id] = v;
  // The new vCPU runs no MSR natively yet, so the filter must let through none that it does not.
  if (!update_msr_filter(vm)) {
    vm.vcpus.erase(v->id);
    free_vcpu(v);
    return HV_ERROR;
  }
  *vcpu = v->id;
  return HV_SUCCESS;
}

hv_return_t hv_vcpu_destroy(hv_vcpuid_t vcpu) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_vm) return HV_BAD_ARGUMENT;
  auto it = g_vm->vcpus.find(vcpu);
  if (it == g_vm->vcpus.end() || !pthread_equal(it->second->owner, pthread_self())) return HV_BAD_ARGUMENT;
  Vcpu *v = it->second;
  g_vm->vcpus.erase(it);
  free_vcpu(v);
  update_msr_filter(*g_vm);
  // Its page tables need no memslots any more (tables.cc); a refusal only leaves read-only memslots
  // over READ memory, which the next walk of another vCPU or a map/protect call clears.
  mark_guest_tables(*g_vm, vcpu, {});
  drain_kick();  // a kick racing the destroy must not leave a pending signal on this thread
  return HV_SUCCESS;
}

hv_return_t hv_vcpu_set_space(hv_vcpuid_t vcpu, hv_vm_space_t asid) {
  if (!find_vcpu(vcpu, true) || asid != HV_VM_SPACE_DEFAULT) return HV_BAD_ARGUMENT;
  return HV_SUCCESS;
}

hv_return_t hv_vcpu_flush(hv_vcpuid_t vcpu) {
  // The register file is written back before every KVM_RUN; nothing is cached beyond that.
  return find_vcpu(vcpu, true) ? HV_SUCCESS : HV_BAD_ARGUMENT;
}

hv_return_t hv_vcpu_invalidate_tlb(hv_vcpuid_t vcpu) {
  Vcpu *v = find_vcpu(vcpu, true);
  if (!v) return HV_BAD_ARGUMENT;
  v->sregs_dirty = true;  // loading SREGS resets KVM's MMU context, which flushes the guest TLB
  return HV_SUCCESS;
}

}  // extern "C"
