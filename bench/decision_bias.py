"""Does a per-class decision bias tuned on NewsMTSC dev carry over to test?

    python bench/decision_bias.py work/models/newsmtsc-minilm-target work/models/newsmtsc-minilm-target-A

For each saved model: fp32 logits on dev (experiments-rw/dev + experiments-mt/dev) and on the
two test sets; an offset for each class's logit but the middle one (neutral, fixed at 0) is chosen
on a grid from -1 to 1 in steps of 0.1 for the best dev macro-F1, then applied to test. Test
sets play no part in the choice. Prints macro-F1 before and after for each split.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "newsmtsc"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", type=Path, help="saved transformer directories")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="NewsMTSC folder")
    ns = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import datasets

    from annotate.labels import stance_labels
    from annotate.newsmtsc import load_newsmtsc
    from models.inputs import from_dataset
    from models.metrics import macro_f1
    from models.registry import load_model

    splits = load_newsmtsc(ns.data)
    named = {"dev": datasets.concatenate_datasets([splits["dev_rw"], splits["dev_mt"]]),
             "test_rw": splits["test_rw"], "test_mt": splits["test_mt"]}
    stance = stance_labels()
    middle = stance[len(stance) // 2]  # the ordinal scale's midpoint (neutral) keeps offset 0
    grid = np.round(np.arange(-1.0, 1.001, 0.1), 2)
    for path in ns.models:
        model = load_model(path).with_runtime("fp32")
        classes = list(model.classes_)
        fixed = classes.index(middle)
        free = [k for k in range(len(classes)) if k != fixed]
        logits, truth = {}, {}
        for name, data in named.items():
            X, y = from_dataset(data)
            logits[name], truth[name] = model.logits(X), np.asarray(model.label_indices(y))

        def score(name: str, bias: np.ndarray) -> float:
            return macro_f1(truth[name], (logits[name] + bias).argmax(1), n_classes=len(classes))  # noqa: B023

        best, best_bias = -1.0, np.zeros(len(classes))
        for a in grid:
            for b in grid:
                bias = np.zeros(len(classes))
                bias[free] = (a, b)
                if (f1 := score("dev", bias)) > best:
                    best, best_bias = f1, bias
        zero = np.zeros(len(classes))
        shown = ", ".join(f"{c} {v:+.1f}" for c, v in zip(classes, best_bias))
        print(f"{path}: bias chosen on dev ({shown})")
        for name in named:
            print(f"  {name:<8} macro-F1 {100 * score(name, zero):5.1f} -> {100 * score(name, best_bias):5.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
