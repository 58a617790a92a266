#!/usr/bin/env bash
# Fuzz target $2 (default extract: dossier_ingest::pdf::extract; repair:
# dossier_ingest::repair::rebuild) for $1 seconds (default 600) at low priority (FUZZ_NICE,
# default 19).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
target="${2:-extract}"
corpus=fuzz/corpus/$target
mkdir -p "$corpus" tests/fixtures/fuzz
for f in samples/*.pdf samples/eval/pdfs/*.pdf tests/fixtures/*.pdf tests/fixtures/fuzz/*; do
  [ -f "$f" ] || continue
  [ "$(stat -c %s "$f")" -le 65536 ] || continue
  cp -n "$f" "$corpus/" 2>/dev/null || true
done
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/dossier-fuzz}"
export RUSTC_BOOTSTRAP=1
CARGO_BUILD_JOBS=1 nice -n ${FUZZ_NICE:-19} cargo fuzz run "$target" --fuzz-dir fuzz -- \
  -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
  -print_final_stats=1 || status=$?
# Keep every finding as a regression fixture.
for f in fuzz/artifacts/"$target"/*; do
  [ -f "$f" ] || continue
  cp -n "$f" tests/fixtures/fuzz/ && echo "new regression fixture: tests/fixtures/fuzz/$(basename "$f")"
done
exit "${status:-0}"
