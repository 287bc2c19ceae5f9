/*
 * hv_x86.h — the x86_64 flavour of hvspec's generated <Hypervisor/Hypervisor.h> (include/Hypervisor,
 * generated from the spec's registry), for code that includes the provider's API by this name.
 */
#ifndef HVSPEC_HV_X86_H
#define HVSPEC_HV_X86_H

#if !defined(HVSPEC_API_X86_64) && !defined(HVSPEC_API_ARM64)
#define HVSPEC_API_X86_64 1
#endif
#include "../Hypervisor/Hypervisor.h"

#endif /* HVSPEC_HV_X86_H */
