// faults.cc — the state behind the addon's fault injection (faults.h).
#include "faults.h"

#include <errno.h>

#include <mutex>

namespace hvspec {

std::atomic<bool> g_fault_armed{false};

namespace {

// What InjectFault armed: the site, which hit fails (1-based), the errno it sets; and the hits so far.
struct Armed {
  int site = kFaultNone;
  unsigned long nth = 0;
  int err = 0;
  unsigned long count = 0;
};

std::mutex g_mu;
Armed g_armed;

}  // namespace

bool FaultHits(int site) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_armed.site != kFaultAny && g_armed.site != site) return false;
  if (++g_armed.count != g_armed.nth) return false;
  errno = g_armed.err ? g_armed.err : (site == kFaultThread ? EAGAIN : ENOMEM);
  return true;
}

unsigned long InjectFault(int site, unsigned long nth, int err) {
  std::lock_guard<std::mutex> lock(g_mu);
  unsigned long counted = g_armed.count;
  g_armed = Armed{site, nth, err, 0};
  g_fault_armed.store(site != kFaultNone);
  return counted;
}

}  // namespace hvspec
