/* Stand-in for macOS <sys/sysctl.h> (syntax-only check on Linux): the one call the addon makes. */
#ifndef HVSPEC_SHIM_SYS_SYSCTL_H
#define HVSPEC_SHIM_SYS_SYSCTL_H
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif
int sysctlbyname(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);
#ifdef __cplusplus
}
#endif
#endif
