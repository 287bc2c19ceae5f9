/*
 * x86-io-mmio.c — a small VMM written only against Apple's Hypervisor.framework API (x86_64 flavour).
 *
 * The guest runs in 32-bit protected mode with paging off at 0x1000 in 64 KiB of RAM at guest-physical 0.
 * It prints a string on port 0xE9 (one OUT per byte), reads a device register by MMIO at 0x100000 (not
 * mapped: an EPT violation the VMM emulates), writes the register plus one back at 0x100004, reads port
 * 0x61 with IN and ends with OUT to port 0xF4 with what it read. The VMM runs the vCPU on a thread of
 * its own (a vCPU belongs to the thread that created it) and handles each exit as Apple's own test and
 * QEMU do: after an I/O exit RIP += VMCS_RO_VMEXIT_INSTR_LEN; after an EPT violation it decodes the
 * instruction at RIP itself (the exit's instruction length is not defined for EPT violations) and moves
 * RIP past it.
 *
 * Builds unchanged on macOS (Intel) against the framework, and on Linux against hvspec:
 *   cc x86-io-mmio.c $(npx hvspec cflags) $(npx hvspec libs --backend model) -lpthread
 *   cc x86-io-mmio.c $(npx hvspec cflags) $(npx hvspec libs --backend kvm) -lpthread
 * Prints what the guest did and exits 0 when it is what the guest program says.
 */
#include <Hypervisor/Hypervisor.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "x86_vmm.h"

#define RAM_SIZE 0x10000
#define CODE 0x1000
#define MESSAGE 0x1100
#define DEVICE 0x100000 /* MMIO: not mapped */
#define PORT_CONSOLE 0xe9
#define PORT_STATUS 0x61
#define PORT_EXIT 0xf4

/* The guest program, encoded by hand (IA-32, 32-bit operand size):
 *   1000: be 00 11 00 00   mov esi, MESSAGE
 *   1005: 8a 06            mov al, [esi]
 *   1007: 3c 00            cmp al, 0
 *   1009: 74 05            jz 1010
 *   100b: e6 e9            out 0xe9, al
 *   100d: 46               inc esi
 *   100e: eb f5            jmp 1005
 *   1010: a1 00 00 10 00   mov eax, [DEVICE]        ; MMIO read
 *   1015: 40               inc eax
 *   1016: a3 04 00 10 00   mov [DEVICE + 4], eax    ; MMIO write
 *   101b: ba 61 00 00 00   mov edx, 0x61
 *   1020: ec               in al, dx
 *   1021: e6 f4            out 0xf4, al             ; the end, with the status read
 *   1023: f4               hlt                       ; not reached */
static const uint8_t guest[] = {
    0xbe, 0x00, 0x11, 0x00, 0x00, 0x8a, 0x06, 0x3c, 0x00, 0x74, 0x05, 0xe6, 0xe9, 0x46, 0xeb, 0xf5, 0xa1, 0x00,
    0x00, 0x10, 0x00, 0x40, 0xa3, 0x04, 0x00, 0x10, 0x00, 0xba, 0x61, 0x00, 0x00, 0x00, 0xec, 0xe6, 0xf4, 0xf4,
};
static const char message[] = "hello from the guest";

static uint8_t *ram;
static char console[64];
static size_t console_len;
static uint32_t device_value = 0x41424344, device_written;
static int status_read = -1, exits_io, exits_mmio;

/* Port I/O. Returns 1 when the guest is done. */
static int port_io(hv_vcpuid_t vcpu, uint64_t qual) {
  unsigned port = (unsigned)(qual >> 16) & 0xffff;
  unsigned size = (unsigned)(qual & 7) + 1;
  int in = (qual & 8) != 0;
  uint64_t rax = rreg(vcpu, HV_X86_RAX);
  if (in) {
    uint64_t value = port == PORT_STATUS ? 0x20 : 0xff;
    uint64_t mask = size == 4 ? 0xffffffffull : (1ull << (8 * size)) - 1;
    wreg(vcpu, HV_X86_RAX, (rax & ~mask) | (value & mask));
  } else if (port == PORT_CONSOLE && console_len + 1 < sizeof console) {
    console[console_len++] = (char)rax;
  } else if (port == PORT_EXIT) {
    status_read = (int)(rax & 0xff);
  }
  exits_io++;
  /* The framework leaves RIP at the instruction (hvf-facts.md §1.7): the VMM moves it. */
  wreg(vcpu, HV_X86_RIP, rreg(vcpu, HV_X86_RIP) + rvmcs(vcpu, VMCS_RO_VMEXIT_INSTR_LEN));
  return !in && port == PORT_EXIT;
}

/* MMIO: the device has a register at DEVICE (read) and DEVICE + 4 (write). The VMM decodes the two
 * instructions the guest uses: A1 (mov eax, moffs32) and A3 (mov moffs32, eax), 5 bytes each. */
static void mmio(hv_vcpuid_t vcpu) {
  uint64_t gpa = rvmcs(vcpu, VMCS_GUEST_PHYSICAL_ADDRESS);
  uint64_t qual = rvmcs(vcpu, VMCS_RO_EXIT_QUALIFIC);
  uint64_t rip = rreg(vcpu, HV_X86_RIP);
  if (rip + 5 > RAM_SIZE) {
    fprintf(stderr, "MMIO from RIP 0x%llx outside RAM\n", (unsigned long long)rip);
    exit(1);
  }
  uint8_t op = ram[rip];
  if (op == 0xa1 && (qual & 1) && gpa == DEVICE) {
    wreg(vcpu, HV_X86_RAX, (rreg(vcpu, HV_X86_RAX) & ~0xffffffffull) | device_value);
  } else if (op == 0xa3 && (qual & 2) && gpa == DEVICE + 4) {
    device_written = (uint32_t)rreg(vcpu, HV_X86_RAX);
  } else {
    fprintf(stderr, "unexpected MMIO: opcode 0x%02x at 0x%llx, GPA 0x%llx, qualification 0x%llx\n", op,
            (unsigned long long)rip, (unsigned long long)gpa, (unsigned long long)qual);
    exit(1);
  }
  exits_mmio++;
  wreg(vcpu, HV_X86_RIP, rip + 5);
}

static void *vcpu_thread(void *arg) {
  (void)arg;
  hv_vcpuid_t vcpu;
  CHECK(hv_vcpu_create(&vcpu, HV_VCPU_DEFAULT));
  setup_protected_mode(vcpu, CODE);
  for (int done = 0; !done;) {
    CHECK(hv_vcpu_run_until(vcpu, HV_DEADLINE_FOREVER));
    uint64_t reason = rvmcs(vcpu, VMCS_RO_EXIT_REASON);
    switch (reason & 0xffff) {
      case VMX_REASON_IRQ: /* a host interrupt: run again (hvf-facts.md §1.7) */
        break;
      case VMX_REASON_IO:
        done = port_io(vcpu, rvmcs(vcpu, VMCS_RO_EXIT_QUALIFIC));
        break;
      case VMX_REASON_EPT_VIOLATION:
        mmio(vcpu);
        break;
      default:
        fprintf(stderr, "unexpected exit reason 0x%llx at RIP 0x%llx\n", (unsigned long long)reason,
                (unsigned long long)rreg(vcpu, HV_X86_RIP));
        exit(1);
    }
  }
  CHECK(hv_vcpu_destroy(vcpu));
  return NULL;
}

int main(void) {
  ram = create_vm_with_ram(RAM_SIZE, guest, sizeof guest, CODE);
  memcpy(ram + MESSAGE, message, sizeof message);
  run_vcpu_thread(vcpu_thread);
  destroy_vm(RAM_SIZE);
  console[console_len] = '\0';
  printf("console: %s\nMMIO: read 0x%x, the guest wrote back 0x%x\nstatus port read: 0x%x\nexits: %d I/O, %d MMIO\n",
         console, device_value, device_written, status_read, exits_io, exits_mmio);
  int ok = strcmp(console, message) == 0 && device_written == device_value + 1 && status_read == 0x20;
  printf("%s\n", ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
