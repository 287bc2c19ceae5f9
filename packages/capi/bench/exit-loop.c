/*
 * exit-loop.c — the exit round trip of a C VMM, for the C libraries' benchmark (scripts/bench.ts).
 *
 * The guest is `L: out 0x10, al; jmp L` (e6 10 eb fc) in 32-bit protected mode; each iteration is what
 * an x86 VMM's exit loop does: hv_vcpu_run_until, read VMCS_RO_EXIT_REASON, and on an I/O exit read
 * VMCS_RO_VMEXIT_INSTR_LEN and RIP and write RIP past the OUT. A host interrupt's exit
 * (VMX_REASON_IRQ) is run again without moving RIP and still counts.
 *
 *   exit-loop ITERATIONS ROUNDS   prints one line per round: nanoseconds per exit
 *
 * Built against libhvspec-model or libhvspec-kvm. With -DHVSPEC_BENCH_PROVIDER it is linked with the
 * libhvspec-kvm objects themselves and runs on the same vCPU, in turns of a twentieth of a round, the
 * loop through the exported hv_* functions (the library's front) and the same loop calling the KVM
 * provider directly (hvspec_impl_*): the provider's own C loop. It prints "FRONT PROVIDER" per round.
 */
#include <Hypervisor/Hypervisor.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../examples/x86_vmm.h"
#include "bench.h"
#ifdef HVSPEC_BENCH_PROVIDER
#include "calls_x86_64.h"
#endif

/* The exit loop, with every hv_* call made through CALL(name): n exits, ns per exit. */
#define EXIT_LOOP(NAME, CALL)                                                     \
  static double NAME(hv_vcpuid_t vcpu, long n) {                                  \
    uint64_t start = now_ns();                                                    \
    for (long i = 0; i < n; i++) {                                                \
      uint64_t reason = 0, len = 0, rip = 0;                                      \
      CHECK(CALL(hv_vcpu_run_until)(vcpu, HV_DEADLINE_FOREVER));                  \
      CHECK(CALL(hv_vmx_vcpu_read_vmcs)(vcpu, VMCS_RO_EXIT_REASON, &reason));     \
      if ((reason & 0xffff) != VMX_REASON_IO) continue;                           \
      CHECK(CALL(hv_vmx_vcpu_read_vmcs)(vcpu, VMCS_RO_VMEXIT_INSTR_LEN, &len));   \
      CHECK(CALL(hv_vcpu_read_register)(vcpu, HV_X86_RIP, &rip));                 \
      CHECK(CALL(hv_vcpu_write_register)(vcpu, HV_X86_RIP, rip + len));           \
    }                                                                             \
    return (double)(now_ns() - start) / (double)n;                                \
  }

#define API(name) name
EXIT_LOOP(api_loop, API)
#ifdef HVSPEC_BENCH_PROVIDER
#define PROVIDER(name) hvspec_impl_##name
EXIT_LOOP(provider_loop, PROVIDER)
#endif

static void *vcpu_thread(void *arg) {
  (void)arg;
  hv_vcpuid_t vcpu;
  CHECK(hv_vcpu_create(&vcpu, HV_VCPU_DEFAULT));
  setup_protected_mode(vcpu, 0x1000);
  for (long r = 0; r < rounds; r++) {
#ifdef HVSPEC_BENCH_PROVIDER
    /* The two loops take turns in batches of a twentieth of the round, so that a slow stretch of the
     * host lands on both; which goes first alternates. */
    enum { TURNS = 20 };
    long batch = iterations / TURNS > 0 ? iterations / TURNS : 1;
    double a = 0, p = 0;
    for (int k = 0; k < TURNS; k++) {
      if ((k + r) & 1) {
        p += provider_loop(vcpu, batch);
        a += api_loop(vcpu, batch);
      } else {
        a += api_loop(vcpu, batch);
        p += provider_loop(vcpu, batch);
      }
    }
    printf("%.1f %.1f\n", a / TURNS, p / TURNS);
#else
    printf("%.1f\n", api_loop(vcpu, iterations));
#endif
    fflush(stdout);
  }
  CHECK(hv_vcpu_destroy(vcpu));
  return NULL;
}

int main(int argc, char **argv) {
  parse_bench_args(argc, argv);
  static const uint8_t guest[] = {0xe6, 0x10, 0xeb, 0xfc};
  create_vm_with_ram(0x10000, guest, sizeof guest, 0x1000);
  run_vcpu_thread(vcpu_thread);
  destroy_vm(0x10000);
  return 0;
}
