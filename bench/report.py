"""Report speed: build + write a report for synthetic corpora of growing size.

Synthetic inputs (random stance probabilities, not model output) shaped like the seeds:
40 sentences per article, 1-3 actor mentions per sentence from 12 actors, a prediction per
(sentence, actor) and for engagement, 10 sources. Prints seconds for build_report and for
write_report (JSON + CSV + HTML), and the HTML size.

With ``--corrected``, model scores are corrected with a synthetic error profile (1,000 gold
items per target kind from a classifier with a known confusion, as in bench/coverage.py):
every article and source interval then also resamples the gold.

    python bench/report.py [--articles 100 1000] [--bootstrap 2000] [--corrected]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from annotate.labels import ENGAGEMENT_TARGET, load_label_set
from annotate.report import ReportOptions, build_report, write_report
from annotate.report.error_profile import ErrorProfile, GoldItems
from annotate.schema import Mention, PredictionRecord, SentenceRecord

ACTORS = ["united_states", "pakistan", "afghan_taliban", "ttp", "china", "india", "russia", "iran", "isis_k",
          "al_qaeda", "qatar", "turkiye"]


def synthetic(n_articles: int, *, seed: int = 0) -> tuple[list[SentenceRecord], list[PredictionRecord]]:
    rng = np.random.default_rng(seed)
    labels = load_label_set().stance
    sentences, predictions = [], []
    for a in range(n_articles):
        article_id = f"art{a:05d}"
        for i in range(40):
            actors = list(rng.choice(ACTORS, size=rng.integers(1, 4), replace=False))
            text = " ".join(f"{actor} did something." for actor in actors)
            mentions, cursor = [], 0
            for actor in actors:
                start = text.index(actor, cursor)
                mentions.append(Mention(actor, actor, start, start + len(actor)))
                cursor = start + len(actor)
            sid = f"{article_id}-{i}"
            sentences.append(SentenceRecord(sentence_id=sid, article_id=article_id, index=i, text=text, start=0,
                                            end=len(text), mentions=mentions, source=f"source-{a % 10}"))
            for target in [*actors, ENGAGEMENT_TARGET]:
                probs = dict(zip(labels, rng.dirichlet([1.0, 2.0, 1.0]).tolist()))
                predictions.append(PredictionRecord(sid, article_id, target, max(probs, key=probs.get), probs,
                                                    "synthetic"))
    return sentences, predictions


def synthetic_profile(*, n_gold: int = 1000, seed: int = 1) -> ErrorProfile:
    """Gold items per target kind whose probabilities come from a known confusion."""
    confusion = np.array([[0.55, 0.30, 0.15], [0.10, 0.60, 0.30], [0.05, 0.25, 0.70]])
    rng = np.random.default_rng(seed)
    kinds = {}
    for kind in ("engagement", "actor"):
        truth = rng.choice(3, size=n_gold, p=[0.2, 0.55, 0.25])
        draws = rng.gamma(4.0 * confusion[truth])
        kinds[kind] = GoldItems(truth=truth, probabilities=draws / draws.sum(axis=1, keepdims=True))
    return ErrorProfile(labels=load_label_set().stance, gold=f"synthetic gold ({n_gold} items per kind)",
                        model_version="synthetic", kinds=kinds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument("--corrected", action="store_true", help="correct model scores with a synthetic profile")
    args = parser.parse_args()
    profile = synthetic_profile() if args.corrected else None
    print("seconds: wall (CPU of this process; the machine is shared, CPU time is the steadier figure)")
    print(f"{'articles':>8} {'sentences':>9} {'predictions':>11} {'build s':>16} {'write s':>16} {'html MB':>8}")
    for n in args.articles:
        sentences, predictions = synthetic(n)
        t0, c0 = time.perf_counter(), time.process_time()
        report = build_report(sentences=sentences, predictions=predictions,
                              options=ReportOptions(n_resamples=args.bootstrap), error_profile=profile)
        t1, c1 = time.perf_counter(), time.process_time()
        with tempfile.TemporaryDirectory() as out:
            paths = write_report(report, out, sentences=sentences)
            t2, c2 = time.perf_counter(), time.process_time()
            size = paths.html.stat().st_size / 1e6
        build, write = f"{t1 - t0:.2f} ({c1 - c0:.2f})", f"{t2 - t1:.2f} ({c2 - c1:.2f})"
        print(f"{n:>8} {len(sentences):>9} {len(predictions):>11} {build:>16} {write:>16} {size:>8.1f}")


if __name__ == "__main__":
    main()
