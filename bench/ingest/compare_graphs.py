#!/usr/bin/env python3
"""Two or more embedding graphs on the same chunks: speed and agreement (issue 6, 7b).

Chunks are python_reference.py's: each page's pypdf text cut into windows of <= 254 tokens
with 32 overlap, [CLS]/[SEP] around. Every graph embeds every chunk one at a time (batch 1,
dossier's default), the graphs taking turns chunk by chunk so that a change in the machine's
load hits them all alike. Reports chunks/s of wall clock and of process CPU time, and the
cosine of each graph's mean-pooled, normalised vectors to the first graph's.

    ~/.cache/dossier-bench-venv/bin/python bench/ingest/compare_graphs.py \\
        --threads 1 models/embed/model.onnx models/embed/model_quantized.onnx --pdfs PDF...

A graph path ending in `#nospin` is loaded with ONNX Runtime's intra-op spinning off, as
dossier loads it.
"""
import argparse
import os
import time

import numpy as np
import onnxruntime as ort
import pypdf
from tokenizers import Tokenizer

MAX_TOKENS, OVERLAP = 254, 32


def windows(pdfs, tokenizer_path):
    tok = Tokenizer.from_file(tokenizer_path)
    tok.no_truncation()
    tok.no_padding()
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    out = []
    for path in pdfs:
        for page in pypdf.PdfReader(path).pages:
            ids = tok.encode(page.extract_text() or "", add_special_tokens=False).ids
            for start in range(0, max(len(ids) - OVERLAP, 1), MAX_TOKENS - OVERLAP):
                w = ids[start : start + MAX_TOKENS]
                if w:
                    out.append([cls_id] + w + [sep_id])
    return out


def session(spec, threads):
    path, _, flag = spec.partition("#")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    if flag == "nospin":
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def embed(sess, ids):
    ids = np.array([ids], dtype=np.int64)
    hidden = sess.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids),
                             "token_type_ids": np.zeros_like(ids)})[0][0]
    v = hidden.mean(axis=0)
    return v / np.linalg.norm(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("graphs", nargs="+", help="ONNX files; the first is the reference")
    ap.add_argument("--pdfs", nargs="+", required=True)
    ap.add_argument("--tokenizer", default="models/embed/tokenizer.json")
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads, 0 = all cores")
    ap.add_argument("--max-chunks", type=int, default=0, help="0 = all")
    args = ap.parse_args()
    chunks = windows(args.pdfs, args.tokenizer)
    if args.max_chunks:
        chunks = chunks[: args.max_chunks]
    sessions = [session(g, args.threads) for g in args.graphs]
    for s in sessions:  # first-run allocations out of the timing
        embed(s, chunks[0])
    wall = [0.0] * len(sessions)
    cpu = [0.0] * len(sessions)
    vectors = [[] for _ in sessions]
    for ids in chunks:
        for i, s in enumerate(sessions):
            t, c = time.perf_counter(), time.process_time()
            vectors[i].append(embed(s, ids))
            wall[i] += time.perf_counter() - t
            cpu[i] += time.process_time() - c
    first = np.array(vectors[0])
    print(f"{len(chunks)} chunks, {sum(map(len, chunks))} tokens, threads {args.threads or os.cpu_count()}")
    for i, g in enumerate(args.graphs):
        cos = (np.array(vectors[i]) * first).sum(axis=1)
        print(f"{g}: {len(chunks) / wall[i]:.1f} chunks/s wall, {len(chunks) / cpu[i]:.1f} per "
              f"CPU s; cosine to the first: min {cos.min():.4f}, mean {cos.mean():.4f}")


if __name__ == "__main__":
    main()
