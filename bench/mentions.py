"""Actor-mention quality on the seeds and on the written page set, against hand-made gold lists.

    python bench/mentions.py [--seeds seeds] [--gold tests/data/gold_mentions.jsonl] [--errors]
                             [--pages tests/data/written_pages]
                             [--throughput N]   # also time ingesting N seed copies from a .jsonl

A mention matches when article, actor and character span (offsets into the ORIGINAL article
file) are all equal, so the gold list stays valid if sentence boundaries move. The page set's
gold mentions are marked by hand in the page files (``bench/web_pages.py``); each page is
ingested whole, noise included, with its date from the set's manifest.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from annotate.corpus import ingest_article, ingest_paths, load_manifest, original_offsets
from bench.web_pages import DEFAULT_PAGES, load_pages

Key = tuple[str, int, int, str]  # article_id, start, end, actor


def predicted_mentions(seeds: Path) -> tuple[dict[Key, str], float, int]:
    t0 = time.perf_counter()
    result = ingest_paths([seeds])
    seconds = time.perf_counter() - t0
    texts = {a.article_id: Path(a.path).read_text(encoding="utf-8") for a in result.articles}
    found: dict[Key, str] = {}
    for rec in result.records:
        offs = original_offsets(rec, texts[rec.article_id])
        for m in rec.mentions:
            found[(rec.article_id, offs[m.start], offs[m.end - 1] + 1, m.actor)] = m.text
    return found, seconds, len(result.records)


def page_mentions(folder: Path) -> tuple[dict[Key, str], dict[Key, str], int]:
    """(gold, predicted, sentences) on the written page set."""
    manifest = load_manifest(folder / "manifest.toml")
    gold: dict[Key, str] = {}
    found: dict[Key, str] = {}
    n_sentences = 0
    for page in load_pages(folder):
        for start, end, surface, actor in page.gold:
            gold[(page.article_id, start, end, actor)] = surface
        records = ingest_article(page.article_id, page.text, meta=manifest.get(page.article_id))
        n_sentences += len(records)
        for rec in records:
            offs = original_offsets(rec, page.text)
            for m in rec.mentions:
                found[(rec.article_id, offs[m.start], offs[m.end - 1] + 1, m.actor)] = m.text
    return gold, found, n_sentences


def load_gold(path: Path) -> dict[Key, str]:
    gold = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                g = json.loads(line)
                gold[(g["article_id"], g["start"], g["end"], g["actor"])] = g["text"]
    return gold


def prf(tp: int, n_pred: int, n_gold: int) -> tuple[float, float, float]:
    p = tp / n_pred if n_pred else 1.0
    r = tp / n_gold if n_gold else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def throughput(seeds: Path, n_articles: int) -> None:
    """Ingest ``n_articles`` copies of the seeds (as one .jsonl corpus); print wall and CPU time."""
    import resource
    import tempfile

    from annotate.corpus.sentences import sentence_pipeline

    texts = [p.read_text(encoding="utf-8") for p in sorted(seeds.glob("*.txt"))]
    sentence_pipeline()  # loading spaCy is not part of the rate
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.jsonl"
        with open(corpus, "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps({"id": f"copy{i}", "text": texts[i % len(texts)]}) + "\n" for i in range(n_articles))
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        result = ingest_paths([corpus])
        wall = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n_sent = len(result.records)
    print(
        f"\nthroughput: {len(result.articles)} articles / {n_sent} sentences in {wall:.1f} s wall, {cpu:.1f} s CPU "
        f"-> {len(result.articles) / cpu:.1f} articles/s, {n_sent / cpu:.0f} sentences/s per CPU second; "
        f"peak RSS {rss:.0f} MB"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=Path, default=ROOT / "seeds")
    ap.add_argument("--gold", type=Path, default=ROOT / "tests" / "data" / "gold_mentions.jsonl")
    ap.add_argument("--errors", action="store_true", help="list every false positive and miss")
    ap.add_argument("--pages", type=lambda v: Path(v) if v else None, default=DEFAULT_PAGES,
                    help="the hand-marked page set (bench/web_pages.py); '' to skip it")
    ap.add_argument("--throughput", type=int, default=0, metavar="N", help="also time ingesting N seed copies")
    args = ap.parse_args()

    gold = load_gold(args.gold)
    pred, seconds, n_sentences = predicted_mentions(args.seeds)
    print(f"seeds: {n_sentences} sentences, ingested in {seconds:.2f} s (includes loading spaCy)")
    report(gold, pred, args.errors, "targets: precision and recall >= 0.98")
    if args.pages:
        page_gold, page_pred, n_page_sentences = page_mentions(args.pages)
        print(f"\nwritten pages ({args.pages}): {n_page_sentences} sentences, noise included")
        report(page_gold, page_pred, args.errors, "targets: precision and recall >= 0.95")
    if args.throughput:
        throughput(args.seeds, args.throughput)
    return 0


def report(gold: dict[Key, str], pred: dict[Key, str], errors: bool, targets: str) -> None:
    tp = set(gold) & set(pred)
    p, r, f = prf(len(tp), len(pred), len(gold))
    print(f"gold mentions {len(gold)}  predicted {len(pred)}  correct {len(tp)}")
    print(f"precision {p:.4f}  recall {r:.4f}  F1 {f:.4f}   ({targets})")
    print()
    print(f"{'actor':<18}{'gold':>6}{'pred':>6}{'tp':>6}{'P':>8}{'R':>8}")
    g_by = Counter(k[3] for k in gold)
    p_by = Counter(k[3] for k in pred)
    t_by = Counter(k[3] for k in tp)
    for actor in sorted(set(g_by) | set(p_by), key=lambda a: -g_by[a]):
        ap_, ar_, _ = prf(t_by[actor], p_by[actor], g_by[actor])
        print(f"{actor:<18}{g_by[actor]:>6}{p_by[actor]:>6}{t_by[actor]:>6}{ap_:>8.3f}{ar_:>8.3f}")
    fps = sorted(set(pred) - tp)
    fns = sorted(set(gold) - tp)
    print(f"\nfalse positives {len(fps)}, misses {len(fns)}" + ("" if errors else " (--errors lists them)"))
    if errors:
        for k in fps:
            print(f"  FP {k[0][:3]} {k[1]:>5}-{k[2]:<5} {pred[k]!r} -> {k[3]}")
        for k in fns:
            print(f"  FN {k[0][:3]} {k[1]:>5}-{k[2]:<5} {gold[k]!r} -> {k[3]}")


if __name__ == "__main__":
    sys.exit(main())
