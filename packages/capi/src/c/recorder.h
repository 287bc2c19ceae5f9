/*
 * recorder.h — the recording layer of hvspec's C libraries: with HVSPEC_TRACE=FILE in the environment,
 * every hv_* call is written to FILE as a step of an hvspec trace (`hvspec-trace/1`, the format of the
 * repository's traces/ and packages/spec/src/trace/types.ts): its logical thread, its arguments by their
 * C names, what it returned (expect.ret), its out-value (expect.value, or bind for a handle) and, for an
 * arm64 run, the exit record (expect.exit). Host memory a mapping uses appears as host_alloc and
 * host_write steps, and the VMM's own writes to it before each run as host_write steps, so that the
 * trace replays. The generated front (dist/generated/front_<flavour>.c) calls these functions; nothing
 * here knows a particular hv_* function.
 *
 * The file is valid JSON after every step (the closing brackets are rewritten after each one), so the
 * trace of a VMM that crashes or is killed is readable up to its last complete call.
 */
#ifndef HVSPEC_CAPI_RECORDER_H
#define HVSPEC_CAPI_RECORDER_H

#include <stdbool.h>
#include <stdint.h>

#include "hvspec_capi.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hvspec_rec hvspec_rec_t;

/* hvspec_rec_begin flags: the call runs the guest; it has an async form in traces (async/await). */
#define HVSPEC_REC_RUN 1u
#define HVSPEC_REC_ASYNC 2u
/* vCPU lists longer than this are cut in the trace. */
#define HVSPEC_REC_MAX_LIST 1024u

/* What a handle is: its name in the trace is cpuN, asidN or cfgN. */
enum { HVSPEC_KIND_VCPU = 0, HVSPEC_KIND_ASID = 1, HVSPEC_KIND_CONFIG = 2 };

/* A vocabulary (HV_X86_*, VMCS_*, ...): names the trace spells values with. */
typedef struct {
  const char *name;
  uint64_t value;
} hvspec_name_t;
typedef struct {
  const hvspec_name_t *names;
  uint32_t count;
} hvspec_vocab_t;

/* The call starts; NULL when nothing is recorded (no HVSPEC_TRACE, or a call made inside a call). */
HVSPEC_HIDDEN hvspec_rec_t *hvspec_rec_begin(const char *call, unsigned flags);
/* Arguments, in C order. */
HVSPEC_HIDDEN void hvspec_rec_int(hvspec_rec_t *r, const char *name, uint64_t v, const hvspec_vocab_t *vocab);
HVSPEC_HIDDEN void hvspec_rec_flags(hvspec_rec_t *r, const char *name, uint64_t v, const hvspec_vocab_t *vocab);
HVSPEC_HIDDEN void hvspec_rec_bool(hvspec_rec_t *r, const char *name, bool v);
HVSPEC_HIDDEN void hvspec_rec_u128(hvspec_rec_t *r, const char *name, const void *bytes16);
HVSPEC_HIDDEN void hvspec_rec_handle(hvspec_rec_t *r, const char *name, int kind, uint64_t v);
HVSPEC_HIDDEN void hvspec_rec_config(hvspec_rec_t *r, const char *name, const void *config);
/* A host range: becomes {mem, offset} into a host buffer (host_alloc + host_write the first time). */
HVSPEC_HIDDEN void hvspec_rec_uva(hvspec_rec_t *r, const char *name, const void *uva, uint64_t extent);
HVSPEC_HIDDEN void hvspec_rec_list_begin(hvspec_rec_t *r, const char *name);
HVSPEC_HIDDEN void hvspec_rec_list_handle(hvspec_rec_t *r, int kind, uint64_t v);
HVSPEC_HIDDEN void hvspec_rec_list_end(hvspec_rec_t *r);
/* Bytes the call reads (hex in the trace). */
HVSPEC_HIDDEN void hvspec_rec_bytes(hvspec_rec_t *r, const char *name, const void *bytes, uint64_t len);
/* The implementation is about to be called (a run: the VMM's memory writes are recorded first). */
HVSPEC_HIDDEN void hvspec_rec_call(hvspec_rec_t *r);
/* What it returned. */
HVSPEC_HIDDEN void hvspec_rec_ret(hvspec_rec_t *r, uint32_t code);
HVSPEC_HIDDEN void hvspec_rec_value_int(hvspec_rec_t *r, uint64_t v);
HVSPEC_HIDDEN void hvspec_rec_value_bool(hvspec_rec_t *r, bool v);
HVSPEC_HIDDEN void hvspec_rec_value_u128(hvspec_rec_t *r, const void *bytes16);
HVSPEC_HIDDEN void hvspec_rec_bind_handle(hvspec_rec_t *r, int kind, uint64_t v);
HVSPEC_HIDDEN void hvspec_rec_bind_config(hvspec_rec_t *r, const void *config);
/* Several 64-bit out-values (CCSIDR_EL1 values) as a list; several named ones as an object. */
HVSPEC_HIDDEN void hvspec_rec_value_list(hvspec_rec_t *r, const uint64_t *values, uint32_t n);
HVSPEC_HIDDEN void hvspec_rec_value_record(hvspec_rec_t *r, const char *const *names, const uint64_t *values,
                                           uint32_t n);
/* Host memory the call allocated (hv_vm_allocate): a buffer the step binds by name, zero as it starts. */
HVSPEC_HIDDEN void hvspec_rec_bind_memory(hvspec_rec_t *r, const void *base, uint64_t size);
/* Host memory the call freed (hv_vm_deallocate): its buffer is no longer followed. */
HVSPEC_HIDDEN void hvspec_rec_forget_memory(hvspec_rec_t *r, const void *base);
/* arm64: the exit record hv_vcpu_create handed out for a vCPU, and the record after a run. */
HVSPEC_HIDDEN void hvspec_rec_exit_pointer(hvspec_rec_t *r, uint64_t vcpu, const void *exit);
HVSPEC_HIDDEN void hvspec_rec_exit(hvspec_rec_t *r, uint64_t vcpu);
/* The step is complete: it is written. */
HVSPEC_HIDDEN void hvspec_rec_end(hvspec_rec_t *r);

/* Supplied by the generated front of the library's flavour. */
HVSPEC_HIDDEN const char *hvspec_return_name(uint32_t code);
HVSPEC_HIDDEN const hvspec_vocab_t *hvspec_rec_exit_reason_vocab(void);
extern HVSPEC_HIDDEN const char *const hvspec_rec_arch;
/* Supplied by each library: what recorded the trace ("libhvspec-kvm", ...). */
extern HVSPEC_HIDDEN const char *const hvspec_rec_library;

#ifdef __cplusplus
}
#endif

#endif /* HVSPEC_CAPI_RECORDER_H */
