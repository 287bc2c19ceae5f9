/*
 * custom_arm64.c — the libhvspec-model arm64 calls around which the library keeps state
 * (codegen.ts, MODEL_CUSTOM): config objects and the exit record of each vCPU.
 *
 * hv_vcpu_create hands out a pointer to an hv_vcpu_exit_t that "hv_vcpu_run updates on return" and that
 * stays valid for the life of the vCPU (hvf-facts.md §2.6 [H]); here it lives in the library and is
 * filled from the run's reply. Records are never freed (a VMM may still read one after hv_vcpu_destroy);
 * a destroyed vCPU's record is reused by a later vCPU. Config objects are the library's own
 * allocations holding the server's handle, released with os_release.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "calls_arm64.h"
#include "model/client.h"

struct hv_vm_config_s {
  uint64_t id;
  struct hv_vm_config_s *next;
};

typedef struct record {
  hv_vcpu_exit_t exit;
  uint64_t handle;
  bool live;
  struct record *next;
} record_t;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct hv_vm_config_s *configs;
static record_t *records;

/* A config pointer the library did not hand out (or already released) gets an id the server never
 * issued, so that the model answers as it does for an unknown config. */
#define FOREIGN_CONFIG 0xffffffffull

uint64_t hvspec_model_config_id(const void *config) {
  uint64_t id = FOREIGN_CONFIG;
  pthread_mutex_lock(&mu);
  for (struct hv_vm_config_s *c = configs; c; c = c->next)
    if (c == config) id = c->id;
  pthread_mutex_unlock(&mu);
  return id;
}

hv_vm_config_t hvspec_impl_hv_vm_config_create(void) {
  hvspec_reply_t reply;
  if (hvspec_remote_hv_vm_config_create(&reply) != HV_SUCCESS) return NULL;
  struct hv_vm_config_s *c = malloc(sizeof *c);
  if (c == NULL) return NULL;
  c->id = reply.out[0];
  pthread_mutex_lock(&mu);
  c->next = configs;
  configs = c;
  pthread_mutex_unlock(&mu);
  return c;
}

/* <os/object.h>'s os_release for the objects this library hands out (config objects). */
HVSPEC_EXPORT void os_release(void *object) {
  pthread_mutex_lock(&mu);
  for (struct hv_vm_config_s **p = &configs; *p; p = &(*p)->next)
    if (*p == object) {
      struct hv_vm_config_s *c = *p;
      *p = c->next;
      free(c);
      break;
    }
  pthread_mutex_unlock(&mu);
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
