// faults.cc — the state behind the addon's fault injection (faults.h).
#include "faults.h"

#include <errno.h>

#include <mutex>

namespace hvspec {

std::atomic<bool> g_fault_armed{false};

namespace {

std::mutex g_mu;
int g_site = kFaultNone;
unsigned long g_nth = 0;
unsigned long g_count = 0;
int g_errno = 0;

}  // namespace

bool FaultHits(int site) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_site != kFaultAny && g_site != site) return false;
  if (++g_count != g_nth) return false;
  errno = g_errno ? g_errno : (site == kFaultThread ? EAGAIN : ENOMEM);
  return true;
}

unsigned long InjectFault(int site, unsigned long nth, int err) {
  std::lock_guard<std::mutex> lock(g_mu);
  unsigned long counted = g_count;
  g_site = site;
  g_nth = nth;
  g_errno = err;
  g_count = 0;
  g_fault_armed.store(site != kFaultNone);
  return counted;
}

}  // namespace hvspec
