"""Score stance models on the unseen-article check set (``bench/unseen/``).

The check set holds articles written from standpoints the seeds lack (against engagement,
sympathetic to the Taliban, critical of Pakistan, a neutral wire report, Indian and Chinese
views, ...), labeled sentence by sentence through Label Studio (``bench/unseen/README.md``).
No model is trained on it. ``dev`` is for choosing between designs; ``test`` is scored, never
selected on.

Printed per model: stance macro-F1 and per-class F1 over every labeled (sentence, target)
pair (and separately for engagement and actors), the relevance precision/recall for
engagement when the model has a relevance head, and the article slant sign agreement: the
share of article x dimension cells (both scores sufficient) where the model's report score
and the human one have the same sign (scores within +-0.1 count as 0, "no slant").

    python bench/unseen.py --model work/models/seeds-transformer [--model DIR ...] [--split test|dev|both]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CHECKSET = HERE / "unseen"
sys.path.insert(0, str(HERE.parent))


def evaluate_checkset(model: Any, *, split: str = "test", dead_zone: float = 0.1) -> dict[str, Any]:
    """Scores of ``model`` (a saved model folder or a fitted classifier) on one split."""
    from sklearn.metrics import f1_score, precision_recall_fscore_support

    from annotate.corpus import load_manifest, read_sentences
    from annotate.labels import ENGAGEMENT_TARGET, load_label_set
    from annotate.report.build import build_report
    from annotate.report.inputs import load_annotations
    from annotate.report.sign_agreement import sign_agreement
    from models.predict import predict

    folder = CHECKSET / split
    labels = list(load_label_set().stance)
    sentences = read_sentences(folder / "sentences.jsonl")
    annotations, _ = load_annotations(folder / "annotations.jsonl")
    predicted = predict(sentences, model=model, progress=False).records
    by_pair = {(p.sentence_id, p.target): p for p in predicted}

    gold = {(a.sentence_id, a.target): a for a in annotations}
    pairs = [(k, a.label) for k, a in gold.items() if not a.off_target and a.label in labels]
    kinds: dict[str, tuple[list[str], list[str]]] = {"all": ([], []), "engagement": ([], []), "actors": ([], [])}
    for key, label in pairs:
        kind = "engagement" if key[1] == ENGAGEMENT_TARGET else "actors"
        for name in ("all", kind):
            kinds[name][0].append(label)
            kinds[name][1].append(by_pair[key].label)
    stance = {}
    for name, (truth, guess) in kinds.items():
        per_class = f1_score(truth, guess, labels=labels, average=None, zero_division=0)
        stance[name] = {"n": len(truth), "macro_f1": float(per_class.mean()),
                        "f1": {c: float(f) for c, f in zip(labels, per_class)}}

    relevance = None
    engagement = [(k, a) for k, a in gold.items() if k[1] == ENGAGEMENT_TARGET]
    if engagement and getattr(by_pair[engagement[0][0]], "relevance", None) is not None:
        truth = [not a.off_target for _, a in engagement]
        guess = [by_pair[k].relevance >= 0.5 for k, _ in engagement]
        p, r, f, _ = precision_recall_fscore_support(truth, guess, average="binary", zero_division=0)
        relevance = {"n": len(truth), "precision": float(p), "recall": float(r), "f1": float(f)}

    # As a new user would see it: the model's report has no human labels to lean on (so its
    # own relevance head, not the gold, decides which sentences count for engagement).
    manifest = load_manifest(folder / "manifest.toml")
    model_report = build_report(sentences=sentences, predictions=predicted, manifest=manifest)
    human_report = build_report(sentences=sentences, annotations=annotations, manifest=manifest)
    signs = sign_agreement(model_report, human_report, dead_zone=dead_zone)
    summary = {"split": split, "model_version": predicted[0].model_version if predicted else None,
               "macro_f1": round(stance["all"]["macro_f1"], 4),
               "critical_f1": round(stance["all"]["f1"]["critical"], 4),
               "engagement_macro_f1": round(stance["engagement"]["macro_f1"], 4),
               "actors_macro_f1": round(stance["actors"]["macro_f1"], 4),
               "sign_agreement": signs["overall"]["agreement"], "sign_cells": signs["overall"]["cells"]}
    if relevance:
        summary["relevance_precision"] = round(relevance["precision"], 4)
        summary["relevance_recall"] = round(relevance["recall"], 4)
    return {"summary": summary, "stance": stance, "relevance": relevance, "sign": signs}


def _print(result: dict[str, Any]) -> None:
    s = result["summary"]
    print(f"\n== {s['model_version']} on the {s['split']} split")
    for name, block in result["stance"].items():
        f1 = ", ".join(f"{c} {v:.3f}" for c, v in block["f1"].items())
        print(f"stance {name:<10} n={block['n']:<4} macro-F1 {block['macro_f1']:.3f}  ({f1})")
    if result["relevance"]:
        r = result["relevance"]
        print(f"relevance (engagement) n={r['n']}: precision {r['precision']:.3f}, recall {r['recall']:.3f}")
    print("article slant sign agreement (cells with both scores):")
    for dim, block in result["sign"]["dimensions"].items():
        print(f"  {dim:<24} {block['right']}/{block['cells']}")
    o = result["sign"]["overall"]
    print(f"  {'all':<24} {o['right']}/{o['cells']} = {o['agreement']:.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True, help="saved model folder (repeatable)")
    parser.add_argument("--split", choices=["dev", "test", "both"], default="test")
    parser.add_argument("--dead-zone", type=float, default=0.1)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    splits = ["dev", "test"] if args.split == "both" else [args.split]
    results = []
    for model in args.model:
        for split in splits:
            result = evaluate_checkset(model, split=split, dead_zone=args.dead_zone)
            result["model"] = model
            _print(result)
            results.append(result)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
