/*
 * interpose.c — the recording layer on macOS, over the real Hypervisor.framework: built as a dylib with
 * the generated front in interposer form (-DHVSPEC_INTERPOSE), loaded into an unmodified VMM with
 * DYLD_INSERT_LIBRARIES, it records every hv_* call the VMM makes in the same trace format as the Linux
 * libraries (HVSPEC_TRACE=FILE), for `hvspec lint`. Build (on a Mac; not run by this project):
 *
 *   cc -dynamiclib -O2 -mmacosx-version-min="$(sw_vers -productVersion)" -DHVSPEC_INTERPOSE \
 *      -DHVSPEC_API_ARM64 -Idist/generated -Isrc/c \
 *      dist/generated/front_arm64.c src/c/recorder.c src/c/macos/interpose.c \
 *      -framework Hypervisor -o libhvspec-interpose.dylib
 *   HVSPEC_TRACE=t.json DYLD_INSERT_LIBRARIES=$PWD/libhvspec-interpose.dylib ./vmm
 *
 * (x86_64 on Intel Macs: front_x86_64.c and -DHVSPEC_API_X86_64.) The deployment target decides which
 * functions are wrapped (HVSPEC_INTERPOSE_HAS in the front): the running macOS's own version wraps every
 * function it has, and the SDK must be at least that new. The VMM must not be built with the hardened
 * runtime's library validation, or dyld ignores DYLD_INSERT_LIBRARIES.
 */
#include "recorder.h"

const char *const hvspec_rec_library = "the hvspec interposer over Hypervisor.framework";
