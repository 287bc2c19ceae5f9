/*
 * map_bench.c — hv_vm_map/hv_vm_unmap of many single 4 KiB pages through the KVM provider, written
 * against Apple's C API only. Prints the time to map N pages one call at a time and to unmap them again,
 * for N = 10,000 and 100,000 (or the counts given as arguments), in three layouts:
 *   contiguous  consecutive GPAs backed by consecutive host pages, RWX (KVM can merge them into few slots)
 *   scattered   every other GPA page, RWX: one KVM memslot each, so KVM's slot limit caps the count
 *   trap        every other GPA page, READ|WRITE: no memslot (the provider traps each access)
 * A layout stops at the first failing call (printing its code) or when it has taken `budget` seconds
 * (HVSPEC_BENCH_BUDGET, default 120); the pages mapped so far are unmapped and timed as well.
 *
 *   make -C packages/native/provider bench
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "hvspec/hv_x86.h"
#include "hvspec/kvm_provider.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum { kPage = 4096 };

static void run(const char *layout, uint8_t *host, long n, uint64_t stride, hv_memory_flags_t flags, double budget) {
  const uint64_t base = 0x100000000ull; /* 4 GiB: above any low-memory convention */
  double t0 = now_s();
  long mapped = 0;
  hv_return_t ret = HV_SUCCESS;
  int timed_out = 0;
  for (; mapped < n; ++mapped) {
    ret = hv_vm_map(host + (uint64_t)mapped * kPage, base + (uint64_t)mapped * stride, kPage, flags);
    if (ret != HV_SUCCESS) break;
    if ((mapped & 255) == 0 && now_s() - t0 > budget) {
      timed_out = 1;
      ++mapped;
      break;
    }
  }
  double t1 = now_s();
  long unmapped = 0;
  for (; unmapped < mapped; ++unmapped)
    if (hv_vm_unmap(base + (uint64_t)unmapped * stride, kPage) != HV_SUCCESS) break;
  double t2 = now_s();
  printf("%-10s %7ld pages: map %8.3f s (%6.1f us/page)  unmap %8.3f s (%6.1f us/page)", layout, n, t1 - t0,
         mapped ? (t1 - t0) * 1e6 / (double)mapped : 0.0, t2 - t1, unmapped ? (t2 - t1) * 1e6 / (double)unmapped : 0.0);
  if (mapped < n) {
    if (timed_out) printf("  [stopped after %ld pages: over %.0f s]", mapped, budget);
    else printf("  [map %ld failed: 0x%x]", mapped, (unsigned)ret);
  }
  if (unmapped < mapped) printf("  [unmap %ld failed]", unmapped);
  printf("\n");
  fflush(stdout);
}

int main(int argc, char **argv) {
  char why[512];
  if (hvkvm_available(why, sizeof why) != 0) {
    printf("SKIP: KVM provider unavailable: %s\n", why);
    return 0;
  }
  long counts[8] = {10000, 100000};
  int ncounts = 2;
  if (argc > 1) {
    ncounts = 0;
    for (int i = 1; i < argc && ncounts < 8; ++i) counts[ncounts++] = atol(argv[i]);
  }
  const char *b = getenv("HVSPEC_BENCH_BUDGET");
  double budget = b ? atof(b) : 120.0;
  long max = 0;
  for (int i = 0; i < ncounts; ++i)
    if (counts[i] > max) max = counts[i];
  uint8_t *host = mmap(NULL, (size_t)max * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (host == MAP_FAILED || hv_vm_create(HV_VM_DEFAULT) != HV_SUCCESS) {
    printf("cannot set up\n");
    return 1;
  }
  const hv_memory_flags_t rwx = HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC;
  for (int i = 0; i < ncounts; ++i) {
    run("contiguous", host, counts[i], kPage, rwx, budget);
    run("scattered", host, counts[i], 2 * kPage, rwx, budget);
    run("trap", host, counts[i], 2 * kPage, HV_MEMORY_READ | HV_MEMORY_WRITE, budget);
  }
  hv_vm_destroy();
  munmap(host, (size_t)max * kPage);
  return 0;
}
