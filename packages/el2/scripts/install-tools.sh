#!/usr/bin/env bash
# Installs what the el2 backend needs when it is missing, from Debian: qemu-system-aarch64 (package
# qemu-system-arm) and the aarch64 cross compiler that builds the EL2 runtime (gcc-aarch64-linux-gnu).
# As root with apt-get it installs them; otherwise it says what to run and exits 0 (the el2 tests then
# skip, saying why, and `hvspec doctor` reports el2 unavailable with the same command).
set -euo pipefail
missing=()
command -v qemu-system-aarch64 >/dev/null 2>&1 || missing+=(qemu-system-arm)
command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || missing+=(gcc-aarch64-linux-gnu)
command -v setpriv >/dev/null 2>&1 || missing+=(util-linux)
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "el2: installing ${missing[*]} from Debian" >&2
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
else
  echo "el2: missing ${missing[*]}; as root run: apt-get update && apt-get install -y qemu-system-arm gcc-aarch64-linux-gnu" >&2
fi
