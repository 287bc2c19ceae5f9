/*
 * hvspec_capi.h — what every part of hvspec's C libraries shares: symbol visibility, logical threads
 * and the reply of a model-server call. Not an Apple header: VMMs never include it.
 */
#ifndef HVSPEC_CAPI_H
#define HVSPEC_CAPI_H

#include <stdint.h>

#include "mailbox.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The libraries are built with -fvisibility=hidden: only Apple's hv_* functions are exported. */
#define HVSPEC_EXPORT __attribute__((visibility("default")))
#define HVSPEC_HIDDEN __attribute__((visibility("hidden")))

/*
 * The logical thread of the calling OS thread: 0 for the first thread that makes an hv_* call, then 1,
 * 2, ... in the order threads make their first call. A thread keeps its number for its lifetime; a new
 * thread never reuses a number. The recording names threads by it and the model server uses it as the
 * owner of the vCPUs the thread creates (vCPUs belong to the thread that created them, as on the
 * framework: hvf-facts.md §1.2, §2.4).
 */
HVSPEC_HIDDEN uint32_t hvspec_thread_id(void);

/* The reply words of a model-server call (a run's exit record, a config handle, ...). */
typedef struct {
  uint64_t out[HVSPEC_OUT_WORDS];
} hvspec_reply_t;

#ifdef __cplusplus
}
#endif

#endif /* HVSPEC_CAPI_H */
