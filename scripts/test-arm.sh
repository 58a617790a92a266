#!/usr/bin/env bash
# The LLM kernels' tests on aarch64 (NEON + dot product), cross-compiled and run under
# qemu-user's emulated `max` CPU: `make test-arm`. Installs what it lacks: the rustup target
# aarch64-unknown-linux-gnu and Debian's cross compiler and qemu-user (as root, or says what
# to install). The first run builds dossier-llm's dependencies for aarch64 (about 10
# minutes on two cores); later runs take under a minute.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
  rustup target add aarch64-unknown-linux-gnu
fi
missing=()
command -v aarch64-linux-gnu-gcc >/dev/null || missing+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
command -v aarch64-linux-gnu-g++ >/dev/null || missing+=(g++-aarch64-linux-gnu)
command -v qemu-aarch64 >/dev/null || missing+=(qemu-user)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  else
    echo "test-arm: install ${missing[*]} (sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi

export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export CXX_aarch64_unknown_linux_gnu=aarch64-linux-gnu-g++
export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
# `max` has NEON and the dot-product extension, so the neon-dotprod family runs.
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu -cpu max"
out=$(cargo test -p dossier-llm --lib --target aarch64-unknown-linux-gnu kernels -- --nocapture 2>&1) || {
  echo "$out"
  exit 1
}
echo "$out" | grep -E 'families tested|test result'
# The point of the run: the NEON kernels themselves were exercised, not skipped.
echo "$out" | grep -q 'int8 families tested here: \[NeonDotprod\]'
echo "$out" | grep -q 'attention families tested here: \[NeonDotprod\]'
