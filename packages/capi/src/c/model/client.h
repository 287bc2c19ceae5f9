/*
 * client.h — libhvspec-model's side of the model server: the server process beside the VMM, the shared
 * mailbox the calls go through, and guest memory shared with the server instead of copied.
 */
#ifndef HVSPEC_CAPI_MODEL_CLIENT_H
#define HVSPEC_CAPI_MODEL_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "hvspec_capi.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * One hv_* call (or service request) in the model server, on the calling thread's logical thread:
 * `args` are the request words, `out` receives HVSPEC_OUT_WORDS reply words. Starts the server on the
 * first call. HV_UNSUPPORTED when the server cannot be started (the reason is printed once), HV_ERROR
 * when it died, HV_NO_RESOURCES beyond HVSPEC_MB_SLOTS threads.
 */
HVSPEC_HIDDEN int32_t hvspec_model_call(uint32_t call, const uint64_t *args, uint32_t nargs, uint64_t *out);

/*
 * Shares host memory [uva, uva + size) with the server and names it as the model does: a buffer id and
 * an offset. The first time a range is seen its pages are replaced, at the same address, by a shared
 * memory object with the same contents, which the server maps too: from then on the VMM, the server and
 * the guest see the same bytes, without copies.
 */
HVSPEC_HIDDEN int32_t hvspec_model_share(const void *uva, uint64_t size, uint64_t *buffer, uint64_t *offset);

/*
 * x86: queues a register write (`what`: the register, or HVSPEC_PENDING_VMCS | a VMCS field) that the
 * calling thread's next call carries to the server, which applies it before that call (mailbox.h,
 * HVSPEC_MAX_PENDING). False when the queue is full: then the caller makes the write as a call.
 */
HVSPEC_HIDDEN bool hvspec_model_defer(uint64_t vcpu, uint64_t what, uint64_t value);

/*
 * Like hvspec_model_share, for [base, base + size) the library itself just mapped for memory the model's
 * hv_vm_allocate made (buffer `buffer`): the server puts the shared object behind that buffer, so that
 * the VMM, the server and the guest see one memory under the model's own id.
 */
HVSPEC_HIDDEN int32_t hvspec_model_share_allocation(void *base, uint64_t size, uint64_t buffer);
/* Forgets the shared ranges inside [base, base + size) (memory the VMM no longer has). */
HVSPEC_HIDDEN void hvspec_model_unshare(const void *base, uint64_t size);
/*
 * A shared scratch area of at least `size` bytes for the calling thread (bytes a call reads or writes
 * travel through it rather than through the VMM's own memory): its address, buffer id and offset.
 */
HVSPEC_HIDDEN int32_t hvspec_model_scratch(uint64_t size, void **p, uint64_t *buffer, uint64_t *offset);

/*
 * arm64 OS objects (custom_arm64.c): a new object of `kind` (codegen.ts numbers the kinds) holding the
 * server's id, and the id of one the library handed out (an id the server never issued for anything
 * else, or a pointer of another kind).
 */
HVSPEC_HIDDEN void *hvspec_model_object_new(uint64_t id, uint32_t kind);
HVSPEC_HIDDEN uint64_t hvspec_model_object_id(const void *object, uint32_t kind);

#ifdef __cplusplus
}
#endif

#endif
