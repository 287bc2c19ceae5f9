#!/bin/sh
# The native code under AddressSanitizer and UndefinedBehaviorSanitizer (gcc's runtimes), every finding
# fatal (README, "Sanitizers"). Builds, outside the checkout (in $HVSPEC_SANITIZE_DIR, default
# ${TMPDIR:-/tmp}/hvspec-sanitize):
#   - the KVM provider's unit and provider tests, and runs them (make -C packages/native/provider sanitize);
#   - the Node addon (addon/ and provider/), and runs the native tests on it: the addon and provider
#     faults, the fuzzer (test/fixtures/fuzz-addon.mjs), the conformance properties, teardown at exit;
#     then the command line's replay of the example traces on it;
#   - the C libraries (libhvspec-kvm, libhvspec-model-{x86_64,arm64}, the model server's addon), and
#     runs the C library tests on them: the C examples on each library they run on, the model server's
#     lifecycle tests.
# Usage: scripts/sanitize.sh [step...]   steps: provider addon capi (default: all three)
# Needs a built checkout (npm ci) and, for the hardware parts, /dev/kvm; installs libasan/libubsan from
# Debian when gcc has no sanitizer runtime.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
work=${HVSPEC_SANITIZE_DIR:-${TMPDIR:-/tmp}/hvspec-sanitize}
steps=${*:-provider addon capi}
say() { printf '\nsanitize: %s\n' "$*"; }

asan=$(gcc -print-file-name=libasan.so)
if [ ! -e "$asan" ] || [ ! -e "$(gcc -print-file-name=libubsan.so)" ]; then
  say "gcc has no ASan/UBSan runtime: installing it from Debian"
  # libgcc-N-dev holds gcc N's libasan.so/libubsan.so links and depends on the runtimes.
  apt-get update -qq && apt-get install -y -qq "libgcc-$(gcc -dumpversion | cut -d. -f1)-dev" >/dev/null
  asan=$(gcc -print-file-name=libasan.so)
fi
asan=$(readlink -f "$asan")

# -O1 keeps stack traces honest; vptr needs RTTI, which node-gyp turns off.
san="-fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1"

# Node-side environment: the ASan runtime preloaded into every process (node is not instrumented, and
# instrumented modules need the runtime loaded first), so that children inherit it as well. Compilers,
# shells and make leak by design, so LeakSanitizer's exit check is off for all of them; each of
# hvspec's instrumented modules registers the check itself in the processes that load it
# (__lsan_do_leak_check at exit: addon/module.cc, the C libraries' recorder.c, the server addon).
san_env() {
  LD_PRELOAD=$asan \
    ASAN_OPTIONS=detect_leaks=1:leak_check_at_exit=0:halt_on_error=1:abort_on_error=0:allow_user_segv_handler=1:detect_stack_use_after_return=0 \
    LSAN_OPTIONS=suppressions=$root/scripts/sanitize-node.supp:print_suppressions=0 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$@"
}

gyp=${npm_config_node_gyp:-$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js}

provider() {
  say "the KVM provider's tests (make -C packages/native/provider sanitize)"
  make -C "$root/packages/native/provider" sanitize
}

addon() {
  say "the Node addon with ASan+UBSan in $work/native"
  # A tree of links to the package's sources, so that node-gyp's build/ is not the package's own.
  mkdir -p "$work/native"
  for f in addon provider include scripts binding.gyp; do ln -sfn "$root/packages/native/$f" "$work/native/$f"; done
  ln -sfn "$root/node_modules" "$work/native/node_modules"
  (cd "$work/native" && CXXFLAGS="$san" LDFLAGS="-fsanitize=address,undefined" node "$gyp" rebuild --nodedir="$(npm config get nodedir)" >"$work/native-build.log" 2>&1) ||
    { tail -40 "$work/native-build.log"; exit 1; }
  addon_path=$work/native/build/Release/hvspec_native.node
  say "native tests on the instrumented addon"
  (cd "$root/packages/native" && HVSPEC_NATIVE_ADDON=$addon_path san_env node --import tsx --test test/*.test.ts)
  say "hvspec replay of the example traces on the instrumented addon"
  (cd "$root/packages/cli" && HVSPEC_NATIVE_ADDON=$addon_path san_env node --import tsx --test test/replay.test.ts test/example-traces.test.ts)
}

capi() {
  say "the C libraries with ASan+UBSan in $work/capi"
  (cd "$root/packages/capi" && make -s -j2 -f scripts/libs.mk OBJ="$work/capi/obj" LIB="$work/capi/lib" \
    SERVER="$root/packages/capi/dist/server/main.js" EXTRA_FLAGS="$san")
  say "C library tests (the examples on each library, the model server) on the instrumented libraries"
  (cd "$root/packages/capi" && HVSPEC_CAPI_LIB_DIR=$work/capi/lib HVSPEC_SERVER_ADDON=$work/capi/lib/hvspec_server.node \
    san_env node --import tsx --test test/examples.test.ts test/model-library.test.ts)
}

for step in $steps; do
  case $step in
    provider | addon | capi) $step ;;
    *) echo "sanitize: unknown step '$step' (provider, addon, capi)" >&2; exit 2 ;;
  esac
done
say "clean: no sanitizer finding in: $steps"
