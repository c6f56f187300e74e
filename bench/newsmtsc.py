"""NewsMTSC benchmark: train on train.jsonl, select on dev, score on the paper's two test sets.

Prints F1m (3-class macro-F1) and accuracy on experiments-rw/test.jsonl and
experiments-mt/test.jsonl next to the paper's Table 2 (../shared/reference/anchors.md),
plus training time and peak memory (RSS) on this machine.

    python bench/newsmtsc.py --model transformer --save work/models/newsmtsc-minilm
    python bench/newsmtsc.py --model baseline
    python bench/newsmtsc.py --model both          # each model in its own process (own peak RSS)

Model selection uses both dev sets together (experiments-rw/dev + experiments-mt/dev,
785 pairs): the transformer keeps the checkpoint with the best dev macro-F1 and the
temperature is fit on the same dev pairs. Test sets are never looked at before the end.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "newsmtsc"
if not DEFAULT_DATA.exists():
    DEFAULT_DATA = Path("/work/shared/data/newsmtsc")

#: The paper's Table 2 (Hamborg & Donnay, EACL 2021), F1m / accuracy, from anchors.md.
PAPER_TABLE2 = [
    ("BERT-SPC", 80.1, 80.7, 73.7, 76.1),
    ("BERT-TD", 79.4, 79.9, 75.6, 79.1),
    ("BERT-LCF", 79.7, 80.9, 77.7, 80.5),
    ("BERT-GRU-TSC", 80.2, 81.1, 77.3, 80.0),
    ("RoBERTa-SPC", 81.1, 82.7, 79.4, 81.6),
    ("RoBERTa-TD", 81.7, 82.5, 78.4, 81.1),
    ("RoBERTa-LCF", 81.4, 82.5, 81.2, 83.8),
    ("RoBERTa-GRU-TSC (best)", 83.1, 83.8, 82.5, 84.6),
]


def peak_rss_mib() -> float:
    """Peak resident set size of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


#: Command-line options (argparse dest) that set a TrainingArguments field of the same meaning.
TRAINING_OPTIONS = {"epochs": "epochs", "lr": "learning_rate", "batch_size": "batch_size", "threads": "threads",
                    "max_steps": "max_steps", "pooling": "pooling", "seed": "seed", "ema_decay": "ema_decay",
                    "layer_lr_decay": "layer_lr_decay", "rdrop_alpha": "rdrop_alpha"}


def run_one(model_name: str, data: Path, *, limit: int, training: dict, base_model: str | None, save: str | None,
            out_dir: Path, further_mentions: bool = False) -> dict:
    """Train ``model_name`` on NewsMTSC and score it; ``training`` sets TrainingArguments fields.

    ``further_mentions`` marks NewsMTSC's automatic coreferences of each target as mentions
    too, in every split (they are part of the released input, not of the labels).
    """
    import datasets

    from annotate.newsmtsc import load_newsmtsc
    from models.calibration import calibrate
    from models.inputs import from_dataset
    from models.metrics import accuracy, macro_f1
    from models.registry import create_model
    from models.training_args import TrainingArguments

    splits = load_newsmtsc(data, further_mentions=further_mentions)
    train = splits["train"].shuffle(seed=0).select(range(limit)) if limit else splits["train"]
    dev = datasets.concatenate_datasets([splits["dev_rw"], splits["dev_mt"]])
    X, y = from_dataset(train)
    X_dev, y_dev = from_dataset(dev)

    options = {}
    if model_name == "transformer":
        args = TrainingArguments.from_dict(training)
        options = {"args": args, "base_model": base_model}
    model = create_model(model_name, **options)
    started = time.perf_counter()
    model.fit(X, y, X_val=X_dev, y_val=y_dev)
    train_seconds = time.perf_counter() - started
    calibration = calibrate(model, X_dev, y_dev)
    model.metadata_["training_data"] = f"NewsMTSC train.jsonl ({len(X)} pairs); selection on dev_rw+dev_mt"

    results = {"model": model_name, "n_train": len(X), "further_mentions": further_mentions,
               "train_seconds": round(train_seconds, 1),
               "calibration": calibration, "history": model.metadata_.get("history")}
    metrics = {}
    for split in ("test_rw", "test_mt"):
        X_test, y_test = from_dataset(splits[split])
        started = time.perf_counter()
        if model_name == "transformer":
            model.with_runtime("fp32")
        pred = model.predict(X_test)
        truth = model.label_indices(y_test)
        pred_idx = model.label_indices(list(pred))
        seconds = time.perf_counter() - started
        k = len(model.classes_)
        metrics[split] = {"macro_f1": macro_f1(truth, pred_idx, n_classes=k), "accuracy": accuracy(truth, pred_idx),
                          "n": len(X_test), "predict_seconds": round(seconds, 2)}
    results["metrics"] = metrics
    model.metadata_["metrics"] = metrics
    results["peak_rss_mib"] = round(peak_rss_mib(), 1)
    results["model_version"] = model.model_version
    out_dir.mkdir(parents=True, exist_ok=True)
    result_file = out_dir / f"newsmtsc-{model_name}.json"
    result_file.write_text(json.dumps(results, indent=2, default=float) + "\n")
    if save:
        model.save(save)
        results["saved_to"] = save
        result_file.write_text(json.dumps(results, indent=2, default=float) + "\n")
    return results


def print_table(results: list[dict]) -> None:
    print()
    print(f"{'model':<34} {'test-rw F1m':>11} {'acc':>6}   {'test-mt F1m':>11} {'acc':>6}")
    for name, rw_f1, rw_acc, mt_f1, mt_acc in PAPER_TABLE2:
        print(f"{'paper: ' + name:<34} {rw_f1:>11.1f} {rw_acc:>6.1f}   {mt_f1:>11.1f} {mt_acc:>6.1f}")
    print(f"{'anchors: plain MiniLM fine-tune':<34} {78.5:>11.1f} {79.1:>6.1f}   {75.4:>11.1f} {78.3:>6.1f}")
    print(f"{'anchors: TF-IDF + LR':<34} {60.9:>11.1f} {'':>6}   {58.7:>11.1f} {'':>6}")
    for r in results:
        rw, mt = r["metrics"]["test_rw"], r["metrics"]["test_mt"]
        label = f"slant: {r['model']} (n={r['n_train']})"
        print(f"{label:<34} {100 * rw['macro_f1']:>11.1f} {100 * rw['accuracy']:>6.1f}   "
              f"{100 * mt['macro_f1']:>11.1f} {100 * mt['accuracy']:>6.1f}")
    print()
    for r in results:
        c = r["calibration"]
        print(f"{r['model']}: training {r['train_seconds']:.0f} s, peak RSS {r['peak_rss_mib']:.0f} MiB, "
              f"temperature {c['temperature']:.2f} (dev ECE {c['ece_before']:.3f} -> {c['ece_after']:.3f}), "
              f"version {r['model_version']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["transformer", "baseline", "both"], default="both")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="NewsMTSC folder")
    parser.add_argument("--limit", type=int, default=0, help="train on the first N shuffled pairs (smoke runs)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--threads", type=int, help="torch threads (default: TrainingArguments.threads)")
    parser.add_argument("--pooling", choices=["cls", "mean", "mean+target"],
                        help="classification head input (default: TrainingArguments.pooling)")
    parser.add_argument("--seed", type=int, help="training seed (default: TrainingArguments.seed)")
    parser.add_argument("--ema-decay", type=float, help="TrainingArguments.ema_decay (weight moving average)")
    parser.add_argument("--layer-lr-decay", type=float, help="TrainingArguments.layer_lr_decay")
    parser.add_argument("--rdrop-alpha", type=float, help="TrainingArguments.rdrop_alpha (R-Drop)")
    parser.add_argument("--further-mentions", action="store_true",
                        help="also mark NewsMTSC's automatic coreferences of each target, in every split")
    parser.add_argument("--max-steps", type=int, default=0, help="stop after N optimiser steps (smoke runs)")
    parser.add_argument("--base-model", help="local HF checkpoint dir (default: packaged MiniLM)")
    parser.add_argument("--save", help="save the transformer here (e.g. work/models/newsmtsc-minilm)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    ns = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    if ns.model == "both":
        results = []
        for name in ("baseline", "transformer"):
            cmd = [sys.executable, __file__, "--model", name, "--data", str(ns.data), "--out", str(ns.out),
                   "--limit", str(ns.limit)]
            passed = {**{dest: getattr(ns, dest) for dest in TRAINING_OPTIONS}, "base_model": ns.base_model,
                      "save": ns.save if name == "transformer" else None}
            for dest, value in passed.items():
                if value is not None:
                    cmd += ["--" + dest.replace("_", "-"), str(value)]
            if ns.further_mentions:
                cmd.append("--further-mentions")
            subprocess.run(cmd, check=True)
            results.append(json.loads((ns.out / f"newsmtsc-{name}.json").read_text()))
    else:
        training = {field: getattr(ns, dest) for dest, field in TRAINING_OPTIONS.items()
                    if getattr(ns, dest) is not None}
        results = [run_one(ns.model, ns.data, limit=ns.limit, training=training, base_model=ns.base_model,
                           save=ns.save if ns.model == "transformer" else None, out_dir=ns.out,
                           further_mentions=ns.further_mentions)]
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
