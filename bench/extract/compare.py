#!/usr/bin/env python3
"""Compare dossier's PDF text extraction (and pypdf's) with poppler's pdftotext, page by page.

    python3 bench/extract/compare.py                    # every PDF in samples/eval/pdfs/
    python3 bench/extract/compare.py a.pdf b.pdf        # just these
    python3 bench/extract/compare.py --json             # machine-readable, per file and per page
    python3 bench/extract/compare.py --show FILE PAGE   # what dossier loses / adds on one page
    python3 bench/extract/compare.py --no-pypdf         # dossier only (no virtual environment)
    python3 bench/extract/compare.py --repeat 5         # speeds: fastest of 5 runs per file

pdftotext (default reading-order mode, not -layout) is the reference. dossier's text comes from
`dossier extract --json FILE` ($DOSSIER, default ~/.cache/dossier-target/debug/dossier; the
`extract_json` example of dossier-ingest prints the same without building the store:
`cargo build --workspace --examples`, then DOSSIER=<target>/debug/examples/
extract_json); pypdf's
from `page.extract_text()` with a pinned pypdf in a virtual environment at
~/.cache/dossier-bench-venv (DOSSIER_BENCH_VENV), created on first use.

Words. A page's words are the runs of Unicode letters and digits (Python's [^\\W_]+) of its text
after NFKC normalisation (ligatures such as "ﬁ" become "fi") and lower-casing. Everything else
(spaces, punctuation, hyphens, bullets) only separates words: "multi-developer" is two words.

Metrics, for each extractor against pdftotext, computed per page and summed over the file:
  found     words of pdftotext's page that the extractor has on the same page (multiset
            intersection) / pdftotext's words. Missing or mangled words lower it.
  in order  longest common subsequence of the two pages' word sequences / pdftotext's words,
            taking for each page the best of pdftotext's reading order, its -layout order
            (which keeps table rows together, as dossier does on purpose) and, for files
            listed in COLUMN_CROPS, -layout run on each page column cropped out (-x -W) and
            the columns concatenated: the reading order of a multi-column page of tables,
            which neither whole-page mode gives (both read across the columns), and of
            two-column pages whose reading-order mode pdftotext interleaves (a paragraph of
            the right column read after the first lines of the left, a code box spliced
            into a hyphenated word: rcpp-faq.pdf, see docs/benchmarks-history.md).
            Text in the wrong order (columns interleaved, table cells scrambled) lowers it
            below `found`.
  glued     extractor words that pdftotext's page does not have but that split into two words
            it does have ("theagreement") / the extractor's words. Missing spaces raise it.
  pages/s   pages / extraction time. dossier: the `millis` it reports for the file (parse and
            extract, no process start); the process wall time is in --json as well. pypdf:
            PdfReader(file) plus extract_text() on every page, timed in-process; the time to
            import pypdf is excluded (reported once in --json).
  speed     dossier pages/s / pypdf pages/s. With --repeat N each extractor reads every
            file N times and the fastest time counts (load from other processes only ever
            slows a run down).
The total row weights found/in order by pdftotext's words and glued by the extractor's words.

Scores never change the exit status (0); a missing tool or file does (2).
Standard library only for this script; pypdf is installed into its own virtual environment.
"""

import argparse
import collections
import difflib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "samples" / "eval" / "pdfs"
PYPDF_PIN = "7.1.0"
VENV = Path(os.environ.get("DOSSIER_BENCH_VENV", Path.home() / ".cache" / "dossier-bench-venv"))
DOSSIER = os.environ.get("DOSSIER", str(Path.home() / ".cache" / "dossier-target" / "debug" / "dossier"))

# --keep-furniture: compare the raw page text (running headers, footers and page numbers
# kept, as pdftotext keeps them) rather than the text dossier indexes.
KEEP_FURNITURE = False
WORD = re.compile(r"[^\W_]+")
# Files whose pages are several columns, with the columns' x ranges in points, measured on
# the rendered pages (pdftoppm): see "in order" above. A page that is not laid out in these
# columns (rcpp-faq's full-width title page) just gains nothing from this reference.
COLUMN_CROPS = {
    "octave-refcard.pdf": [(0, 290), (290, 570), (570, 842)],
    "rcpp-faq.pdf": [(0, 306), (306, 612)],
}
REPEAT = 1


def words(text):
    """The tokenizer every metric uses: NFKC, lower case, runs of letters/digits."""
    return WORD.findall(unicodedata.normalize("NFKC", text or "").lower())


# ---------------------------------------------------------------- metrics

def lcs_length(a, b):
    """Length of the longest common subsequence of two word lists, bit-parallel
    (Hyyrö 2004): O(len(a) * len(b) / wordsize), fast in Python for pages of thousands of words."""
    if not a or not b:
        return 0
    masks = {}
    for i, w in enumerate(a):
        masks[w] = masks.get(w, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for w in b:
        m = masks.get(w)
        if m:
            u = v & m
            v = ((v + u) | (v - u)) & full
    return len(a) - bin(v).count("1")


def glued_count(ext_words, ref_vocab):
    """Extractor words absent from the reference page that split into two reference words."""
    n = 0
    for w in ext_words:
        if w in ref_vocab or len(w) < 2:
            continue
        if any(w[:i] in ref_vocab and w[i:] in ref_vocab for i in range(1, len(w))):
            n += 1
    return n


def page_metrics(ref_words, ext_words, layout_words=None, column_words=None):
    ref_counts = collections.Counter(ref_words)
    ext_counts = collections.Counter(ext_words)
    in_order = lcs_length(ref_words, ext_words)
    # pdftotext's two modes are the two defensible orders: reading order (columns one after
    # the other) and physical layout (table rows kept together); on pages of several columns
    # of tables, the column crops are. Text that follows any one, page by page, is in order.
    for other in (layout_words, column_words):
        if other is not None:
            in_order = max(in_order, min(len(ref_words), lcs_length(other, ext_words)))
    return {
        "ref_words": len(ref_words),
        "ext_words": len(ext_words),
        "found": sum((ref_counts & ext_counts).values()),
        "in_order": in_order,
        "glued": glued_count(ext_words, set(ref_counts)),
    }


def summarise(per_page, pages, seconds):
    ref = sum(p["ref_words"] for p in per_page)
    ext = sum(p["ext_words"] for p in per_page)
    return {
        "found": sum(p["found"] for p in per_page) / ref if ref else None,
        "in_order": sum(p["in_order"] for p in per_page) / ref if ref else None,
        "glued": sum(p["glued"] for p in per_page) / ext if ext else 0.0,
        "pages_per_s": pages / seconds if seconds else None,
        "seconds": seconds,
        "ref_words": ref,
        "ext_words": ext,
        "_sums": {k: sum(p[k] for p in per_page) for k in ("found", "in_order", "glued")},
    }


# ---------------------------------------------------------------- extractors

def need(tool, hint):
    if shutil.which(tool) is None:
        sys.exit(f"compare: {tool} is missing; {hint}")


def pdfinfo(pdf):
    out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    pages = re.search(r"^Pages:\s+(\d+)", out, re.M)
    producer = re.search(r"^Producer:\s*(.*)$", out, re.M)
    return int(pages.group(1)) if pages else 0, (producer.group(1).strip() if producer else "")


def pdftotext_pages(pdf, pages, layout=False):
    """One pdftotext call for the file, split on the form feed it writes after every page;
    falls back to one call per page (-f P -l P) if the split does not give `pages` pages."""
    mode = ["-layout"] if layout else []
    t = time.perf_counter()
    out = subprocess.run(["pdftotext", *mode, str(pdf), "-"], capture_output=True).stdout.decode("utf-8", "replace")
    seconds = time.perf_counter() - t
    texts = out.split("\f")
    if texts and texts[-1].strip() == "":
        texts = texts[:-1]
    if len(texts) != pages:
        texts = [subprocess.run(["pdftotext", *mode, "-f", str(p), "-l", str(p), str(pdf), "-"],
                                capture_output=True).stdout.decode("utf-8", "replace")
                 for p in range(1, pages + 1)]
    return texts, seconds


def column_pages(pdf, pages):
    """Per page: pdftotext -layout on each column crop of COLUMN_CROPS, concatenated."""
    crops = COLUMN_CROPS.get(pdf.name)
    if not crops:
        return None
    texts = []
    for p in range(1, pages + 1):
        texts.append("\n".join(
            subprocess.run(["pdftotext", "-layout", "-f", str(p), "-l", str(p), "-x", str(x0),
                            "-y", "0", "-W", str(x1 - x0), "-H", "100000", str(pdf), "-"],
                           capture_output=True).stdout.decode("utf-8", "replace")
            for x0, x1 in crops))
    return texts


def dossier_pages(pdf, pages):
    """The text of dossier_once, with the fastest of REPEAT runs' times."""
    best = None
    for _ in range(REPEAT):
        result = dossier_once(pdf, pages)
        if best is None or result["seconds"] < best["seconds"]:
            best = result
    return best


def dossier_once(pdf, pages):
    if not Path(DOSSIER).is_file():
        sys.exit(f"compare: no dossier binary at {DOSSIER} (set DOSSIER or build it)")
    t = time.perf_counter()
    extra = ["--keep-furniture"] if KEEP_FURNITURE else []
    proc = subprocess.run([DOSSIER, "extract", "--json", "--ocr", "never", *extra, str(pdf)],
                          capture_output=True)
    wall = time.perf_counter() - t
    result = {"texts": [""] * pages, "wall_s": wall, "seconds": wall, "error": None, "not_text": []}
    try:
        doc = json.loads(proc.stdout.decode("utf-8", "replace").splitlines()[0])
    except (IndexError, json.JSONDecodeError):
        result["error"] = f"exit {proc.returncode}: {proc.stderr.decode('utf-8', 'replace').strip()[-300:]}"
        return result
    if doc.get("millis") is not None:
        result["seconds"] = doc["millis"] / 1000.0
    result["error"] = doc.get("error")
    for page in doc.get("pages") or []:
        n = page.get("page")
        if isinstance(n, int) and 1 <= n <= pages:
            result["texts"][n - 1] = page.get("text") or ""
            if page.get("status") != "text":
                result["not_text"].append({"page": n, "status": page.get("status"), "reason": page.get("reason")})
    return result


PYPDF_RUNNER = r"""
import json, sys, time
t = time.perf_counter()
import pypdf
print(json.dumps({"import_s": time.perf_counter() - t, "version": pypdf.__version__}), flush=True)
for path in sys.argv[1:]:
    texts, error = [], None
    t = time.perf_counter()
    try:
        reader = pypdf.PdfReader(path)
        for page in reader.pages:
            try:
                texts.append(page.extract_text() or "")
            except Exception as e:  # one bad page must not lose the file
                texts.append("")
                error = error or f"page {len(texts)}: {type(e).__name__}: {e}"
    except Exception as e:
        error = f"{type(e).__name__}: {e}"
    print(json.dumps({"file": path, "seconds": time.perf_counter() - t, "texts": texts, "error": error}), flush=True)
"""


def ensure_venv():
    """A virtual environment with the pinned pypdf; created or fixed only when needed."""
    python = VENV / "bin" / "python"
    probe = [str(python), "-c", "import pypdf; print(pypdf.__version__)"]
    if python.exists():
        got = subprocess.run(probe, capture_output=True, text=True).stdout.strip()
        if got == PYPDF_PIN:
            return python
    else:
        print(f"compare: creating {VENV} for pypdf=={PYPDF_PIN}", file=sys.stderr)
        made = subprocess.run([sys.executable, "-m", "venv", str(VENV)], capture_output=True, text=True)
        if made.returncode != 0:
            sys.exit(f"compare: could not create a virtual environment at {VENV} "
                     f"(Debian: apt-get install python3-venv): {made.stderr.strip()[-300:]}")
    print(f"compare: installing pypdf=={PYPDF_PIN} into {VENV}", file=sys.stderr)
    inst = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                           f"pypdf=={PYPDF_PIN}"], capture_output=True, text=True)
    if inst.returncode != 0:
        sys.exit(f"compare: pip install pypdf=={PYPDF_PIN} failed: {inst.stderr.strip()[-500:]}")
    return python


def pypdf_all(pdfs):
    """pypdf_once REPEAT times; each file keeps its fastest time."""
    head, files = pypdf_once(pdfs)
    for _ in range(REPEAT - 1):
        _, again = pypdf_once(pdfs)
        for name, d in again.items():
            if name in files and d.get("seconds") is not None and files[name].get("seconds") is not None:
                files[name]["seconds"] = min(files[name]["seconds"], d["seconds"])
    return head, files


def pypdf_once(pdfs):
    python = ensure_venv()
    proc = subprocess.run([str(python), "-c", PYPDF_RUNNER] + [str(p) for p in pdfs],
                          capture_output=True, text=True)
    lines = proc.stdout.splitlines()
    if not lines:
        sys.exit(f"compare: pypdf run failed: {proc.stderr.strip()[-500:]}")
    head = json.loads(lines[0])
    files = {}
    for line in lines[1:]:
        d = json.loads(line)
        files[d["file"]] = d
    return head, files


# ---------------------------------------------------------------- reports

def fmt(x, pct=True):
    if x is None:
        return "–"
    return f"{100 * x:.1f}" if pct else (f"{x:.0f}" if x >= 100 else f"{x:.1f}")


def machine():
    model = ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        m = re.search(r"^Model name:\s*(.*)$", out, re.M)
        model = m.group(1).strip() if m else ""
    except OSError:
        pass
    return {"cpu": model, "cpus": os.cpu_count()}


def compare(pdfs, use_pypdf):
    infos = {p: pdfinfo(p) for p in pdfs}
    head, pyfiles = (pypdf_all(pdfs) if use_pypdf else ({}, {}))
    rows = []
    for pdf in pdfs:
        pages, producer = infos[pdf]
        ref_texts, ref_seconds = pdftotext_pages(pdf, pages)
        ref_words = [words(t) for t in ref_texts]
        layout_words = [words(t) for t in pdftotext_pages(pdf, pages, layout=True)[0]]
        columns = column_pages(pdf, pages)
        column_words = [words(t) for t in columns] if columns else [None] * pages
        row = {"file": pdf.name, "pages": pages, "producer": producer,
               "pdftotext": {"pages_per_s": pages / ref_seconds if ref_seconds else None,
                             "words": sum(map(len, ref_words))}}
        d = dossier_pages(pdf, pages)
        per_page = [page_metrics(r, words(t), lw, cw)
                    for r, t, lw, cw in zip(ref_words, d["texts"], layout_words, column_words)]
        row["dossier"] = summarise(per_page, pages, d["seconds"])
        row["dossier"].update({"wall_s": d["wall_s"], "error": d["error"], "not_text": d["not_text"],
                               "per_page": per_page})
        if use_pypdf:
            p = pyfiles.get(str(pdf), {"texts": [], "seconds": None, "error": "no result"})
            texts = (p["texts"] + [""] * pages)[:pages]
            per_page = [page_metrics(r, words(t), lw, cw)
                        for r, t, lw, cw in zip(ref_words, texts, layout_words, column_words)]
            row["pypdf"] = summarise(per_page, pages, p["seconds"])
            row["pypdf"].update({"error": p["error"], "per_page": per_page})
            dp, pp = row["dossier"]["pages_per_s"], row["pypdf"]["pages_per_s"]
            row["speed_ratio"] = dp / pp if dp and pp else None
        rows.append(row)
    return head, rows


def totals(rows, key):
    parts = [r[key] for r in rows if key in r]
    if not parts:
        return None
    ref = sum(p["ref_words"] for p in parts)
    ext = sum(p["ext_words"] for p in parts)
    secs = sum(p["seconds"] or 0 for p in parts)
    pages = sum(r["pages"] for r in rows)
    return {
        "found": sum(p["_sums"]["found"] for p in parts) / ref if ref else None,
        "in_order": sum(p["_sums"]["in_order"] for p in parts) / ref if ref else None,
        "glued": sum(p["_sums"]["glued"] for p in parts) / ext if ext else 0.0,
        "pages_per_s": pages / secs if secs else None,
        "seconds": secs, "ref_words": ref, "ext_words": ext,
    }


def print_table(rows, use_pypdf, head):
    cols = ["file", "pages", "producer", "d found", "d order", "d glued", "d pages/s"]
    if use_pypdf:
        cols += ["p found", "p order", "p glued", "p pages/s", "speed d/p"]
    lines = [cols]

    def cells(name, pages, producer, d, p, ratio):
        c = [name, str(pages), producer[:28],
             fmt(d["found"]), fmt(d["in_order"]), fmt(d["glued"]), fmt(d["pages_per_s"], False)]
        if use_pypdf:
            c += [fmt(p["found"]), fmt(p["in_order"]), fmt(p["glued"]), fmt(p["pages_per_s"], False),
                  (f"{ratio:.1f}×" if ratio else "–")]
        return c

    for r in rows:
        lines.append(cells(r["file"], r["pages"], r["producer"], r["dossier"], r.get("pypdf"),
                           r.get("speed_ratio")))
    td, tp = totals(rows, "dossier"), totals(rows, "pypdf")
    ratio = (td["pages_per_s"] / tp["pages_per_s"]) if tp and td["pages_per_s"] and tp["pages_per_s"] else None
    lines.append(cells("total", sum(r["pages"] for r in rows), "", td, tp, ratio))
    widths = [max(len(l[i]) for l in lines) for i in range(len(cols))]
    for n, l in enumerate(lines):
        print("  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(l, widths))))
        if n == 0 or n == len(lines) - 2:
            print("  ".join("-" * w for w in widths))
    print("found / order / glued in % of words (d = dossier, p = pypdf"
          + (f" {head.get('version')}" if head else "") + ", against pdftotext); "
          "pages/s: dossier from its own millis, pypdf in-process without import")
    problems = [(r["file"], r["dossier"]["error"], r["dossier"]["not_text"]) for r in rows
                if r["dossier"]["error"] or r["dossier"]["not_text"]]
    for name, error, not_text in problems:
        print(f"dossier on {name}: " + (f"error: {error}; " if error else "")
              + ", ".join(f"p.{x['page']} {x['status']} ({x['reason']})" for x in not_text))
    worst = sorted(((p["ref_words"] - p["in_order"], r["file"], i + 1, p)
                    for r in rows for i, p in enumerate(r["dossier"]["per_page"])), reverse=True)[:8]
    if worst and worst[0][0] > 0:
        print("pages where dossier's text departs most from pdftotext (words out of order or lost; "
              "--show FILE PAGE for details):")
        for lost, name, page, p in worst:
            print(f"  {name} p.{page}: {lost} of {p['ref_words']} words "
                  f"(found {fmt(p['found'] / p['ref_words'] if p['ref_words'] else None)}%, glued {p['glued']})")


def show(pdf, page, context=6, hunks=25):
    pages, producer = pdfinfo(pdf)
    if not 1 <= page <= pages:
        sys.exit(f"compare: {pdf.name} has pages 1..{pages}")
    ref_texts, _ = pdftotext_pages(pdf, pages)
    d = dossier_pages(pdf, pages)
    ref, ext = words(ref_texts[page - 1]), words(d["texts"][page - 1])
    m = page_metrics(ref, ext)
    layout = words(pdftotext_pages(pdf, pages, layout=True)[0][page - 1])
    columns = column_pages(pdf, pages)
    best = page_metrics(ref, ext, layout, words(columns[page - 1]) if columns else None)
    print(f"{pdf.name} p.{page} ({producer}): pdftotext {m['ref_words']} words, dossier {m['ext_words']}; "
          f"found {fmt(m['found'] / m['ref_words'] if m['ref_words'] else None)}%, "
          f"in order {fmt(m['in_order'] / m['ref_words'] if m['ref_words'] else None)}% "
          f"(best of the references: {fmt(best['in_order'] / m['ref_words'] if m['ref_words'] else None)}%), "
          f"glued {m['glued']}")
    if d["error"] or d["not_text"]:
        print("dossier:", d["error"] or "", d["not_text"])
    rc, ec = collections.Counter(ref), collections.Counter(ext)
    vocab = set(rc)
    lacks, extra = rc - ec, ec - rc
    print(f"\nwords pdftotext has that dossier lacks ({sum(lacks.values())}):")
    print("  " + " ".join(f"{w}×{n}" if n > 1 else w for w, n in lacks.most_common(120)))
    print(f"\nwords dossier has that pdftotext lacks ({sum(extra.values())}):")
    print("  " + " ".join(f"{w}×{n}" if n > 1 else w for w, n in extra.most_common(120)))
    glued = sorted({w for w in ext if w not in vocab and len(w) > 1 and
                    any(w[:i] in vocab and w[i:] in vocab for i in range(1, len(w)))})
    if glued:
        print(f"\nglued words ({len(glued)} distinct): "
              + " ".join(next(f"{w[:i]}|{w[i:]}" for i in range(1, len(w)) if w[:i] in vocab and w[i:] in vocab)
                         for w in glued[:60]))
    print(f"\nword-level differences from pdftotext's reading order (- pdftotext only, + dossier only), "
          f"first {hunks} hunks:")
    sm = difflib.SequenceMatcher(None, ref, ext, autojunk=False)
    shown = 0
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            continue
        before = " ".join(ref[max(0, i1 - context):i1])
        print(f"  @{i1}: …{before}")
        if i2 > i1:
            print("    - " + " ".join(ref[i1:i2][:60]) + (" …" if i2 - i1 > 60 else ""))
        if j2 > j1:
            print("    + " + " ".join(ext[j1:j2][:60]) + (" …" if j2 - j1 > 60 else ""))
        shown += 1
        if shown >= hunks:
            print("  …")
            break


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pdfs", nargs="*", type=Path, help="PDFs (default: samples/eval/pdfs/*.pdf)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of the table")
    ap.add_argument("--no-pypdf", action="store_true", help="compare dossier only")
    ap.add_argument("--show", nargs=2, metavar=("FILE", "PAGE"),
                    help="word-level differences between pdftotext and dossier on one page")
    ap.add_argument("--keep-furniture", action="store_true",
                    help="compare dossier's raw page text (running headers and footers kept, as "
                         "pdftotext keeps them) instead of the text it indexes")
    ap.add_argument("--repeat", type=int, default=1, metavar="N",
                    help="read every file N times with each extractor and keep the fastest "
                         "time (speeds on a busy machine); the texts are the same every time")
    args = ap.parse_args()
    global KEEP_FURNITURE, REPEAT
    KEEP_FURNITURE = args.keep_furniture
    REPEAT = max(1, args.repeat)
    need("pdftotext", "install poppler-utils (apt-get install poppler-utils)")
    need("pdfinfo", "install poppler-utils (apt-get install poppler-utils)")

    if args.show:
        pdf = Path(args.show[0])
        if not pdf.is_file() and (CORPUS / args.show[0]).is_file():
            pdf = CORPUS / args.show[0]
        if not pdf.is_file():
            sys.exit(f"compare: no such file {args.show[0]}")
        show(pdf, int(args.show[1]))
        return 0

    pdfs = args.pdfs or sorted(CORPUS.glob("*.pdf"))
    if not pdfs:
        sys.exit(f"compare: no PDFs given and none in {CORPUS} (run samples/eval/fetch.sh)")
    missing = [str(p) for p in pdfs if not p.is_file()]
    if missing:
        sys.exit(f"compare: no such file: {', '.join(missing)}")
    use_pypdf = not args.no_pypdf
    head, rows = compare(pdfs, use_pypdf)
    if args.json:
        total = {k: totals(rows, k) for k in ("dossier", "pypdf") if any(k in r for r in rows)}
        for r in rows:
            for key in ("dossier", "pypdf"):
                if key in r:
                    r[key].pop("_sums", None)
        out = {"machine": machine(), "dossier": DOSSIER, "pypdf": head or None,
               "tokenizer": "NFKC, lower-case, runs of [^\\W_]", "files": rows,
               "total": total}
        json.dump(out, sys.stdout, ensure_ascii=False)
        print()
    else:
        print_table(rows, use_pypdf, head)
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends the output quietly
    sys.exit(main())
