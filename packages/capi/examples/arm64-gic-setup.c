/*
 * arm64-gic-setup.c — how a VMM sets up an Apple Silicon VM with the macOS 15 in-framework GIC, written
 * only against Apple's API: it reads the host's feature registers and cache geometry from a vCPU
 * configuration (no VM needed), takes guest RAM from hv_vm_allocate, creates the GIC between the VM and
 * the first vCPU, gives the vCPU its affinity and finds its redistributor, raises an SPI, and saves and
 * restores the GIC's state before the vCPU first runs, as a snapshot restore does.
 *
 *   cc arm64-gic-setup.c $(hvspec cflags --arch arm64) $(hvspec libs --backend model --arch arm64) -lpthread
 */
#include <Hypervisor/Hypervisor.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv_check.h"

#define RAM_IPA 0x40000000ull
#define RAM_SIZE 0x20000ull
#define GICD_IPA 0x08000000ull
#define GICR_IPA 0x080a0000ull

static void *vcpu_thread(void *arg) {
  hv_vcpu_config_t config = arg;
  hv_vcpu_t vcpu;
  hv_vcpu_exit_t *record;
  CHECK(hv_vcpu_create(&vcpu, &record, config));
  /* The affinity first: the redistributor is found by it (hv_gic.h). */
  CHECK(hv_vcpu_set_sys_reg(vcpu, HV_SYS_REG_MPIDR_EL1, 0x80000000ull));
  hv_ipa_t redistributor;
  CHECK(hv_gic_get_redistributor_base(vcpu, &redistributor));
  printf("redistributor of vcpu %llu at 0x%llx\n", (unsigned long long)vcpu, (unsigned long long)redistributor);
  uint64_t typer;
  CHECK(hv_gic_get_redistributor_reg(vcpu, HV_GIC_REDISTRIBUTOR_REG_GICR_TYPER, &typer));
  printf("GICR_TYPER 0x%llx\n", (unsigned long long)typer);

  /* Save the GIC (not the CPU interface) and restore it, before the vCPU ever runs. */
  hv_gic_state_t state = hv_gic_state_create();
  if (state == NULL) {
    fprintf(stderr, "hv_gic_state_create returned NULL\n");
    exit(1);
  }
  size_t size;
  CHECK(hv_gic_state_get_size(state, &size));
  void *data = malloc(size);
  if (data == NULL) exit(1);
  CHECK(hv_gic_state_get_data(state, data));
  CHECK(hv_gic_set_state(data, size));
  printf("GIC state: %zu bytes, restored\n", size);
  free(data);
  os_release(state);
  CHECK(hv_vcpu_destroy(vcpu));
  return NULL;
}

int main(void) {
  /* The host's vCPU as a configuration describes it: no VM needed. */
  hv_vcpu_config_t config = hv_vcpu_config_create();
  if (config == NULL) return 1;
  uint64_t mmfr0, clidr, ccsidr[8];
  CHECK(hv_vcpu_config_get_feature_reg(config, HV_FEATURE_REG_ID_AA64MMFR0_EL1, &mmfr0));
  CHECK(hv_vcpu_config_get_feature_reg(config, HV_FEATURE_REG_CLIDR_EL1, &clidr));
  CHECK(hv_vcpu_config_get_ccsidr_el1_sys_reg_values(config, HV_CACHE_TYPE_DATA, ccsidr));
  printf("ID_AA64MMFR0_EL1 0x%llx, CLIDR_EL1 0x%llx, L1D CCSIDR_EL1 0x%llx\n", (unsigned long long)mmfr0,
         (unsigned long long)clidr, (unsigned long long)ccsidr[0]);

  CHECK(hv_vm_create(NULL));

  /* Guest RAM from the framework, so that its accounting is right. */
  void *ram;
  CHECK(hv_vm_allocate(&ram, RAM_SIZE, HV_ALLOCATE_DEFAULT));
  memset(ram, 0xd4, 16);
  CHECK(hv_vm_map(ram, RAM_IPA, RAM_SIZE, HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC));

  /* The GIC: after the VM, before any vCPU. */
  size_t dist_align, redist_align;
  CHECK(hv_gic_get_distributor_base_alignment(&dist_align));
  CHECK(hv_gic_get_redistributor_base_alignment(&redist_align));
  if (GICD_IPA % dist_align || GICR_IPA % redist_align) {
    fprintf(stderr, "the layout does not fit this host's GIC alignments\n");
    return 1;
  }
  uint32_t spi_base, spi_count;
  CHECK(hv_gic_get_spi_interrupt_range(&spi_base, &spi_count));
  hv_gic_config_t gic = hv_gic_config_create();
  if (gic == NULL) return 1;
  CHECK(hv_gic_config_set_distributor_base(gic, GICD_IPA));
  CHECK(hv_gic_config_set_redistributor_base(gic, GICR_IPA));
  CHECK(hv_gic_create(gic));
  os_release(gic);
  printf("GIC: SPIs %u..%u\n", spi_base, spi_base + spi_count - 1);

  /* An SPI outside the range is refused; one inside is raised. */
  if (hv_gic_set_spi(spi_base + spi_count, true) != HV_BAD_ARGUMENT) {
    fprintf(stderr, "an SPI outside the range was not HV_BAD_ARGUMENT\n");
    return 1;
  }
  CHECK(hv_gic_set_spi(spi_base, true));
  uint32_t vtimer;
  CHECK(hv_gic_get_intid(HV_GIC_INT_EL1_VIRTUAL_TIMER, &vtimer));
  printf("vtimer INTID %u\n", vtimer);

  pthread_t th;
  if (pthread_create(&th, NULL, vcpu_thread, config) != 0) return 1;
  pthread_join(th, NULL);

  CHECK(hv_vm_unmap(RAM_IPA, RAM_SIZE));
  CHECK(hv_vm_deallocate(ram, RAM_SIZE));
  CHECK(hv_vm_destroy());
  os_release(config);
  puts("ok");
  return 0;
}
