/*
 * custom_x86_64.c — the libhvspec-model x86 calls around which the library keeps state: which logical
 * thread owns each vCPU, and the exit record a run brings back (codegen.ts, MODEL_CUSTOM).
 *
 * After a run that returned HV_SUCCESS the server sends, with the reply, the exit-information fields and
 * the registers an exit handler reads (mailbox.h: hvspec_x86_exit_vmcs / _regs). Reads of them by the
 * owning thread are answered here without a round trip, with the value the server would give: the
 * read-only exit fields until the next run, RIP and the registers until the next register or VMCS write
 * on that vCPU. Anything else — another thread, an unknown handle, a field not in the record — goes to
 * the server, which judges it as the model does.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "calls_x86_64.h"
#include "model/client.h"

#define SLOTS 1024u

typedef struct {
  _Atomic uint64_t handle; /* handle + 1; 0 = free */
  _Atomic uint32_t owner;
  uint64_t valid; /* bit i: word i of the record is valid */
  uint64_t words[HVSPEC_OUT_WORDS];
} vcpu_t;

static vcpu_t vcpus[SLOTS];

/* Register words are the ones after the VMCS words, plus VMCS_GUEST_RIP (an alias of RIP). */
static uint64_t guest_state_bits(void) {
  uint64_t bits = 0;
  for (unsigned i = 0; i < HVSPEC_X86_EXIT_REGS_COUNT; i++) bits |= 1ull << hvspec_x86_exit_regs[i].word;
  for (unsigned i = 0; i < HVSPEC_X86_EXIT_VMCS_COUNT; i++)
    if (hvspec_x86_exit_vmcs[i].id == VMCS_GUEST_RIP) bits |= 1ull << hvspec_x86_exit_vmcs[i].word;
  return bits;
}

/* The record of a live vCPU the calling thread owns, or NULL. */
static vcpu_t *owned(uint64_t handle) {
  vcpu_t *v = &vcpus[handle % SLOTS];
  if (atomic_load(&v->handle) != handle + 1 || atomic_load(&v->owner) != hvspec_thread_id()) return NULL;
  return v;
}

hv_return_t hvspec_impl_hv_vcpu_create(hv_vcpuid_t *vcpu, hv_vcpu_options_t flags) {
  hv_return_t ret = hvspec_remote_hv_vcpu_create(vcpu, flags, NULL);
  if (ret == HV_SUCCESS && vcpu != NULL) {
    vcpu_t *v = &vcpus[*vcpu % SLOTS];
    /* A slot held by another live vCPU (a handle SLOTS apart) keeps it; this vCPU then goes uncached.
     * The VMM learns the handle only when this call returns, so nobody reads the slot before. */
    uint64_t expected = 0;
    if (atomic_compare_exchange_strong(&v->handle, &expected, (uint64_t)*vcpu + 1) ||
        expected == (uint64_t)*vcpu + 1) {
      v->valid = 0;
      atomic_store(&v->owner, hvspec_thread_id());
    }
  }
  return ret;
}

hv_return_t hvspec_impl_hv_vcpu_destroy(hv_vcpuid_t vcpu) {
  hv_return_t ret = hvspec_remote_hv_vcpu_destroy(vcpu, NULL);
  vcpu_t *v = owned(vcpu);
  if (ret == HV_SUCCESS && v != NULL) {
    v->valid = 0;
    atomic_store(&v->handle, 0);
  }
  return ret;
}

static hv_return_t after_run(vcpu_t *v, hv_return_t ret, const hvspec_reply_t *reply) {
  if (v != NULL && ret == HV_SUCCESS) {
    memcpy(v->words, reply->out, sizeof v->words);
    v->valid = reply->out[0];
  }
  return ret;
}

hv_return_t hvspec_impl_hv_vcpu_run(hv_vcpuid_t vcpu) {
  vcpu_t *v = owned(vcpu);
  if (v) v->valid = 0;
  hvspec_reply_t reply;
  return after_run(v, hvspec_remote_hv_vcpu_run(vcpu, &reply), &reply);
}

hv_return_t hvspec_impl_hv_vcpu_run_until(hv_vcpuid_t vcpu, uint64_t deadline) {
  vcpu_t *v = owned(vcpu);
  if (v) v->valid = 0;
  hvspec_reply_t reply;
  return after_run(v, hvspec_remote_hv_vcpu_run_until(vcpu, deadline, &reply), &reply);
}

static bool cached(uint64_t handle, const hvspec_exit_word_t *list, unsigned n, uint32_t id, uint64_t *value) {
  vcpu_t *v = owned(handle);
  if (v == NULL || value == NULL) return false;
  for (unsigned i = 0; i < n; i++)
    if (list[i].id == id) {
      if (!(v->valid & (1ull << list[i].word))) return false;
      *value = v->words[list[i].word];
      return true;
    }
  return false;
}

hv_return_t hvspec_impl_hv_vmx_vcpu_read_vmcs(hv_vcpuid_t vcpu, uint32_t field, uint64_t *value) {
  if (cached(vcpu, hvspec_x86_exit_vmcs, HVSPEC_X86_EXIT_VMCS_COUNT, field, value)) return HV_SUCCESS;
  return hvspec_remote_hv_vmx_vcpu_read_vmcs(vcpu, field, value, NULL);
}

hv_return_t hvspec_impl_hv_vcpu_read_register(hv_vcpuid_t vcpu, hv_x86_reg_t reg, uint64_t *value) {
  if (cached(vcpu, hvspec_x86_exit_regs, HVSPEC_X86_EXIT_REGS_COUNT, (uint32_t)reg, value)) return HV_SUCCESS;
  return hvspec_remote_hv_vcpu_read_register(vcpu, reg, value, NULL);
}

static void written(uint64_t handle) {
  vcpu_t *v = owned(handle);
  if (v) v->valid &= ~guest_state_bits();
}

static bool listed(const uint32_t *list, size_t n, uint32_t id) {
  for (size_t i = 0; i < n; i++)
    if (list[i] == id) return true;
  return false;
}

/* After a deferred write the record holds the new value of that register (under both of its names). */
static void record_write(vcpu_t *v, uint32_t reg, uint64_t value) {
  for (unsigned i = 0; i < HVSPEC_X86_EXIT_REGS_COUNT; i++)
    if (hvspec_x86_exit_regs[i].id == reg) {
      v->words[hvspec_x86_exit_regs[i].word] = value;
      v->valid |= 1ull << hvspec_x86_exit_regs[i].word;
    }
  if (reg == HV_X86_RIP)
    for (unsigned i = 0; i < HVSPEC_X86_EXIT_VMCS_COUNT; i++)
      if (hvspec_x86_exit_vmcs[i].id == VMCS_GUEST_RIP) {
        v->words[hvspec_x86_exit_vmcs[i].word] = value;
        v->valid |= 1ull << hvspec_x86_exit_vmcs[i].word;
      }
}

/*
 * RIP and the general-purpose registers: the spec says the owner's write of a live vCPU succeeds (row
 * hv_vcpu_write_register.gpr [T]), so the library answers HV_SUCCESS and sends the write with the
 * thread's next call (mailbox.h, HVSPEC_MAX_PENDING): an exit handler's RIP update costs no round trip.
 */
hv_return_t hvspec_impl_hv_vcpu_write_register(hv_vcpuid_t vcpu, hv_x86_reg_t reg, uint64_t value) {
  vcpu_t *v = owned(vcpu);
  if (v != NULL && listed(hvspec_x86_deferred_regs, sizeof hvspec_x86_deferred_regs / 4, (uint32_t)reg) &&
      hvspec_model_defer(vcpu, (uint64_t)reg, value)) {
    record_write(v, (uint32_t)reg, value);
    return HV_SUCCESS;
  }
  written(vcpu);
  return hvspec_remote_hv_vcpu_write_register(vcpu, reg, value, NULL);
}

/* The VMCS fields that are those registers (VMCS_GUEST_RIP, VMCS_GUEST_RSP): row hv_vmx_vcpu_write_vmcs.ok. */
hv_return_t hvspec_impl_hv_vmx_vcpu_write_vmcs(hv_vcpuid_t vcpu, uint32_t field, uint64_t value) {
  vcpu_t *v = owned(vcpu);
  if (v != NULL && listed(hvspec_x86_deferred_vmcs, sizeof hvspec_x86_deferred_vmcs / 4, field) &&
      hvspec_model_defer(vcpu, HVSPEC_PENDING_VMCS | field, value)) {
    if (field == VMCS_GUEST_RIP) record_write(v, HV_X86_RIP, value);
    else v->valid &= ~guest_state_bits();
    return HV_SUCCESS;
  }
  written(vcpu);
  return hvspec_remote_hv_vmx_vcpu_write_vmcs(vcpu, field, value, NULL);
}

uint64_t hvspec_model_config_id(const void *config) {
  (void)config;
  return 0;
}

/*
 * hv_vcpu_read_fpstate / hv_vcpu_write_fpstate take any buffer of the VMM's (heap, stack), not a region
 * meant for sharing: the state goes through a scratch region of the library's own, which the server
 * shares, and is copied between it and the VMM's buffer. The model transfers its 4 KiB XSAVE area from
 * the front of the buffer only (packages/model/README.md), so a larger size is passed on as the
 * scratch's size once it is at least that: what the model accepts and writes stays the same.
 */
#include <pthread.h>
#include <sys/mman.h>

#define FPSTATE_SCRATCH 65536u

static pthread_mutex_t fp_mu = PTHREAD_MUTEX_INITIALIZER;
static void *fp_scratch;

static void *fp_scratch_get(void) {
  if (fp_scratch == NULL) {
    void *p = mmap(NULL, FPSTATE_SCRATCH, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) fp_scratch = p;
  }
  return fp_scratch;
}

typedef hv_return_t (*fpstate_call_t)(hv_vcpuid_t, void *, size_t, hvspec_reply_t *);

/* One transfer through the scratch: the VMM's bytes go in first (those the model does not write stay
 * the VMM's), and on a read come back out. */
static hv_return_t fpstate_through_scratch(fpstate_call_t call, bool read, hv_vcpuid_t vcpu, void *buffer, size_t size) {
  if (buffer == NULL) return HV_BAD_ARGUMENT;
  size_t n = size < FPSTATE_SCRATCH ? size : FPSTATE_SCRATCH;
  pthread_mutex_lock(&fp_mu);
  void *scratch = fp_scratch_get();
  hv_return_t ret = HV_NO_RESOURCES;
  if (scratch != NULL) {
    memcpy(scratch, buffer, n);
    ret = call(vcpu, scratch, n, NULL);
  }
  if (read && ret == HV_SUCCESS) memcpy(buffer, scratch, n);
  pthread_mutex_unlock(&fp_mu);
  return ret;
}

hv_return_t hvspec_impl_hv_vcpu_read_fpstate(hv_vcpuid_t vcpu, void *buffer, size_t size) {
  return fpstate_through_scratch(hvspec_remote_hv_vcpu_read_fpstate, true, vcpu, buffer, size);
}

hv_return_t hvspec_impl_hv_vcpu_write_fpstate(hv_vcpuid_t vcpu, void *buffer, size_t size) {
  return fpstate_through_scratch(hvspec_remote_hv_vcpu_write_fpstate, false, vcpu, buffer, size);
}
