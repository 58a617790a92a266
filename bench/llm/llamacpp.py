#!/usr/bin/env python3
"""dossier's generation speed against llama.cpp on the same GGUF and prompt (issue 5, item 7).

Both sides get the same user message (bench/llm/rag-prompt.txt, a RAG prompt of about 450
tokens built from the handbook sample) through the GGUF's own chat template, decode greedily
with no repeat penalty, and generate up to --tokens tokens; each run starts from an empty
KV cache. The GGUF is the Q8_0 file dossier runs (`models/llm/*.q8_0.gguf`, written by
`dossier ask` or `dossier bench-llm` on first use), so both execute the same weights.
Sides alternate for --rounds rounds; each side reports its fastest of --runs runs per
round, and the ratios are dossier / llama.cpp.

llama.cpp comes from llama-cpp-python, built from source by pip (about 20 minutes on two
cores; a benchmark dependency, never a dossier one):
    python3 -m venv ~/.cache/dossier-llamacpp-venv
    ~/.cache/dossier-llamacpp-venv/bin/pip install llama-cpp-python==0.3.36
Run from the repository root (after `cargo build`):
    ~/.cache/dossier-llamacpp-venv/bin/python bench/llm/llamacpp.py \
        --dossier $CARGO_TARGET_DIR/debug/dossier
Prints a JSON object: per round and side prompt tokens, prompt and generation tokens/s.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import time


def llama_cpp_side(model, prompt, tokens, runs, threads):
    import llama_cpp

    best = {"prompt_tokens_per_second": 0.0, "generation_tokens_per_second": 0.0}
    for _ in range(runs):
        llm = llama_cpp.Llama(model_path=model, n_ctx=2048, n_threads=threads,
                              n_threads_batch=threads, n_batch=512, verbose=False)
        start = time.perf_counter()
        # create_chat_completion renders the GGUF's own chat template, as dossier does.
        out = llm.create_chat_completion(
            messages=[{"role": "user", "content": prompt}], max_tokens=tokens,
            temperature=0.0, top_k=1, repeat_penalty=1.0)
        wall = time.perf_counter() - start
        perf = llama_cpp.llama_perf_context(llm._ctx.ctx)
        n_prompt, n_gen = perf.n_p_eval, perf.n_eval
        pp = n_prompt / (perf.t_p_eval_ms / 1000) if perf.t_p_eval_ms else 0.0
        tg = n_gen / (perf.t_eval_ms / 1000) if perf.t_eval_ms else 0.0
        best["prompt_tokens"] = n_prompt
        best["generated_tokens"] = n_gen
        best["completion_tokens"] = out["usage"]["completion_tokens"]
        best["wall_seconds"] = round(wall, 3)
        best["prompt_tokens_per_second"] = max(best["prompt_tokens_per_second"], pp)
        best["generation_tokens_per_second"] = max(best["generation_tokens_per_second"], tg)
        best["answer"] = out["choices"][0]["message"]["content"][:200]
        llm.close()
    best["llama_cpp_python"] = llama_cpp.__version__
    return best


def dossier_side(binary, model, prompt_file, tokens, runs, threads, candle_module=False,
                 kernels=None):
    cmd = [binary, "--threads", str(threads), "bench-llm", "--prompt-file", prompt_file,
           "--tokens", str(tokens), "--runs", str(runs)]
    if model:
        cmd += ["--model", model]
    env = dict(os.environ)
    if candle_module:
        # candle-transformers' quantized_llama instead of dossier's own llama module.
        env["DOSSIER_CANDLE_LLAMA"] = "1"
    if kernels:
        # The highest kernel family dossier may use (its JSON says which one ran).
        env["DOSSIER_KERNELS"] = kernels
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    d = json.loads(out)
    d.pop("runs", None)
    return d


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dossier", required=True, help="the dossier binary")
    ap.add_argument("--models", default="models")
    ap.add_argument("--gguf", help="the GGUF both run (default: models/llm/*.q8_0.gguf)")
    ap.add_argument("--prompt-file", default="bench/llm/rag-prompt.txt")
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--kernels", help="dossier's DOSSIER_KERNELS: the highest CPU kernel "
                    "family it may use (avx512-vnni, avx-vnni, avx2, candle)")
    ap.add_argument("--candle-module", action="store_true",
                    help="also run dossier on candle's own llama module (the reference)")
    args = ap.parse_args()

    prompt = open(args.prompt_file).read().strip()
    gguf = args.gguf
    if not gguf:
        # dossier writes the Q8_0 copy on first use; run it once so the file exists.
        dossier_side(args.dossier, None, args.prompt_file, 1, 1, args.threads)
        found = sorted(glob.glob(os.path.join(args.models, "llm", "*.q8_0.gguf")))
        if not found:
            sys.exit("no *.q8_0.gguf under models/llm/: pass --gguf")
        gguf = found[0]
    rounds = []
    for _ in range(args.rounds):
        d = dossier_side(args.dossier, gguf, args.prompt_file, args.tokens, args.runs,
                         args.threads, kernels=args.kernels)
        l = llama_cpp_side(gguf, prompt, args.tokens, args.runs, args.threads)
        round_ = {
            "dossier": d, "llama_cpp": l,
            "prompt_ratio": d["prompt_tokens_per_second"] / l["prompt_tokens_per_second"],
            "generation_ratio":
                d["generation_tokens_per_second"] / l["generation_tokens_per_second"],
        }
        if args.candle_module:
            c = dossier_side(args.dossier, gguf, args.prompt_file, args.tokens, args.runs,
                             args.threads, candle_module=True)
            round_["dossier_candle_module"] = c
            round_["candle_module_prompt_ratio"] = (
                c["prompt_tokens_per_second"] / l["prompt_tokens_per_second"])
            round_["candle_module_generation_ratio"] = (
                c["generation_tokens_per_second"] / l["generation_tokens_per_second"])
        rounds.append(round_)
    import llama_cpp
    # What llama.cpp was built for (AVX2, AVX512, …), so each ratio says what it compares with.
    system_info = llama_cpp.llama_print_system_info().decode().strip()
    print(json.dumps({"gguf": gguf, "threads": args.threads, "tokens": args.tokens,
                      "llama_cpp_system_info": system_info, "rounds": rounds}, indent=2))


if __name__ == "__main__":
    main()
