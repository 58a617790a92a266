#!/usr/bin/env bash
# Ingest benchmarks (BENCHMARKS.md, "Ingest"): a 10,000-page synthetic corpus (1,000 files of
# 10 pages): full ingest with peak RSS, re-ingest of the unchanged folder, delete of one
# document and of 100, prune of 100 deleted files, optimize.
# usage: bench/ingest/run.sh [DOSSIER_BINARY] [WORK_DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:-${CARGO_TARGET_DIR:-$HOME/.cache/dossier-target}/debug/dossier}"
work="${2:-/tmp/dossier-bench-ingest}"
export DOSSIER_MODELS="${DOSSIER_MODELS:-$here/../../models}"
rm -rf "$work"; mkdir -p "$work"
python3 "$here/make_corpus.py" "$work/corpus" 1000 10 60
store="$work/store"
t() { local s=$(date +%s.%N); "$@"; echo "$(echo "$(date +%s.%N) - $s" | bc) s: ${*: -3}" >&2; }
/usr/bin/time -v "$bin" --store "$store" ingest --json "$work/corpus" > "$work/ingest.json" 2> "$work/ingest.err"
grep -E "Maximum resident|Elapsed" "$work/ingest.err"
python3 -c "import json;s=json.load(open('$work/ingest.json'))['summary'];print({k:s[k] for k in ('files','added','pages','chunks','seconds','chunks_per_second','embed_seconds','commits','optimized')})"
t "$bin" --store "$store" ingest --json "$work/corpus" > "$work/reingest.json"
python3 -c "import json;s=json.load(open('$work/reingest.json'))['summary'];print('re-ingest', {k:s[k] for k in ('files','unchanged','seconds')})"
"$bin" --store "$store" check | head -3
t "$bin" --store "$store" rm "$work/corpus/doc-00000.pdf" 2>/dev/null
t "$bin" --store "$store" rm $(printf "$work/corpus/doc-%05d.pdf " $(seq 1 100)) 2>/dev/null
rm -f "$work"/corpus/doc-001[0-9][0-9].pdf
t "$bin" --store "$store" ingest --prune "$work/corpus" 2>&1 | tail -1
t "$bin" --store "$store" optimize
"$bin" --store "$store" check | head -1
