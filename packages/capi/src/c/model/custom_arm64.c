/*
 * custom_arm64.c — the libhvspec-model arm64 calls around which the library keeps state
 * (codegen.ts, MODEL_CUSTOM): OS objects, the exit record of each vCPU, and memory hv_vm_allocate makes.
 *
 * hv_vcpu_create hands out a pointer to an hv_vcpu_exit_t that "hv_vcpu_run updates on return" and that
 * stays valid for the life of the vCPU (hvf-facts.md §2.6 [H]); here it lives in the library and is
 * filled from the run's reply. Records are never freed (a VMM may still read one after hv_vcpu_destroy);
 * a destroyed vCPU's record is reused by a later vCPU. OS objects (VM, vCPU and GIC configurations, GIC
 * state) are the library's own allocations holding the server's handle and their kind, released with
 * os_release. Memory from hv_vm_allocate is a mapping of the library's, shared with the server under
 * the buffer id the model gave it.
 */
#include <pthread.h>
#include <sys/mman.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "calls_arm64.h"
#include "model/client.h"

typedef struct object {
  uint64_t id;
  uint32_t kind;
  struct object *next;
} object_t;

typedef struct record {
  hv_vcpu_exit_t exit;
  uint64_t handle;
  bool live;
  struct record *next;
} record_t;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static object_t *objects;
static record_t *records;

/* An object pointer the library did not hand out (released already, or of another kind) gets an id the
 * server never issued, so that the model answers as it does for an unknown object. */
#define FOREIGN_OBJECT 0xffffffffull

uint64_t hvspec_model_object_id(const void *object, uint32_t kind) {
  uint64_t id = FOREIGN_OBJECT;
  pthread_mutex_lock(&mu);
  for (object_t *o = objects; o; o = o->next)
    if (o == object && o->kind == kind) id = o->id;
  pthread_mutex_unlock(&mu);
  return id;
}

void *hvspec_model_object_new(uint64_t id, uint32_t kind) {
  object_t *o = malloc(sizeof *o);
  if (o == NULL) return NULL;
  o->id = id;
  o->kind = kind;
  pthread_mutex_lock(&mu);
  o->next = objects;
  objects = o;
  pthread_mutex_unlock(&mu);
  return o;
}

/* <os/object.h>'s os_release for the objects this library hands out. */
HVSPEC_EXPORT void os_release(void *object) {
  pthread_mutex_lock(&mu);
  for (object_t **p = &objects; *p; p = &(*p)->next)
    if (*p == object) {
      object_t *o = *p;
      *p = o->next;
      free(o);
      break;
    }
  pthread_mutex_unlock(&mu);
}

/*
 * The model makes the memory (its rules, its buffer); the VMM gets a mapping of the library's that the
 * server then puts behind that buffer, so that what the VMM writes there the guest reads.
 */
hv_return_t hvspec_impl_hv_vm_allocate(void **uvap, size_t size, hv_allocate_flags_t flags) {
  hvspec_reply_t reply;
  hv_return_t ret = hvspec_remote_hv_vm_allocate(NULL, size, flags, &reply);
  if (ret != HV_SUCCESS) return ret;
  uint64_t buffer = reply.out[0], bytes = reply.out[1];
  void *p = mmap(NULL, (size_t)bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return HV_NO_RESOURCES;
  ret = hvspec_model_share_allocation(p, bytes, buffer);
  if (ret != HV_SUCCESS) {
    munmap(p, (size_t)bytes);
    return ret;
  }
  if (uvap != NULL) *uvap = p;
  return HV_SUCCESS;
}

hv_return_t hvspec_impl_hv_vm_deallocate(void *uva, size_t size) {
  hv_return_t ret = hvspec_remote_hv_vm_deallocate(uva, size, NULL);
  if (ret == HV_SUCCESS) {
    hvspec_model_unshare(uva, size);
    munmap(uva, size);
  }
  return ret;
}

static record_t *record_of(uint64_t handle) {
  for (record_t *r = records; r; r = r->next)
    if (r->live && r->handle == handle) return r;
  return NULL;
}

hv_return_t hvspec_impl_hv_vcpu_create(hv_vcpu_t *vcpu, hv_vcpu_exit_t **exit, hv_vcpu_config_t config) {
  hv_return_t ret = hvspec_remote_hv_vcpu_create(vcpu, exit, config, NULL);
  if (ret != HV_SUCCESS || vcpu == NULL) return ret;
  pthread_mutex_lock(&mu);
  record_t *r = records;
  while (r && r->live) r = r->next;
  if (r == NULL && (r = calloc(1, sizeof *r)) != NULL) {
    r->next = records;
    records = r;
  }
  if (r) {
    memset(&r->exit, 0, sizeof r->exit);
    r->handle = *vcpu;
    r->live = true;
  }
  pthread_mutex_unlock(&mu);
  if (exit != NULL) *exit = r ? &r->exit : NULL;
  return ret;
}

hv_return_t hvspec_impl_hv_vcpu_destroy(hv_vcpu_t vcpu) {
  hv_return_t ret = hvspec_remote_hv_vcpu_destroy(vcpu, NULL);
  if (ret == HV_SUCCESS) {
    pthread_mutex_lock(&mu);
    record_t *r = record_of(vcpu);
    if (r) r->live = false;
    pthread_mutex_unlock(&mu);
  }
  return ret;
}

hv_return_t hvspec_impl_hv_vcpu_run(hv_vcpu_t vcpu) {
  hvspec_reply_t reply;
  hv_return_t ret = hvspec_remote_hv_vcpu_run(vcpu, &reply);
  if (ret == HV_SUCCESS) {
    pthread_mutex_lock(&mu);
    record_t *r = record_of(vcpu);
    pthread_mutex_unlock(&mu);
    if (r) {
      r->exit.reason = (hv_exit_reason_t)reply.out[0];
      r->exit.exception.syndrome = reply.out[1];
      r->exit.exception.virtual_address = reply.out[2];
      r->exit.exception.physical_address = reply.out[3];
    }
  }
  return ret;
}
