/*
 * bench.h — what the exit-loop benchmarks share: their command line (ITERATIONS ROUNDS) and the clock
 * they measure with.
 */
#ifndef HVSPEC_BENCH_H
#define HVSPEC_BENCH_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static long iterations = 1000, rounds = 5;

/* CLOCK_MONOTONIC: the VMM's own view of elapsed time, unaffected by clock adjustments. */
static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void parse_bench_args(int argc, char **argv) {
  if (argc > 1) iterations = strtol(argv[1], NULL, 10);
  if (argc > 2) rounds = strtol(argv[2], NULL, 10);
}

#endif
