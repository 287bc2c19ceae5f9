/* libhvspec-model: the model server's hv_* functions behind the recording front. */
#include "recorder.h"

const char *const hvspec_rec_library = "libhvspec-model (the TypeScript model)";
