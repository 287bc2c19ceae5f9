/*
 * hv_check.h — CHECK(call): an hv_* call that must succeed; otherwise the file, line, call and code are
 * printed and the VMM exits 1. Shared by the examples and the benchmark loops. Only Apple's API.
 */
#ifndef HVSPEC_EXAMPLE_HV_CHECK_H
#define HVSPEC_EXAMPLE_HV_CHECK_H

#include <Hypervisor/Hypervisor.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(call)                                                                            \
  do {                                                                                         \
    hv_return_t ret_ = (call);                                                                 \
    if (ret_ != HV_SUCCESS) {                                                                  \
      fprintf(stderr, "%s:%d: %s returned 0x%x\n", __FILE__, __LINE__, #call, (unsigned)ret_); \
      exit(1);                                                                                 \
    }                                                                                          \
  } while (0)

#endif
