"""Does the model's interval contain the human score on the seeds? Leave-one-article-out.

Each seed article is scored by a model trained on the other four articles (``slant crossval``'s
folds) and corrected with the confusion of the other folds' out-of-fold predictions, so no
article scores itself and no article's gold corrects its own score. Human scores come from
the seeds' gold labels (seeds/gold/export.json). For every article x dimension cell where
both are scores, prints whether the human score lies inside the model's corrected interval,
and inside the raw (uncorrected, sentence-only) one for comparison, by correction status:
a cell is "uninformative" when the other folds' gold shows the classifier cannot tell the
stances apart (its interval is then the whole scale and contains any human score; such cells
are counted apart, they are no evidence of a good interval).

    python bench/seeds_coverage.py [--model baseline|transformer] [--bootstrap 2000] [--cells]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="baseline", choices=["baseline", "transformer"])
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=None, help="transformer epochs (default: the training default)")
    parser.add_argument("--cells", action="store_true", help="print every cell")
    args = parser.parse_args()

    from annotate.corpus import ingest_paths, load_manifest
    from annotate.dataset import build_dataset
    from annotate.labelstudio.pull import pull_from_file
    from annotate.report import ReportOptions, build_report
    from models.crossval import crossval
    from models.predict import predict
    from models.training_args import TrainingArguments

    started = time.perf_counter()
    manifest = load_manifest(ROOT / "seeds" / "manifest.toml")
    sentences = ingest_paths([ROOT / "seeds"], manifest=manifest).records
    annotations = pull_from_file(ROOT / "seeds" / "gold" / "export.json").records
    dataset = build_dataset(annotations, sentences=sentences, manifest=manifest)

    predictions = {}

    def predict_held_out(article: str, model) -> None:
        held_out = [s for s in sentences if s.article_id == article]
        predictions[article] = predict(held_out, model=model, progress=False).records

    training = None
    if args.model == "transformer":  # the main job's setting for the seeds (balanced classes)
        training = TrainingArguments(class_weight="balanced", show_progress=False,
                                     **({"epochs": args.epochs} if args.epochs else {}))
    cv = crossval(dataset, model=args.model, args=training, on_fold=predict_held_out)
    profile = cv.error_profile
    options = ReportOptions(n_resamples=args.bootstrap)
    inside = {"corrected": [], "raw": []}
    status: list[str] = []
    infos = []
    print(f"{args.model}: leave-one-article-out pooled macro-F1 {cv.pooled_macro_f1:.3f} over {len(cv.folds)} folds")
    if args.cells:
        print(f"{'article':<22} {'dimension':<24} {'human':>6} {'corrected [interval]':>26} {'raw [interval]':>24}")
    for article in sorted(predictions):
        others = replace(profile, gold=f"out-of-fold predictions of the other {len(cv.folds) - 1} articles",
                         kinds={k: items.without_articles([article]) for k, items in profile.kinds.items()})
        report = build_report(sentences=[s for s in sentences if s.article_id == article],
                              predictions=predictions[article],
                              annotations=[a for a in annotations if a.article_id == article],
                              manifest=manifest, options=options, error_profile=others)
        infos.append(report["correction"])
        for key, entry in report["articles"][article]["dimensions"].items():
            human, model = entry["human"], entry["model"]
            if not human or not model or human["score"] is None or model["score"] is None:
                continue
            h = human["score"]
            status.append(model["correction"])
            inside["corrected"].append(model["ci_low"] <= h <= model["ci_high"])
            inside["raw"].append(model["raw_ci_low"] <= h <= model["raw_ci_high"])
            if args.cells:
                print(f"{article:<22} {key:<24} {h:>+6.2f} {model['score']:>+6.2f} [{model['ci_low']:+.2f}, "
                      f"{model['ci_high']:+.2f}] {'in ' if inside['corrected'][-1] else 'OUT'} "
                      f"{model['raw_score']:>+6.2f} [{model['raw_ci_low']:+.2f}, {model['raw_ci_high']:+.2f}] "
                      f"{'in ' if inside['raw'][-1] else 'OUT'} {model['correction']}")
    for kind in ("engagement", "actor"):
        reasons = sorted({r.get("kinds", {}).get(kind, {}).get("reason", "") for r in infos} - {""})
        print(f"{kind}: " + (f"{len(reasons)} fold(s) not corrected, e.g. {reasons[0]}" if reasons else
                             "corrected in every fold"))
    n = len(status)
    for name in ("corrected", "uninformative", "uncorrected"):
        cells = [i for i, s in enumerate(status) if s == name]
        if cells:
            hits = sum(inside["corrected"][i] for i in cells)
            raw_hits = sum(inside["raw"][i] for i in cells)
            print(f"{name:>13} cells: {len(cells):>3}/{n}; human score inside the model's 95% interval in "
                  f"{hits}/{len(cells)} ({100 * hits / len(cells):.1f}%), inside the raw interval in {raw_hits}/"
                  f"{len(cells)} ({100 * raw_hits / len(cells):.1f}%)")
    hits, raw_hits = sum(inside["corrected"]), sum(inside["raw"])
    print(f"{'all':>13} cells: {n}; inside the model's interval {hits}/{n} ({100 * hits / max(n, 1):.1f}%), "
          f"inside the raw interval {raw_hits}/{n} ({100 * raw_hits / max(n, 1):.1f}%)")
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
