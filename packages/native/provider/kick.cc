// kick.cc — hv_vcpu_interrupt: a sticky per-vCPU flag plus a signal that gets the owning thread out of
// KVM_RUN (notes §6 method B: blocked outside KVM_RUN, unblocked inside it via KVM_SET_SIGNAL_MASK).
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

namespace hvkvm {

namespace {
void kick_handler(int) {}
}  // namespace

int kick_signal() { return SIGRTMIN + 5; }

void install_kick_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    // A no-op handler, so that the kick can never terminate the process even if it is delivered
    // (normally it is blocked on the vCPU thread and only interrupts KVM_RUN, notes §6 B).
    struct sigaction sa {};
    sa.sa_handler = kick_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(kick_signal(), &sa, nullptr);
  });
}

// Otherwise every later KVM_RUN on this thread returns EINTR at once (notes §6 B).
void drain_kick() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, kick_signal());
  timespec zero{0, 0};
  while (sigtimedwait(&set, nullptr, &zero) > 0) {
  }
}

}  // namespace hvkvm

using namespace hvkvm;

extern "C" {

hv_return_t hv_vcpu_interrupt(hv_vcpuid_t *vcpus, unsigned int vcpu_count) {
  if (vcpu_count && !vcpus) return HV_BAD_ARGUMENT;
  std::lock_guard<std::mutex> lock(g_mu);
  // All or nothing: an unknown vCPU anywhere in the list sets no flag (README, return codes).
  for (unsigned i = 0; i < vcpu_count; ++i)
    if (!g_vm || !g_vm->vcpus.count(vcpus[i])) return HV_BAD_ARGUMENT;
  for (unsigned i = 0; i < vcpu_count; ++i) {
    Vcpu *v = g_vm->vcpus[vcpus[i]];
    v->kick.store(true);
    // The flag is the truth; the signal only gets the thread out of KVM_RUN (or makes the next
    // KVM_RUN return at once). tgkill, because the owning thread may have exited.
    syscall(SYS_tgkill, getpid(), v->owner_tid, kick_signal());
  }
  return HV_SUCCESS;
}

}  // extern "C"
