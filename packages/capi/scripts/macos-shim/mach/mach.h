/* A stand-in for <mach/mach.h>, only for the syntax-only macOS check on Linux (syntax-check-macos.sh):
 * the declarations recorder.c uses, as Apple's SDK spells them. */
#ifndef HVSPEC_SHIM_MACH_H
#define HVSPEC_SHIM_MACH_H
#include <stdint.h>
typedef int kern_return_t;
typedef unsigned int mach_port_t;
typedef mach_port_t vm_map_t;
typedef uint64_t mach_vm_address_t;
typedef uint64_t mach_vm_size_t;
#define KERN_SUCCESS 0
mach_port_t mach_task_self(void);
const char *getprogname(void);
#endif
