#!/usr/bin/env bash
# Issue 21's table: for each model and kernel family, dossier (DOSSIER_KERNELS forcing the
# family) against llama.cpp, alternated in one run by bench/llm/llamacpp.py.
#
#     bench/llm/families.sh [DOSSIER_BINARY] [OUT_DIR]      # FAMILIES="avx2 candle" ROUNDS=2
#
# Writes OUT_DIR/<model>-<family>.json (llamacpp.py's JSON, llama.cpp's system info included)
# and .uptime (the load before and after), and prints one line per round.
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${1:-${CARGO_TARGET_DIR:-$HOME/.cache/dossier-target}/debug/dossier}
OUT=${2:-target/bench-llm-families}
ROUNDS=${ROUNDS:-2}
FAMILIES=${FAMILIES:-"avx2 candle"}
MODELS=${MODELS:-"SmolLM2-135M-Instruct.Q4_1.q8_0 gemma-3-270m-q4_k_m.q8_0"}
PY=${LLAMACPP_PYTHON:-$HOME/.cache/dossier-llamacpp-venv/bin/python}
mkdir -p "$OUT"
for model in $MODELS; do
  for family in $FAMILIES; do
    uptime > "$OUT/$model-$family.uptime"
    "$PY" bench/llm/llamacpp.py --dossier "$B" --gguf "models/llm/$model.gguf" --kernels "$family" \
      --threads 2 --rounds "$ROUNDS" --runs 2 --tokens 64 > "$OUT/$model-$family.json"
    uptime >> "$OUT/$model-$family.uptime"
    python3 - "$OUT/$model-$family.json" "$model" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for r in d["rounds"]:
    ds, lc = r["dossier"], r["llama_cpp"]
    print(sys.argv[2], ds["kernels"],
          "dossier %.1f/%.1f" % (ds["prompt_tokens_per_second"], ds["generation_tokens_per_second"]),
          "llama.cpp %.1f/%.1f" % (lc["prompt_tokens_per_second"], lc["generation_tokens_per_second"]),
          "ratio %.2f/%.2f" % (r["prompt_ratio"], r["generation_ratio"]))
PY
  done
done
