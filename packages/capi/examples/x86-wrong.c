/*
 * x86-wrong.c — a VMM with bugs planted on purpose, for `hvspec lint` to find in its recorded trace.
 * It runs to the end on hvspec's libraries (they answer as the spec says), but on a Mac several of these
 * calls fail, and one was reported to panic the host kernel. Each bug is marked BUG with the rule lint
 * names for it:
 *
 *   hv_vm_map.misaligned                 a mapping whose host address, GPA and size are not page aligned
 *   hv_vm_map.overlap                    a mapping over a range already mapped
 *   hv_vcpu_read_register.wrong-thread   a register read from a thread that does not own the vCPU
 *   hv_vcpu_destroy.wrong-thread         a vCPU destroyed from another thread (dangerous: host panic)
 *   hv_vm_destroy.live-vcpus             the VM destroyed while a vCPU is alive
 *   exit.x86.io                          a run after an I/O exit without RIP moved past the OUT
 *   hv_vcpu_run_until.bad-handle         a run of a destroyed vCPU
 *
 *   cc x86-wrong.c $(npx hvspec cflags) $(npx hvspec libs --backend model) -lpthread
 *   HVSPEC_TRACE=wrong.json ./a.out; npx hvspec lint wrong.json
 */
#include <Hypervisor/Hypervisor.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "x86_vmm.h"

#define RAM_SIZE 0x10000
#define CODE 0x1000

/*   1000: b0 41   mov al, 'A'
 *   1002: e6 e9   out 0xe9, al
 *   1004: e6 f4   out 0xf4, al   ; the end
 *   1006: f4      hlt            ; not reached */
static const uint8_t guest[] = {0xb0, 0x41, 0xe6, 0xe9, 0xe6, 0xf4, 0xf4};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int stage;
static hv_vcpuid_t vcpu;
static char console[16];
static size_t console_len;

static void advance_to(int s) {
  pthread_mutex_lock(&mu);
  stage = s;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
}

static void wait_for(int s) {
  pthread_mutex_lock(&mu);
  while (stage < s) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
}

static void *vcpu_thread(void *arg) {
  (void)arg;
  CHECK(hv_vcpu_create(&vcpu, HV_VCPU_DEFAULT));
  setup_protected_mode(vcpu, CODE);
  advance_to(1);
  wait_for(2);
  int first = 1;
  for (int done = 0; !done;) {
    CHECK(hv_vcpu_run_until(vcpu, HV_DEADLINE_FOREVER));
    uint64_t reason = rvmcs(vcpu, VMCS_RO_EXIT_REASON) & 0xffff;
    if (reason == VMX_REASON_IRQ) continue;
    if (reason != VMX_REASON_IO) {
      fprintf(stderr, "unexpected exit reason %llu\n", (unsigned long long)reason);
      exit(1);
    }
    uint64_t qual = rvmcs(vcpu, VMCS_RO_EXIT_QUALIFIC);
    unsigned port = (unsigned)(qual >> 16) & 0xffff;
    if (port == 0xe9 && console_len + 1 < sizeof console) console[console_len++] = (char)rreg(vcpu, HV_X86_RAX);
    done = port == 0xf4;
    if (first) {
      /* BUG (exit.x86.io): RIP is not moved past the OUT; the guest executes it again. */
      first = 0;
      continue;
    }
    wreg(vcpu, HV_X86_RIP, rreg(vcpu, HV_X86_RIP) + rvmcs(vcpu, VMCS_RO_VMEXIT_INSTR_LEN));
  }
  CHECK(hv_vcpu_destroy(vcpu));
  /* BUG (hv_vcpu_run_until.bad-handle): the vCPU is gone. */
  hv_return_t r = hv_vcpu_run_until(vcpu, HV_DEADLINE_FOREVER);
  printf("run after destroy: 0x%x\n", (unsigned)r);
  return NULL;
}

int main(void) {
  uint8_t *ram = create_vm_with_ram(RAM_SIZE, guest, sizeof guest, CODE);
  /* BUG (hv_vm_map.misaligned): neither the host address nor the GPA nor the size is 4 KiB aligned. */
  hv_return_t r = hv_vm_map(ram + 0x800, 0x20800, 0x800, HV_MEMORY_READ);
  printf("misaligned map: 0x%x\n", (unsigned)r);
  /* BUG (hv_vm_map.overlap): 0x8000 is inside the RAM mapped at 0. */
  r = hv_vm_map(ram, 0x8000, 0x1000, HV_MEMORY_READ);
  printf("overlapping map: 0x%x\n", (unsigned)r);

  pthread_t th;
  if (pthread_create(&th, NULL, vcpu_thread, NULL) != 0) return 1;
  wait_for(1);
  uint64_t rax = 0;
  /* BUG (hv_vcpu_read_register.wrong-thread): the vCPU belongs to the other thread. */
  r = hv_vcpu_read_register(vcpu, HV_X86_RAX, &rax);
  printf("register read from another thread: 0x%x\n", (unsigned)r);
  /* BUG (hv_vcpu_destroy.wrong-thread, dangerous): reported to panic the host kernel on a Mac. */
  r = hv_vcpu_destroy(vcpu);
  printf("destroy from another thread: 0x%x\n", (unsigned)r);
  /* BUG (hv_vm_destroy.live-vcpus): the vCPU is still alive. */
  r = hv_vm_destroy();
  printf("VM destroyed with a live vCPU: 0x%x\n", (unsigned)r);
  advance_to(2);
  pthread_join(th, NULL);
  destroy_vm(RAM_SIZE);
  console[console_len] = '\0';
  printf("console: %s\n", console);
  return 0;
}
