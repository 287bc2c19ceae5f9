# The hvspec addon. The addon sources call only the hv_* C API; what provides it differs:
#  - Linux: hvspec's KVM provider (provider/*.cc, listed by scripts/provider-sources.cjs), x86 flavour.
#  - macOS: Hypervisor.framework; x86_64 flavour on Intel, arm64 flavour on Apple Silicon.
{
  "targets": [
    {
      "target_name": "hvspec_native",
      "sources": ["addon/threads.cc", "addon/state.cc", "addon/args.cc", "addon/module.cc", "addon/faults.cc"],
      # hvspec's own include/ (its <Hypervisor/*.h> and <hvspec/*.h>) only on Linux: a -I directory is
      # searched before the SDK's frameworks, so on macOS it would shadow Apple's <Hypervisor/Hypervisor.h>
      # and the addon would lose the framework's availability attributes (weak linking of newer symbols).
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_DISABLE_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
      ],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [
        ["OS=='linux'", {
          "include_dirs": ["include"],
          "sources": [
            "addon/hv_x86_calls.cc",
            "addon/platform_linux.cc",
            "<!@(node scripts/provider-sources.cjs)",
          ],
          "cflags_cc!": ["-fno-exceptions"],
          "libraries": ["-pthread"],
          # Bind every symbol at load time: an addon whose provider lacks an hv_* function must fail
          # to load (a clear error) instead of dying at the first call of the missing function.
          "ldflags": ["-Wl,-z,now"],
        }],
        ["OS=='mac'", {
          "sources": ["addon/platform_macos.cc"],
          "link_settings": { "libraries": ["-framework Hypervisor"] },
          "xcode_settings": {
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "GCC_ENABLE_CPP_EXCEPTIONS": "NO",
          },
          "conditions": [
            ["target_arch=='arm64'", {
              "sources": ["addon/hv_arm64_calls.cc"],
              # hv_vm_config_* are 13.0; newer symbols (IPA granule, 26.0) are weak and checked.
              "xcode_settings": { "MACOSX_DEPLOYMENT_TARGET": "13.0" },
            }, {
              "sources": ["addon/hv_x86_calls.cc"],
              # hv_vcpu_run_until and address spaces are 10.15.
              "xcode_settings": { "MACOSX_DEPLOYMENT_TARGET": "10.15" },
            }],
          ],
        }],
      ],
    },
  ],
}
