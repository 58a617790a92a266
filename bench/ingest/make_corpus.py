#!/usr/bin/env python3
"""A synthetic corpus for ingest benchmarks: FILES PDFs of PAGES pages, each page a
paragraph of ~WORDS words drawn deterministically (seeded) from a fixed vocabulary, so every
file has its own bytes and text. Plain PDF 1.4 with Helvetica, written by hand (no library).

usage: make_corpus.py OUT_DIR FILES PAGES [WORDS]
"""
import random
import sys
from pathlib import Path

VOCAB = (
    "agreement notice party term payment invoice delivery service period renewal liability "
    "patient dose clinic follow-up record discharge admission ward nurse medication "
    "employee leave policy holiday manager training safety equipment handbook benefit "
    "contract clause breach remedy warranty schedule annex confidential data security "
    "report figure table result method sample analysis review summary appendix version"
).split()


def page_stream(rng, words):
    lines, line = [], []
    for _ in range(words):
        line.append(rng.choice(VOCAB))
        if len(line) == 12:
            lines.append(" ".join(line))
            line = []
    if line:
        lines.append(" ".join(line))
    ops = ["BT", "/F1 11 Tf", "14 TL", "72 760 Td"]
    for text in lines:
        ops.append(f"({text}.) Tj T*")
    ops.append("ET")
    return "\n".join(ops).encode()


def make_pdf(rng, pages, words):
    objects = []  # index i is object i+1
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(pages))
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i in range(pages):
        content = 5 + 2 * i
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {content} 0 R >>".encode()
        )
        stream = page_stream(rng, words)
        objects.append(
            b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
        )
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def main():
    out = Path(sys.argv[1])
    files, pages = int(sys.argv[2]), int(sys.argv[3])
    words = int(sys.argv[4]) if len(sys.argv) > 4 else 60
    out.mkdir(parents=True, exist_ok=True)
    for f in range(files):
        rng = random.Random(f)
        (out / f"doc-{f:05d}.pdf").write_bytes(make_pdf(rng, pages, words))


if __name__ == "__main__":
    main()
