/* libhvspec-kvm: the KVM provider's hv_* functions behind the recording front. */
#include "recorder.h"

const char *const hvspec_rec_library = "libhvspec-kvm (the KVM provider)";
