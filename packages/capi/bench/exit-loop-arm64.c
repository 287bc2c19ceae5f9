/*
 * exit-loop-arm64.c — the arm64 exit round trip of a C VMM (scripts/bench.ts): the guest is
 * `L: hvc #0; b L` (d4000002 17ffffff) at IPA 0x10000; each iteration is hv_vcpu_run and the checks an
 * exit handler makes on the exit record (reason, exception class). PC is already past an HVC.
 *
 *   exit-loop-arm64 ITERATIONS ROUNDS   prints one line per round: nanoseconds per exit
 */
#include <Hypervisor/Hypervisor.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../examples/hv_check.h"
#include "bench.h"

static void *vcpu_thread(void *arg) {
  (void)arg;
  hv_vcpu_t vcpu;
  hv_vcpu_exit_t *exit_info;
  CHECK(hv_vcpu_create(&vcpu, &exit_info, NULL));
  CHECK(hv_vcpu_set_reg(vcpu, HV_REG_PC, 0x10000));
  CHECK(hv_vcpu_set_reg(vcpu, HV_REG_CPSR, 0x3c5));
  for (long r = 0; r < rounds; r++) {
    uint64_t start = now_ns();
    for (long i = 0; i < iterations; i++) {
      CHECK(hv_vcpu_run(vcpu));
      if (exit_info->reason != HV_EXIT_REASON_EXCEPTION || ((exit_info->exception.syndrome >> 26) & 0x3f) != 0x16) {
        fprintf(stderr, "unexpected exit %u, syndrome 0x%llx\n", (unsigned)exit_info->reason,
                (unsigned long long)exit_info->exception.syndrome);
        exit(1);
      }
    }
    printf("%.1f\n", (double)(now_ns() - start) / (double)iterations);
    fflush(stdout);
  }
  CHECK(hv_vcpu_destroy(vcpu));
  return NULL;
}

int main(int argc, char **argv) {
  parse_bench_args(argc, argv);
  CHECK(hv_vm_create(NULL));
  uint32_t *ram = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (ram == MAP_FAILED) return 1;
  ram[0] = 0xd4000002; /* hvc #0 */
  ram[1] = 0x17ffffff; /* b .-4 */
  CHECK(hv_vm_map(ram, 0x10000, 0x10000, HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC));
  pthread_t th;
  if (pthread_create(&th, NULL, vcpu_thread, NULL) != 0) return 1;
  pthread_join(th, NULL);
  CHECK(hv_vm_unmap(0x10000, 0x10000));
  CHECK(hv_vm_destroy());
  return 0;
}
