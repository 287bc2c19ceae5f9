// faults.h — the addon's own OS calls and allocations that a test can make fail on demand, as the
// provider's are (hvkvm_inject_fault, provider/README.md). JS reaches it through the module's
// `testing.inject_fault(site, nth, errno)`; with no fault armed the cost is one relaxed atomic load.
#ifndef HVSPEC_ADDON_FAULTS_H
#define HVSPEC_ADDON_FAULTS_H

#include <atomic>

namespace hvspec {

// Where a fault can be injected. Each is an OS call or an allocation whose failure the addon must
// answer with a code (or, for host_alloc, the documented Error) and nothing left behind.
enum FaultSite : int {
  kFaultNone = 0,
  kFaultAny = 1,       // every kind below, counted together
  kFaultThread = 2,    // pthread_create of a logical thread
  kFaultAlloc = 3,     // the addon's own records: a logical thread, an async run
  kFaultMmap = 4,      // host_alloc's mmap
  kFaultTsfn = 5,      // napi_create_threadsafe_function of an async run
  kFaultTsfnCall = 6,  // napi_call_threadsafe_function carrying a run's result back
};

extern std::atomic<bool> g_fault_armed;
bool FaultHits(int site);

// True when this call (of `site`) is the one to fail; errno is then set as the OS would set it
// (EAGAIN for a thread, ENOMEM otherwise, or the armed errno).
inline bool FaultFails(int site) { return g_fault_armed.load(std::memory_order_relaxed) && FaultHits(site); }

// Arms a rule: among the calls of kind `site` from now on, the nth (1-based) fails; nth 0 only
// counts. Returns how many matching calls the previous rule counted. kFaultNone disarms.
unsigned long InjectFault(int site, unsigned long nth, int err);

}  // namespace hvspec

#endif  // HVSPEC_ADDON_FAULTS_H
