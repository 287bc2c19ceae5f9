/* A stand-in for <mach/mach_vm.h> (syntax-only macOS check on Linux). */
#ifndef HVSPEC_SHIM_MACH_VM_H
#define HVSPEC_SHIM_MACH_VM_H
#include "mach.h"
kern_return_t mach_vm_read_overwrite(vm_map_t target_task, mach_vm_address_t address, mach_vm_size_t size,
                                     mach_vm_address_t data, mach_vm_size_t *outsize);
#endif
