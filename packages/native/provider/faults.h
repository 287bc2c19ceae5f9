// faults.h — the provider's calls into the OS, each of which a test can make fail on demand
// (hvkvm_inject_fault in kvm_provider.h). Every ioctl, open, mmap and explicit allocation of the
// provider goes through here; with no fault armed the cost is one relaxed atomic load.
#ifndef HVSPEC_PROVIDER_FAULTS_H
#define HVSPEC_PROVIDER_FAULTS_H

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <atomic>
#include <cstddef>

#include "hvspec/kvm_provider.h"

namespace hvkvm {

extern std::atomic<bool> g_fault_armed;
// Whether this call (of `site`, for ioctls with `request`) is the one to fail; sets errno if so.
bool fault_hits(int site, unsigned long request);

template <class Arg>
int kvm_ioctl(int fd, unsigned long request, Arg arg) {
  if (g_fault_armed.load(std::memory_order_relaxed) && fault_hits(HVKVM_FAULT_IOCTL, request)) return -1;
  return ioctl(fd, request, arg);
}

inline int os_open(const char *path, int flags) {
  if (g_fault_armed.load(std::memory_order_relaxed) && fault_hits(HVKVM_FAULT_OPEN, 0)) return -1;
  return open(path, flags);
}

inline void *os_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
  if (g_fault_armed.load(std::memory_order_relaxed) && fault_hits(HVKVM_FAULT_MMAP, 0)) return MAP_FAILED;
  return mmap(addr, len, prot, flags, fd, off);
}

// Before each explicit allocation: true when it is to fail (the caller then behaves as if it had).
inline bool alloc_fails() {
  return g_fault_armed.load(std::memory_order_relaxed) && fault_hits(HVKVM_FAULT_ALLOC, 0);
}

}  // namespace hvkvm

#endif  // HVSPEC_PROVIDER_FAULTS_H
