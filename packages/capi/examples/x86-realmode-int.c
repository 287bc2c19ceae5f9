/*
 * x86-realmode-int.c — a real-mode guest that asks the VMM for services with software interrupts, as
 * the classic tiny Hypervisor.framework tools (a DOS emulator among them) do, written only against
 * Apple's API (x86_64 flavour).
 *
 * The guest's IDT limit is 0, so every `int n` finds no vector in the interrupt table and raises #GP
 * (Intel SDM Vol. 3 §20.1.4); the exception bitmap makes #GP exit. The exit says what was being
 * delivered: VMCS_RO_IDT_VECTOR_INFO holds the software interrupt (vector n, type 4) and
 * VMCS_RO_VMEXIT_INSTR_LEN the length of the `int` (SDM §28.2.4). The VMM serves the interrupt like DOS
 * int 21h (AH=02h print DL, AH=30h version in AL, AH=4Ch exit with AL) and moves RIP past the `int`.
 *
 * Runs on libhvspec-model (the KVM provider cannot show guest exceptions: KVM handles them itself).
 *   cc x86-realmode-int.c $(npx hvspec cflags) $(npx hvspec libs --backend model) -lpthread
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
#define MESSAGE 0x1100
#define VERSION 5

/* 16-bit real-mode code at 0000:1000:
 *   1000: be 00 11   mov si, 0x1100
 *   1003: 8a 14      mov dl, [si]
 *   1005: 80 fa 00   cmp dl, 0
 *   1008: 74 07      je 1011
 *   100a: b4 02      mov ah, 2          ; print DL
 *   100c: cd 21      int 0x21
 *   100e: 46         inc si
 *   100f: eb f2      jmp 1003
 *   1011: b4 30      mov ah, 0x30       ; version → AL
 *   1013: cd 21      int 0x21
 *   1015: 88 c2      mov dl, al
 *   1017: 80 c2 30   add dl, '0'
 *   101a: b4 02      mov ah, 2
 *   101c: cd 21      int 0x21
 *   101e: b8 2a 4c   mov ax, 0x4c2a     ; exit with 42
 *   1021: cd 21      int 0x21
 *   1023: f4         hlt                ; not reached */
static const uint8_t guest[] = {0xbe, 0x00, 0x11, 0x8a, 0x14, 0x80, 0xfa, 0x00, 0x74, 0x07, 0xb4, 0x02,
                                0xcd, 0x21, 0x46, 0xeb, 0xf2, 0xb4, 0x30, 0xcd, 0x21, 0x88, 0xc2, 0x80,
                                0xc2, 0x30, 0xb4, 0x02, 0xcd, 0x21, 0xb8, 0x2a, 0x4c, 0xcd, 0x21, 0xf4};
static const char message[] = "hello from real mode, version ";

static char console[64];
static size_t console_len;
static int exit_code = -1, services;

/* int 21h. Returns 1 when the guest exits. */
static int dos(hv_vcpuid_t vcpu) {
  uint64_t rax = rreg(vcpu, HV_X86_RAX);
  unsigned ah = (unsigned)(rax >> 8) & 0xff;
  services++;
  switch (ah) {
    case 0x02:
      if (console_len + 1 < sizeof console) console[console_len++] = (char)(rreg(vcpu, HV_X86_RDX) & 0xff);
      return 0;
    case 0x30:
      wreg(vcpu, HV_X86_RAX, (rax & ~0xffffull) | VERSION);
      return 0;
    case 0x4c:
      exit_code = (int)(rax & 0xff);
      return 1;
    default:
      fprintf(stderr, "int 21h: unknown service AH=%02x\n", ah);
      exit(1);
  }
}

static void *vcpu_thread(void *arg) {
  (void)arg;
  hv_vcpuid_t vcpu;
  CHECK(hv_vcpu_create(&vcpu, HV_VCPU_DEFAULT));
  /* Real mode as Apple's own x86 test sets it up (hvf-facts.md §1.8), with an IDT limit of 0 so that
   * software interrupts come to the VMM. */
  setup_real_mode(vcpu, CODE);
  wreg(vcpu, HV_X86_RSP, 0x8000);
  for (int done = 0; !done;) {
    CHECK(hv_vcpu_run_until(vcpu, HV_DEADLINE_FOREVER));
    uint64_t reason = rvmcs(vcpu, VMCS_RO_EXIT_REASON) & 0xffff;
    if (reason == VMX_REASON_IRQ) continue;
    if (reason != VMX_REASON_EXC_NMI) {
      fprintf(stderr, "unexpected exit reason %llu at RIP 0x%llx\n", (unsigned long long)reason,
              (unsigned long long)rreg(vcpu, HV_X86_RIP));
      exit(1);
    }
    uint64_t irq = rvmcs(vcpu, VMCS_RO_VMEXIT_IRQ_INFO);
    uint64_t idt = rvmcs(vcpu, VMCS_RO_IDT_VECTOR_INFO);
    /* #GP while delivering a software interrupt: the interrupt is the service request. */
    int gp = (irq & IRQ_INFO_VALID) && (irq & 0xff) == 13;
    int soft = (idt & IRQ_INFO_VALID) && (idt & 0x700) == IRQ_INFO_SOFT_IRQ;
    if (!gp || !soft) {
      fprintf(stderr, "unexpected exception: interruption 0x%llx, IDT vectoring 0x%llx\n", (unsigned long long)irq,
              (unsigned long long)idt);
      exit(1);
    }
    unsigned vector = (unsigned)(idt & 0xff);
    if (vector != 0x21) {
      fprintf(stderr, "unexpected int 0x%x\n", vector);
      exit(1);
    }
    done = dos(vcpu);
    /* The framework leaves RIP at the int (hvf-facts.md §1.7); its length is in the exit. */
    wreg(vcpu, HV_X86_RIP, rreg(vcpu, HV_X86_RIP) + rvmcs(vcpu, VMCS_RO_VMEXIT_INSTR_LEN));
  }
  CHECK(hv_vcpu_destroy(vcpu));
  return NULL;
}

int main(void) {
  uint8_t *ram = create_vm_with_ram(RAM_SIZE, guest, sizeof guest, CODE);
  memcpy(ram + MESSAGE, message, sizeof message);
  run_vcpu_thread(vcpu_thread);
  destroy_vm(RAM_SIZE);
  console[console_len] = '\0';
  printf("console: %s\nexit code: %d\nservices: %d\n", console, exit_code, services);
  int ok = console_len == strlen(message) + 1 && memcmp(console, message, strlen(message)) == 0 &&
           console[console_len - 1] == '0' + VERSION && exit_code == 42;
  printf("%s\n", ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
