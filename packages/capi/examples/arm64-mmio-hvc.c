/*
 * arm64-mmio-hvc.c — a small VMM written only against Apple's Hypervisor.framework API (arm64 flavour).
 *
 * The guest runs at EL1 with the MMU off from IPA 0x10000 in 64 KiB of RAM. It writes a string, byte by
 * byte, to a UART data register at IPA 0x09000000 (not mapped: each store is a data abort the VMM
 * emulates), reads the UART's id register at +4, asks the VMM for the id plus one with a hypercall
 * (HVC #0, function 1 in X0, argument in X4, result in X0), stores the answer at +8 and powers off with
 * hypercall 2. The VMM handles exits as QEMU and libkrun do (hvf-facts.md §2.8): for a data abort it
 * decodes the syndrome (ISV, SAS, SRT, WnR), emulates the access and sets PC += 4; after an HVC the PC
 * is already past the instruction and is left alone.
 *
 * Builds unchanged on macOS (Apple Silicon) against the framework, and on Linux against the model:
 *   cc arm64-mmio-hvc.c $(npx hvspec cflags) $(npx hvspec libs --backend model --arch arm64) -lpthread
 * Prints what the guest did and exits 0 when it is what the guest program says.
 */
#include <Hypervisor/Hypervisor.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hv_check.h"

#define RAM_IPA 0x10000ull
#define RAM_SIZE 0x10000ull
#define MESSAGE (RAM_IPA + 0x100)
#define UART 0x09000000ull /* MMIO: not mapped */
#define UART_DATA 0x0
#define UART_ID 0x4
#define UART_ANSWER 0x8
#define UART_ID_VALUE 0x1234u

/* The guest program, encoded by hand (A64):
 *   10000: d2a12001  movz x1, #0x0900, lsl #16   ; x1 = UART
 *   10004: 100007e2  adr  x2, 10100              ; the message
 *   10008: 38401443  ldrb w3, [x2], #1
 *   1000c: 34000063  cbz  w3, 10018
 *   10010: 39000023  strb w3, [x1]                ; MMIO write: UART data
 *   10014: 17fffffd  b    10008
 *   10018: b9400424  ldr  w4, [x1, #4]            ; MMIO read: UART id
 *   1001c: d2800020  movz x0, #1                  ; hypercall 1: x0 = x4 + 1
 *   10020: d4000002  hvc  #0
 *   10024: b9000820  str  w0, [x1, #8]            ; MMIO write: the answer
 *   10028: d2800040  movz x0, #2                  ; hypercall 2: power off
 *   1002c: d4000002  hvc  #0
 *   10030: 14000000  b    .                        ; not reached */
static const uint32_t guest[] = {
    0xd2a12001, 0x100007e2, 0x38401443, 0x34000063, 0x39000023, 0x17fffffd, 0xb9400424,
    0xd2800020, 0xd4000002, 0xb9000820, 0xd2800040, 0xd4000002, 0x14000000,
};
static const char message[] = "hello from an arm64 guest";

static char console[64];
static size_t console_len;
static uint64_t answer;
static int exits_mmio, exits_hvc;

static uint64_t get(hv_vcpu_t vcpu, hv_reg_t reg) {
  uint64_t v = 0;
  CHECK(hv_vcpu_get_reg(vcpu, reg, &v));
  return v;
}

static void set(hv_vcpu_t vcpu, hv_reg_t reg, uint64_t value) { CHECK(hv_vcpu_set_reg(vcpu, reg, value)); }

/* A data abort at the UART: decode the syndrome (EC 0x24, hvf-facts.md §2.8) and emulate it. */
static void data_abort(hv_vcpu_t vcpu, const hv_vcpu_exit_t *info) {
  uint64_t esr = info->exception.syndrome;
  uint64_t ipa = info->exception.physical_address;
  if (!(esr & (1u << 24))) {
    fprintf(stderr, "data abort without a valid syndrome (ISV = 0) at IPA 0x%llx\n", (unsigned long long)ipa);
    exit(1);
  }
  unsigned size = 1u << ((esr >> 22) & 3);
  unsigned srt = (esr >> 16) & 31;
  int write = (esr >> 6) & 1;
  /* Rt = 31 is XZR here, not SP; and HV_REG_X0 + 31 would be the PC. */
  uint64_t value = write && srt != 31 ? get(vcpu, (hv_reg_t)(HV_REG_X0 + srt)) : 0;
  if (size < 8) value &= (1ull << (8 * size)) - 1;
  if (ipa == UART + UART_DATA && write) {
    if (console_len + 1 < sizeof console) console[console_len++] = (char)value;
  } else if (ipa == UART + UART_ID && !write) {
    if (srt != 31) set(vcpu, (hv_reg_t)(HV_REG_X0 + srt), UART_ID_VALUE);
  } else if (ipa == UART + UART_ANSWER && write) {
    answer = value;
  } else {
    fprintf(stderr, "unexpected %s of %u bytes at IPA 0x%llx\n", write ? "write" : "read", size,
            (unsigned long long)ipa);
    exit(1);
  }
  exits_mmio++;
  /* The framework leaves PC at the access (hvf-facts.md §2.8): the VMM moves it. */
  set(vcpu, HV_REG_PC, get(vcpu, HV_REG_PC) + 4);
}

/* A hypercall. Returns 1 for power off. PC is already after the HVC: not moved. */
static int hypercall(hv_vcpu_t vcpu) {
  uint64_t function = get(vcpu, HV_REG_X0);
  exits_hvc++;
  if (function == 1) {
    set(vcpu, HV_REG_X0, get(vcpu, HV_REG_X4) + 1);
    return 0;
  }
  if (function == 2) return 1;
  fprintf(stderr, "unknown hypercall %llu\n", (unsigned long long)function);
  exit(1);
}

static void *vcpu_thread(void *arg) {
  (void)arg;
  hv_vcpu_t vcpu;
  hv_vcpu_exit_t *exit_info;
  CHECK(hv_vcpu_create(&vcpu, &exit_info, NULL));
  set(vcpu, HV_REG_PC, RAM_IPA);
  set(vcpu, HV_REG_CPSR, 0x3c5); /* EL1h, interrupts masked */
  for (int done = 0; !done;) {
    CHECK(hv_vcpu_run(vcpu));
    switch (exit_info->reason) {
      case HV_EXIT_REASON_CANCELED:
        break;
      case HV_EXIT_REASON_EXCEPTION: {
        unsigned ec = (unsigned)(exit_info->exception.syndrome >> 26) & 0x3f;
        if (ec == 0x24) data_abort(vcpu, exit_info);
        else if (ec == 0x16) done = hypercall(vcpu);
        else {
          fprintf(stderr, "unexpected exception class 0x%x at PC 0x%llx\n", ec,
                  (unsigned long long)get(vcpu, HV_REG_PC));
          exit(1);
        }
        break;
      }
      default:
        fprintf(stderr, "unexpected exit reason %u\n", (unsigned)exit_info->reason);
        exit(1);
    }
  }
  CHECK(hv_vcpu_destroy(vcpu));
  return NULL;
}

int main(void) {
  CHECK(hv_vm_create(NULL));
  uint8_t *ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (ram == MAP_FAILED) return 1;
  memcpy(ram, guest, sizeof guest);
  memcpy(ram + (MESSAGE - RAM_IPA), message, sizeof message);
  CHECK(hv_vm_map(ram, RAM_IPA, RAM_SIZE, HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC));
  pthread_t th;
  if (pthread_create(&th, NULL, vcpu_thread, NULL) != 0) return 1;
  pthread_join(th, NULL);
  CHECK(hv_vm_unmap(RAM_IPA, RAM_SIZE));
  CHECK(hv_vm_destroy());
  console[console_len] = '\0';
  printf("console: %s\nanswer: 0x%llx\nexits: %d MMIO, %d HVC\n", console, (unsigned long long)answer, exits_mmio,
         exits_hvc);
  int ok = strcmp(console, message) == 0 && answer == UART_ID_VALUE + 1;
  printf("%s\n", ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
