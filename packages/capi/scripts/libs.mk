# Builds hvspec's C libraries and the model server's addon into dist/ (run by the package build from the
# package directory, `make -f scripts/libs.mk`, after scripts/generate.ts has written dist/generated/ from
# the spec's registry; in scripts/ so that turbo's build inputs cover it):
#   dist/lib/libhvspec-kvm.so            the KVM provider (x86) behind the recording front
#   dist/lib/libhvspec-model-x86_64.so   the model server's x86 hv_* behind the recording front
#   dist/lib/libhvspec-model-arm64.so    the same for the arm64 flavour
#   dist/lib/hvspec_server.node          the model server's addon
CC ?= cc
CXX ?= c++
NODE ?= node
OUT := dist
GEN := $(OUT)/generated
OBJ := $(OUT)/obj
LIB := $(OUT)/lib
NATIVE := ../native
# The provider's source list is the native package's (its build uses the same script).
PROVIDER := $(addprefix $(NATIVE)/,$(shell $(NODE) $(NATIVE)/scripts/provider-sources.cjs))
# vmcs_fields.inc: the spec's VMCS field list, generated with the native package's headers.
PROVIDER_HDRS := $(wildcard $(NATIVE)/provider/*.h) $(wildcard $(NATIVE)/include/hvspec/*.h) \
  $(wildcard $(NATIVE)/addon/generated/vmcs_fields.inc)
API_HDRS := $(wildcard $(NATIVE)/include/Hypervisor/*.h)
NODE_INCLUDE := $(or $(npm_config_nodedir),$(shell $(NODE) -p "require('path').resolve(process.execPath, '../..')"))/include/node
SERVER := $(abspath $(OUT)/server/main.js)
NODE_PATH_ABS := $(shell $(NODE) -p process.execPath)

# Extra compiler and linker flags for every object and library (scripts/sanitize.sh at the repository
# root builds them with -fsanitize=... into its own OBJ and LIB directories).
EXTRA_FLAGS ?=

WARN := -Wall -Wextra -Werror -Wno-unused-parameter
CFLAGS_LIB := -std=gnu11 -O2 -g -fPIC -fvisibility=hidden -pthread $(WARN) -I$(NATIVE)/include -I$(GEN) -Isrc/c $(EXTRA_FLAGS)
CXXFLAGS_PROVIDER := -std=c++17 -O2 -g -fPIC -fvisibility=hidden -pthread -Wall -Wextra -Werror \
  -include $(GEN)/kvm_rename.h -I$(NATIVE)/include -I$(NATIVE)/provider $(EXTRA_FLAGS)
# -z defs: a library missing an hv_* implementation fails to link, not at the VMM's first call.
LDFLAGS_LIB := -shared -pthread -Wl,-z,defs -Wl,-z,now -Wl,--version-script=src/c/exports.map $(EXTRA_FLAGS)

.PHONY: all clean
all: $(LIB)/libhvspec-kvm.so $(LIB)/libhvspec-model-x86_64.so $(LIB)/libhvspec-model-arm64.so $(LIB)/hvspec_server.node

COMMON_C := src/c/hvspec_capi.h src/c/recorder.h $(GEN)/mailbox.h $(API_HDRS) src/c/exports.map

$(OBJ)/provider/%.o: $(NATIVE)/provider/%.cc $(PROVIDER_HDRS) $(API_HDRS) $(GEN)/kvm_rename.h
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS_PROVIDER) -c $< -o $@

$(OBJ)/recorder.o: src/c/recorder.c $(COMMON_C)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_LIB) -c $< -o $@

$(OBJ)/%/front.o: $(GEN)/front_%.c $(GEN)/calls_%.h $(COMMON_C)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_LIB) -DHVSPEC_API_$(if $(filter arm64,$*),ARM64,X86_64) -c $< -o $@

$(OBJ)/%/model.o: $(GEN)/model_%.c $(GEN)/calls_%.h src/c/model/client.h $(COMMON_C)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_LIB) -DHVSPEC_API_$(if $(filter arm64,$*),ARM64,X86_64) -c $< -o $@

$(OBJ)/%/custom.o: src/c/model/custom_%.c $(GEN)/calls_%.h src/c/model/client.h $(COMMON_C)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_LIB) -DHVSPEC_API_$(if $(filter arm64,$*),ARM64,X86_64) -c $< -o $@

$(OBJ)/%/client.o: src/c/model/client.c $(GEN)/calls_%.h src/c/model/client.h $(COMMON_C)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_LIB) -DHVSPEC_API_$(if $(filter arm64,$*),ARM64,X86_64) \
	  -DHVSPEC_CALLS_HEADER='"calls_$*.h"' -DHVSPEC_DEFAULT_NODE='"$(NODE_PATH_ABS)"' \
	  -DHVSPEC_DEFAULT_SERVER='"$(SERVER)"' -c $< -o $@

$(OBJ)/model_lib.o: src/c/model/lib.c $(COMMON_C)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_LIB) -c $< -o $@

$(OBJ)/kvm_lib.o: src/c/kvm_lib.c $(COMMON_C)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_LIB) -c $< -o $@

PROVIDER_OBJS := $(patsubst $(NATIVE)/provider/%.cc,$(OBJ)/provider/%.o,$(PROVIDER))

$(LIB)/libhvspec-kvm.so: $(OBJ)/x86_64/front.o $(OBJ)/recorder.o $(OBJ)/kvm_lib.o $(PROVIDER_OBJS)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS_LIB) -Wl,-soname,libhvspec-kvm.so -o $@ $^

$(LIB)/libhvspec-model-%.so: $(OBJ)/%/front.o $(OBJ)/%/model.o $(OBJ)/%/custom.o $(OBJ)/%/client.o $(OBJ)/recorder.o $(OBJ)/model_lib.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_LIB) -Wl,-soname,libhvspec-model-$*.so -o $@ $^

$(LIB)/hvspec_server.node: src/c/server/addon.c $(GEN)/mailbox.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -fPIC -shared -pthread $(WARN) $(EXTRA_FLAGS) -DNODE_GYP_MODULE_NAME=hvspec_server \
	  -DNAPI_VERSION=8 -I$(NODE_INCLUDE) -I$(GEN) -o $@ $<

clean:
	rm -rf $(OBJ) $(LIB)
