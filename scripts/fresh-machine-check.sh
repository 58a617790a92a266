#!/usr/bin/env bash
# Proves that the README's set-up works on a machine that has nothing: a minimal Debian root
# (debootstrap --variant=minbase) with only the Rust toolchain bind-mounted in, a clean clone of
# the commit under test, an empty CARGO_HOME and an empty target directory.
#
#     scripts/fresh-machine-check.sh [--rev REV] [quick|build-scripts|demo]
#
#   quick          (default; `make test` runs it) the commit's scripts/setup-system.sh, then
#                  the prerequisites used the way the build uses them: protoc compiles every
#                  .proto of the lance crates in Cargo.lock, cc and c++ compile and link, a venv
#                  with pip is made, unzip and poppler run. A few minutes, mostly downloads.
#   build-scripts  quick, then `make models` and `cargo build` of the crates whose build
#                  scripts need system tools (onig, esaxx, zstd, lz4, ring, aws-lc, prost) from
#                  an empty target directory.
#   demo           quick, then a cold `make demo` to a cited answer; prints its wall time
#                  (the figure in BENCHMARKS.md). On 2 cores this is the long one.
#
# --rev REV tests another commit (e.g. the one before a fix: it must fail where the fix passes).
# Needs root (debootstrap, chroot, mounts in a private mount namespace) and Debian's package
# mirror, read from this machine's apt sources. DOSSIER_FRESH_ROOT (default
# /var/tmp/dossier-fresh) holds the root, rebuilt from scratch on every run; downloaded .debs are
# kept in DOSSIER_FRESH_CACHE (default ~/.cache/dossier-fresh) so reruns download less, but every
# package is unpacked and installed anew.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rev=HEAD
stage=quick
while [ $# -gt 0 ]; do
  case "$1" in
    --rev) rev=$2; shift 2 ;;
    quick|build-scripts|demo) stage=$1; shift ;;
    *) echo "usage: $0 [--rev REV] [quick|build-scripts|demo]" >&2; exit 2 ;;
  esac
done

root=${DOSSIER_FRESH_ROOT:-/var/tmp/dossier-fresh}
cache=${DOSSIER_FRESH_CACHE:-$HOME/.cache/dossier-fresh}
say() { echo "fresh-check: $*" >&2; }
fail() { say "FAIL: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap, chroot, bind mounts)"
if ! command -v debootstrap >/dev/null; then
  say "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

# The first Debian mirror this machine's apt uses (deb822 or one-line sources).
mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n1 || true)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $0 !~ /security/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$mirror" ] || fail "no Debian mirror found in /etc/apt/sources.list*"
suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")

rustup_home=${RUSTUP_HOME:-$HOME/.rustup}
cargo_bin=$(dirname "$(command -v cargo)")
[ -d "$rustup_home/toolchains" ] || fail "no rustup toolchain at $rustup_home"
toolchain=$(rustup show active-toolchain 2>/dev/null | cut -d' ' -f1)

commit=$(git -C "$here" rev-parse --verify "$rev^{commit}") || fail "no commit $rev"
say "commit $(git -C "$here" log -1 --format='%h %s' "$commit" | cut -c1-100)"
say "stage $stage; root $root; $suite from the host's mirror"

start=$(date +%s)
rm -rf "$root"
mkdir -p "$root" "$cache/debs"
debootstrap --variant=minbase --cache-dir="$cache/debs" "$suite" "$root" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
  { tail -n 20 "$cache/debootstrap.log" >&2; fail "debootstrap"; }
say "minimal root in $(($(date +%s) - start)) s ($(du -sh "$root" | cut -f1))"

# The root's apt uses the host's sources (same mirror, security updates included).
rm -f "$root/etc/apt/sources.list"
cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/" 2>/dev/null ||
  cp /etc/apt/sources.list "$root/etc/apt/sources.list"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# pip in the root trusts what pip on this host trusts (a registry mirror's CA, if any).
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/host-ca.crt" 2>/dev/null || true

# A clean clone of the commit: no models, no target, no eval cache.
git clone -q --no-local --no-checkout "$here" "$root/root/dossier"
git -C "$root/root/dossier" checkout -q --detach "$commit"

# What runs inside the root, as root, with only the toolchain from outside.
cat >"$root/root/inside.sh" <<'INSIDE'
set -euo pipefail
say() { echo "fresh-check (inside): $*" >&2; }
fail() { say "FAIL: $*"; exit 1; }
cd /root/dossier
t0=$(date +%s)
scripts/setup-system.sh || fail "scripts/setup-system.sh exited $?"
say "scripts/setup-system.sh done in $(($(date +%s) - t0)) s"

# The prerequisites, used as the build uses them (independent of the commit's own script).
cargo fetch --locked -q || fail "cargo fetch"
reg=$(ls -d "$CARGO_HOME"/registry/src/*/ | head -n1)
work=$(mktemp -d)
protos=0
for crate in $(cargo metadata --format-version 1 --locked 2>/dev/null | python3 -c '
import json, sys
for p in json.load(sys.stdin)["packages"]:
    if p["name"].startswith("lance"):
        print(p["name"] + "-" + p["version"])'); do
  dir="$reg/$crate/protos"
  [ -d "$dir" ] || continue
  for proto in "$dir"/*.proto; do
    protoc --experimental_allow_proto3_optional --include_imports --include_source_info \
      -I"$dir" -o "$work/out.pb" "$proto" 2>"$work/protoc.err" ||
      { cat "$work/protoc.err" >&2; fail "protoc cannot compile $crate/protos/$(basename "$proto")"; }
    protos=$((protos + 1))
  done
done
[ "$protos" -gt 0 ] || fail "found no lance .proto files to compile"
say "protoc compiled $protos .proto files of the lance crates"
printf '#include <stdio.h>\nint main(void) { puts("ok"); return 0; }\n' >"$work/t.c"
cc "$work/t.c" -o "$work/t" && "$work/t" >/dev/null || fail "cc cannot compile and link C"
printf '#include <string>\nint main() { std::string s("ok"); return s.size() == 2 ? 0 : 1; }\n' >"$work/t.cpp"
c++ "$work/t.cpp" -o "$work/tpp" && "$work/tpp" || fail "c++ cannot compile and link C++"
python3 -m venv "$work/venv" && "$work/venv/bin/python" -m pip --version >/dev/null || fail "python3 -m venv gives no venv with pip"
python3 -m pip --version >/dev/null || fail "no pip for python3"
unzip -v >/dev/null || fail "no unzip"
pdftotext -v 2>/dev/null && pdftoppm -v 2>/dev/null || fail "no poppler (pdftotext, pdftoppm)"
say "cc, c++, venv + pip, unzip, poppler work"

case "$STAGE" in
  build-scripts)
    t0=$(date +%s)
    make models >/dev/null || fail "make models"
    say "make models done in $(($(date +%s) - t0)) s"
    t0=$(date +%s)
    cargo build --locked -q -p onig_sys -p esaxx-rs -p zstd-sys -p lz4-sys -p ring -p aws-lc-sys -p prost-build ||
      fail "cargo build of the crates with native build scripts"
    say "native build scripts built from an empty target in $(($(date +%s) - t0)) s"
    ;;
  demo)
    t0=$(date +%s)
    make demo >"$work/demo.out" || { tail -n 40 "$work/demo.out" >&2; fail "make demo"; }
    cat "$work/demo.out"
    grep -q 'Sources:' "$work/demo.out" || fail "make demo printed no cited answer"
    say "cold make demo (set-up, models, build, ingest, ask) in $(($(date +%s) - t0)) s"
    ;;
esac
INSIDE

# A private mount namespace: the mounts go away with this process, whatever happens.
status=0
unshare --mount --propagation private bash -euo pipefail -c '
  root=$1 rustup_home=$2 cargo_bin=$3
  mount -t proc proc "$root/proc"
  mount --rbind /dev "$root/dev"
  mkdir -p "$root/opt/rustup" "$root/opt/cargo-bin"
  mount --bind -o ro "$rustup_home" "$root/opt/rustup"
  mount --bind -o ro "$cargo_bin" "$root/opt/cargo-bin"
  exec chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
    PATH=/opt/cargo-bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    RUSTUP_HOME=/opt/rustup RUSTUP_TOOLCHAIN="$4" RUSTUP_AUTO_INSTALL=0 CARGO_HOME=/root/.cargo \
    CARGO_TERM_COLOR=never PIP_CERT=/etc/host-ca.crt CARGO_HTTP_CAINFO=/etc/host-ca.crt \
    PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=180 STAGE="$5" \
    bash /root/inside.sh
' fresh-check "$root" "$rustup_home" "$cargo_bin" "$toolchain" "$stage" || status=$?

if [ "$status" -ne 0 ]; then
  say "FAILED after $(($(date +%s) - start)) s (commit ${commit:0:10}, stage $stage)"
  exit 1
fi
say "PASSED in $(($(date +%s) - start)) s (commit ${commit:0:10}, stage $stage)"
rm -rf "$root"
