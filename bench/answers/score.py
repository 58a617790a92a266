#!/usr/bin/env python3
"""Scores retrieval and answers on a QA file from `dossier search --json` and `dossier ask
--json` alone, as issue 22 measures them (the user's view, not the eval command's):

    python3 bench/answers/score.py --dossier BIN --store S samples/eval/wide/dev.jsonl > out.json

Per question: the gold page's rank in `search -k 10` (page hit@1/@5, MRR), and for `ask`:
whether it refused, whether the gold page is among its citations, whether a cited quote
holds a gold answer string, whether the answer text does. Totals overall, by kind and by
domain, plus "cited when in search's top 5". A gold page matches on file basename and
physical page; multi-hop items match any page of their `pages` list (else `page`).
Prints JSON: {"rows": [...], "overall": {...}, "by_kind": {...}, "by_domain": {...}}.
"""
import argparse
import json
import os
import re
import subprocess
import sys

REFUSAL = "The documents do not contain the answer"


def norm(text):
    return re.sub(r"\s+", " ", text or "").strip().lower()


def holds(text, answers):
    t = norm(text)
    return any(norm(a) in t for a in answers)


def run_json(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        return None
    try:
        return json.loads(out.stdout)
    except json.JSONDecodeError:
        return None


def gold_pages(item):
    if item.get("file") is None:
        return set()
    pages = item.get("pages") or [item["page"]]
    return {(item["file"], p) for p in pages}


def score(item, binary, store, k):
    base = [binary, "--store", store]
    gold = gold_pages(item)
    row = {"id": item["id"], "kind": item.get("kind"), "domain": item.get("domain")}
    hits = (run_json(base + ["search", "--json", "-k", str(k), item["question"]]) or {}).get("hits", [])
    rank = None
    for i, hit in enumerate(hits, 1):
        if (os.path.basename(hit.get("file") or hit.get("path", "")), hit.get("page")) in gold:
            rank = i
            break
    row["page_rank"] = rank
    answer = run_json(base + ["ask", "--json", item["question"]]) or {}
    citations = answer.get("citations") or []
    text = answer.get("answer") or ""
    refused = bool(answer.get("refused")) or text.startswith(REFUSAL)
    row["refused"] = refused
    row["cited_pages"] = [[c.get("file"), c.get("page")] for c in citations]
    row["gold_cited"] = any((c.get("file"), c.get("page")) in gold for c in citations)
    answers = item.get("answers") or []
    row["quote_holds"] = bool(answers) and any(holds(c.get("quote"), answers) for c in citations)
    row["answer_holds"] = bool(answers) and holds(text, answers)
    row["answer"] = text[:300]
    return row


def totals(rows):
    answerable = [r for r in rows if r["kind"] != "unanswerable"]
    unanswerable = [r for r in rows if r["kind"] == "unanswerable"]
    share = lambda xs, f: round(sum(1 for x in xs if f(x)) / len(xs), 3) if xs else None
    top5 = [r for r in answerable if r["page_rank"] and r["page_rank"] <= 5]
    return {
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "page_hit_at_1": share(answerable, lambda r: r["page_rank"] == 1),
        "page_hit_at_5": share(answerable, lambda r: r["page_rank"] and r["page_rank"] <= 5),
        "mrr": round(sum(1 / r["page_rank"] for r in answerable if r["page_rank"]) / len(answerable), 3)
        if answerable else None,
        "gold_page_cited": share(answerable, lambda r: r["gold_cited"]),
        "quote_holds_answer": share(answerable, lambda r: r["quote_holds"]),
        "answer_holds_answer": share(answerable, lambda r: r["answer_holds"]),
        "false_refusal": share(answerable, lambda r: r["refused"]),
        "unanswerable_refused": share(unanswerable, lambda r: r["refused"]),
        "in_top5": len(top5),
        "cited_when_in_top5": share(top5, lambda r: r["gold_cited"]),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dossier", required=True)
    ap.add_argument("--store", required=True)
    ap.add_argument("-k", type=int, default=10)
    ap.add_argument("qa", nargs="+")
    args = ap.parse_args()
    items = [json.loads(line) for path in args.qa for line in open(path) if line.strip()]
    rows = []
    for n, item in enumerate(items, 1):
        rows.append(score(item, args.dossier, args.store, args.k))
        print(f"{n}/{len(items)} {item['id']}", file=sys.stderr)
    group = lambda key: {v: totals([r for r in rows if r[key] == v])
                         for v in sorted({r[key] for r in rows if r[key]})}
    print(json.dumps({"qa": args.qa, "overall": totals(rows), "by_kind": group("kind"),
                      "by_domain": group("domain"), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
