#!/usr/bin/env python3
"""Check that samples/qa.jsonl and the sample PDFs agree, using poppler's pdftotext.

    python3 samples/check_qa.py        # exit 0 when everything holds

Why: qa.jsonl promises that each answer can be found on one specific page. If
someone edits samples/text/*.txt and a fact moves to another page, retrieval
tests would start failing for a reason that has nothing to do with dossier.
This script catches that, independently of dossier's own PDF code, and it also
round-trips the source text through a real extractor so that broken word
spacing in the generated PDFs is caught too.

Checks:
  1. every line of qa.jsonl is well formed: unique id, question, answers,
     file and page (1-based, within the document), or the unanswerable form
     {"kind": "unanswerable", "answers": [], "file": null, "page": null};
  2. every answer string occurs (case-insensitively, whitespace collapsed,
     not as part of a longer word or number) in
     `pdftotext -f P -l P FILE -` of its stated page; an answer that also
     occurs on another page of the same file is reported as a warning,
     because then the question no longer has exactly one right page;
  3. every paragraph, heading, list item and table cell of the source text
     appears, with the same words and single spaces, on the page where the
     source puts it.

Standard library only; needs pdftotext (apt-get install poppler-utils).
"""

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def load_generator():
    """Import make_samples.py by path (samples/ is not a package)."""
    spec = importlib.util.spec_from_file_location("make_samples", HERE / "make_samples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def norm(text):
    """Collapse all whitespace and fold case: line breaks are layout, not content."""
    return re.sub(r"\s+", " ", text).strip().casefold()


def occurs(answer, text):
    """answer appears in text as a whole token sequence ("21" must not match
    inside "210"), case-insensitively, whitespace collapsed."""
    return re.search(r"(?<!\w)" + re.escape(norm(answer)) + r"(?!\w)", text) is not None


def page_texts(pdf):
    """Extracted text of every page of pdf, via one pdftotext call per page
    (-f P -l P, exactly as the check is specified)."""
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    texts = []
    for p in range(1, pages + 1):
        out = subprocess.run(["pdftotext", "-f", str(p), "-l", str(p), str(pdf), "-"],
                             capture_output=True, check=True).stdout.decode("utf-8")
        texts.append(norm(out))
    return texts


def main():
    gen = load_generator()
    errors, warnings = [], []
    cache = {}

    def pages_of(name):
        if name not in cache:
            cache[name] = page_texts(HERE / name)
        return cache[name]

    # 1 + 2: qa.jsonl
    seen = set()
    lines = (HERE / "qa.jsonl").read_text(encoding="utf-8").splitlines()
    answerable = 0
    for n, line in enumerate(lines, start=1):
        where = f"qa.jsonl:{n}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"{where}: not JSON: {e}")
            continue
        qid = item.get("id")
        if not isinstance(qid, str) or qid in seen:
            errors.append(f"{where}: missing or duplicate id {qid!r}")
        seen.add(qid)
        if not isinstance(item.get("question"), str) or not item["question"].strip():
            errors.append(f"{where}: missing question")
        answers = item.get("answers")
        if not isinstance(answers, list) or not all(isinstance(a, str) and a for a in answers):
            errors.append(f"{where}: answers must be a list of non-empty strings")
            continue
        if item.get("kind") == "unanswerable":
            if answers or item.get("file") is not None or item.get("page") is not None:
                errors.append(f"{where}: unanswerable items need answers [], file null, page null")
            continue
        answerable += 1
        name, page = item.get("file"), item.get("page")
        if not isinstance(name, str) or not (HERE / name).exists():
            errors.append(f"{where}: no such sample file {name!r}")
            continue
        texts = pages_of(name)
        if not isinstance(page, int) or not 1 <= page <= len(texts):
            errors.append(f"{where}: page {page!r} out of range 1..{len(texts)} for {name}")
            continue
        if not answers:
            errors.append(f"{where}: answerable item without answers")
        for answer in answers:
            if not occurs(answer, texts[page - 1]):
                found = [i + 1 for i, t in enumerate(texts) if occurs(answer, t)]
                errors.append(f"{qid}: {answer!r} not on {name} page {page}"
                              + (f" (found on pages {found})" if found else ""))
                continue
            others = [i + 1 for i, t in enumerate(texts) if occurs(answer, t) and i + 1 != page]
            if others:
                warnings.append(f"{qid}: {answer!r} also occurs on {name} pages {others}")

    # 3: source text round trip
    blocks_checked = 0
    for stem in gen.DOCUMENTS:
        doc = gen.parse((gen.TEXT_DIR / f"{stem}.txt").read_text(encoding="utf-8"), stem)
        texts = pages_of(f"{stem}.pdf")
        if len(texts) != len(doc.pages):
            errors.append(f"{stem}.pdf has {len(texts)} pages, source has {len(doc.pages)}")
            continue
        for p, blocks in enumerate(doc.pages, start=1):
            pieces = []
            for block in blocks:
                if block[0] == "table":
                    pieces += [cell for row in block[2] for cell in row]
                else:
                    pieces.append(block[1])
            pieces.append(f"Page {p} of {len(doc.pages)}")
            for piece in pieces:
                blocks_checked += 1
                if norm(piece) not in texts[p - 1]:
                    errors.append(f"{stem}.pdf page {p}: source text not extracted intact: {piece[:70]!r}")

    for w in warnings:
        print("warning:", w)
    for e in errors:
        print("ERROR:", e)
    print(f"{len(lines)} qa lines ({answerable} answerable), {blocks_checked} source blocks checked, "
          f"{len(errors)} errors, {len(warnings)} warnings")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
