#!/usr/bin/env python3
"""Check that the development QA set agrees with the corpus, using poppler's pdftotext.

    samples/eval/fetch.sh                 # once: the PDFs are not in git
    python3 samples/eval/check_qa.py      # checks qa.jsonl and qa-small.jsonl; exit 0 when all hold
    python3 samples/eval/check_qa.py FILE.jsonl ...

Every line is {"id", "question", "answers", "file", "page", "kind"}; `page` is the 1-based
physical page (position in the file, not the printed page label).

Checks:
  1. each line is well formed: unique id, a question, a known kind (fact, table, multi-hop,
     paraphrase, unanswerable), answers a list of non-empty strings;
  2. an answerable item names a PDF of samples/eval/pdfs/ and a page within it, and every
     answer string occurs on that page in BOTH `pdftotext -f P -l P` and
     `pdftotext -layout -f P -l P`, after normalisation (NFKC, so ligatures become letters;
     a hyphen at a line end is tried both as a word break and as a real hyphen; case folded;
     whitespace collapsed; whole tokens only, "21" does not match inside "210");
     an answer that also occurs on another page of the file is a warning, not an error;
  3. an unanswerable item has answers [] and file and page null (the form `dossier eval`
     and samples/qa.jsonl use);
  4. qa-small.jsonl (the `make test` subset) holds items identical to those in qa.jsonl.

Whether an unanswerable question is really unanswerable was checked by hand (grep over the
pdftotext output of the whole corpus); no script can prove a negative about meaning.

Standard library only; needs pdftotext and pdfinfo (apt-get install poppler-utils).
"""

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

HERE = Path(__file__).resolve().parent
PDFS = HERE / "pdfs"
KINDS = {"fact", "table", "multi-hop", "paraphrase", "unanswerable"}


def load_sample_checker():
    """samples/check_qa.py, imported by path: its whitespace/case normalisation and
    whole-token match are the project's definition of "the answer is on the page"."""
    spec = importlib.util.spec_from_file_location("sample_check_qa", HERE.parent / "check_qa.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BASE = load_sample_checker()


def variants(text):
    """Normalised forms of a page's text: NFKC, then a line-end hyphen taken once as a word
    break ("ad-\\ndresses" -> "addresses") and once as a real hyphen ("non-\\nwhitespace")."""
    text = unicodedata.normalize("NFKC", text)
    joined = re.sub(r"(\w)-[ \t]*\n\s*(\w)", r"\1\2", text)
    kept = re.sub(r"(\w)-[ \t]*\n\s*(\w)", r"\1-\2", text)
    return {BASE.norm(joined), BASE.norm(kept)}


def occurs(answer, page_variants):
    answer = unicodedata.normalize("NFKC", answer)
    return any(BASE.occurs(answer, v) for v in page_variants)


def page_count(pdf):
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))


def page_texts(pdf, layout):
    """Normalised variants of every page, one pdftotext call per page (-f P -l P)."""
    texts = []
    for p in range(1, page_count(pdf) + 1):
        cmd = ["pdftotext", "-f", str(p), "-l", str(p)] + (["-layout"] if layout else []) + [str(pdf), "-"]
        out = subprocess.run(cmd, capture_output=True, check=True).stdout.decode("utf-8", "replace")
        texts.append(variants(out))
    return texts


def read_items(path, errors):
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"{path.name}:{n}: not JSON: {e}")
            continue
        items.append((n, item))
    return items


def check_file(path, cache, errors, warnings):
    seen = set()
    items = read_items(path, errors)
    answerable = 0
    for n, item in items:
        where = f"{path.name}:{n}"
        qid = item.get("id")
        if not isinstance(qid, str) or not qid or qid in seen:
            errors.append(f"{where}: missing or duplicate id {qid!r}")
        seen.add(qid)
        if not isinstance(item.get("question"), str) or not item["question"].strip():
            errors.append(f"{where}: missing question")
        kind = item.get("kind", "fact")
        if kind not in KINDS:
            errors.append(f"{where}: unknown kind {kind!r} (one of {sorted(KINDS)})")
        answers = item.get("answers")
        if not isinstance(answers, list) or not all(isinstance(a, str) and a.strip() for a in answers):
            errors.append(f"{where}: answers must be a list of non-empty strings")
            continue
        if kind == "unanswerable":
            if answers or item.get("file") is not None or item.get("page") is not None:
                errors.append(f"{where}: unanswerable items need answers [], file null, page null")
            continue
        answerable += 1
        if not answers:
            errors.append(f"{where}: answerable item without answers")
            continue
        name, page = item.get("file"), item.get("page")
        if not isinstance(name, str) or not (PDFS / name).is_file():
            errors.append(f"{where}: no such corpus file {name!r} in {PDFS}")
            continue
        if name not in cache:
            cache[name] = {"raw": page_texts(PDFS / name, False), "layout": page_texts(PDFS / name, True)}
        modes = cache[name]
        if not isinstance(page, int) or not 1 <= page <= len(modes["raw"]):
            errors.append(f"{where}: page {page!r} out of range 1..{len(modes['raw'])} for {name}")
            continue
        for answer in answers:
            missing = [m for m, texts in modes.items() if not occurs(answer, texts[page - 1])]
            if missing:
                found = [i + 1 for i, t in enumerate(modes["raw"]) if occurs(answer, t)]
                errors.append(f"{qid}: {answer!r} not on {name} page {page} ({'/'.join(missing)} text)"
                              + (f"; found on pages {found}" if found else ""))
                continue
            others = [i + 1 for i, t in enumerate(modes["raw"]) if i + 1 != page and occurs(answer, t)]
            note = f"{qid}: {answer!r} also occurs on {name} pages {others}"
            if others and note not in warnings:
                warnings.append(note)
    return items, answerable


def main(argv):
    for tool in ("pdftotext", "pdfinfo"):
        if shutil.which(tool) is None:
            print(f"check_qa: {tool} is missing; install poppler-utils (apt-get install poppler-utils)",
                  file=sys.stderr)
            return 2
    if not PDFS.is_dir() or not any(PDFS.glob("*.pdf")):
        print(f"check_qa: no PDFs in {PDFS}; run samples/eval/fetch.sh first", file=sys.stderr)
        return 2
    paths = [Path(a) for a in argv] or [HERE / "qa.jsonl", HERE / "qa-small.jsonl"]
    errors, warnings, cache = [], [], {}
    parsed = {}
    for path in paths:
        items, answerable = check_file(path, cache, errors, warnings)
        parsed[path.name] = [item for _, item in items]
        print(f"{path.name}: {len(items)} items ({answerable} answerable, "
              f"{len(items) - answerable} unanswerable)")

    if "qa.jsonl" in parsed and "qa-small.jsonl" in parsed:
        full = {item.get("id"): item for item in parsed["qa.jsonl"]}
        for item in parsed["qa-small.jsonl"]:
            if full.get(item.get("id")) != item:
                errors.append(f"qa-small.jsonl: {item.get('id')!r} differs from (or is missing in) qa.jsonl")

    for w in warnings:
        print("warning:", w)
    for e in errors:
        print("ERROR:", e)
    print(f"{len(cache)} PDFs read, {len(errors)} errors, {len(warnings)} warnings")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
