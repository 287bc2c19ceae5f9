// faults.cc — the state behind hvkvm_inject_fault (see faults.h).
#include "faults.h"

#include <mutex>

namespace hvkvm {

std::atomic<bool> g_fault_armed{false};

namespace {

std::mutex g_fault_mu;
int g_site = HVKVM_FAULT_NONE;
unsigned long g_request = 0;
unsigned long g_nth = 0;
int g_errno = 0;
unsigned long g_count = 0;

bool matches(int site, unsigned long request) {
  if (g_site == HVKVM_FAULT_ANY) return true;
  return g_site == site && (site != HVKVM_FAULT_IOCTL || g_request == 0 || g_request == request);
}

}  // namespace

bool fault_hits(int site, unsigned long request) {
  std::lock_guard<std::mutex> lock(g_fault_mu);
  if (!matches(site, request)) return false;
  if (++g_count != g_nth) return false;
  errno = g_errno ? g_errno : (site == HVKVM_FAULT_MMAP || site == HVKVM_FAULT_ALLOC ? ENOMEM : EIO);
  return true;
}

}  // namespace hvkvm

extern "C" unsigned long hvkvm_inject_fault(int site, unsigned long request, unsigned long nth, int err) {
  using namespace hvkvm;
  std::lock_guard<std::mutex> lock(g_fault_mu);
  unsigned long counted = g_count;
  g_site = site;
  g_request = request;
  g_nth = nth;
  g_errno = err;
  g_count = 0;
  g_fault_armed.store(site != HVKVM_FAULT_NONE);
  return counted;
}
