/* GENERATED FILE — do not edit. Regenerate with `npm run generate`; a test fails when stale.
 *
 * <Hypervisor/Hypervisor.h> as hvspec declares it: the umbrella header of Apple's Hypervisor.framework
 * API, with Apple's names, types and signatures, for VMMs built on Linux against hvspec's libraries
 * (the KVM provider or the model). The flavour is the target's unless HVSPEC_API_X86_64 or
 * HVSPEC_API_ARM64 is defined (`hvspec cflags --arch x86_64|arm64`). Only the functions the spec
 * models are declared: a VMM calling any other fails to compile, never to run. */
#ifndef HVSPEC_HYPERVISOR_HYPERVISOR_H
#define HVSPEC_HYPERVISOR_HYPERVISOR_H

#include "hv_error.h"
#include "hv_types.h"

#if defined(HVSPEC_API_X86_64)
#include "hv_arch_x86.h"
#include "hv_arch_vmx.h"
#include "hv.h"
#include "hv_vmx.h"
#else
#include "hv_vm_types.h"
#include "hv_vcpu_types.h"
#include "hv_vm.h"
#include "hv_vm_config.h"
#include "hv_vcpu_config.h"
#include "hv_vcpu.h"
#include "hv_gic.h"
#endif

#endif /* HVSPEC_HYPERVISOR_HYPERVISOR_H */
