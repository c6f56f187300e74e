"""Seed variance and weight averaging on NewsMTSC: several fine-tunes, their uniform and
greedy weight averages ("model soups"), and their logit ensemble for reference.

    python bench/soup.py work/models/newsmtsc-s42 work/models/newsmtsc-s1 work/models/newsmtsc-s2 \
        --save work/models/newsmtsc-minilm

Every candidate is scored on dev (experiments-rw/dev + experiments-mt/dev, 785 pairs) and
on the two test sets, in fp32. The greedy soup adds ingredients in order of dev macro-F1
and keeps each only if dev macro-F1 does not fall. The model saved with ``--save`` is the
candidate with the best dev macro-F1 among the single models and the soups (one model's
inference cost; the ensemble is printed only as a reference), its temperature fit on dev.
Test sets play no part in any choice.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "newsmtsc"
if not DEFAULT_DATA.exists():
    DEFAULT_DATA = Path("/work/shared/data/newsmtsc")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", type=Path, help="saved transformer directories (same recipe, other seeds)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--save", type=Path, help="save the dev-selected single model or soup here")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "soup.json")
    ns = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import datasets

    from annotate.newsmtsc import load_newsmtsc
    from models.calibration import calibrate
    from models.inputs import from_dataset
    from models.metrics import accuracy, macro_f1
    from models.registry import load_model
    from models.weight_averaging import average_models

    splits = load_newsmtsc(ns.data)
    sets = {"dev": from_dataset(datasets.concatenate_datasets([splits["dev_rw"], splits["dev_mt"]])),
            "test_rw": from_dataset(splits["test_rw"]), "test_mt": from_dataset(splits["test_mt"])}

    def score(model) -> dict:
        out = {}
        for name, (X, y) in sets.items():
            logits = model.logits(X)
            truth = model.label_indices(y)
            out[name] = {"macro_f1": macro_f1(truth, logits.argmax(1), n_classes=len(model.classes_)),
                         "accuracy": accuracy(truth, logits.argmax(1)), "logits": logits, "truth": truth}
        return out

    rows, candidates = [], {}
    started = time.perf_counter()
    singles = []
    for directory in ns.models:
        model = load_model(directory, runtime="fp32")
        result = score(model)
        seed = model.metadata_.get("training_args", {}).get("seed")
        name = f"seed {seed} ({model.model_version})"
        singles.append((result["dev"]["macro_f1"], directory, result))
        rows.append((name, result))
        candidates[name] = (model, result)
    singles.sort(key=lambda t: -t[0])
    if len(ns.models) > 1:
        uniform = average_models(ns.models)
        result = score(uniform)
        rows.append((f"uniform soup of {len(ns.models)}", result))
        candidates[rows[-1][0]] = (uniform, result)
        greedy_dirs, greedy_f1 = [singles[0][1]], singles[0][0]
        for dev_f1, directory, _ in singles[1:]:
            trial = average_models([*greedy_dirs, directory])
            trial_result = score(trial)
            if trial_result["dev"]["macro_f1"] >= greedy_f1:
                greedy_dirs, greedy_f1 = [*greedy_dirs, directory], trial_result["dev"]["macro_f1"]
        if 1 < len(greedy_dirs) < len(ns.models):
            greedy = average_models(greedy_dirs)
            result = score(greedy)
            rows.append((f"greedy soup of {len(greedy_dirs)}", result))
            candidates[rows[-1][0]] = (greedy, result)
        ensemble = {}
        for name in sets:
            logits = np.mean([r[name]["logits"] for _, _, r in singles], axis=0)
            truth = singles[0][2][name]["truth"]
            ensemble[name] = {"macro_f1": macro_f1(truth, logits.argmax(1), n_classes=logits.shape[1]),
                              "accuracy": accuracy(truth, logits.argmax(1))}
        rows.append((f"logit ensemble of {len(ns.models)} (reference: {len(ns.models)}x the cost)", ensemble))

    print(f"\n{'candidate':<52} {'dev F1m':>7}   {'test-rw F1m':>11} {'acc':>5}   {'test-mt F1m':>11} {'acc':>5}")
    for name, r in rows:
        print(f"{name:<52} {100 * r['dev']['macro_f1']:>7.1f}   {100 * r['test_rw']['macro_f1']:>11.1f} "
              f"{100 * r['test_rw']['accuracy']:>5.1f}   {100 * r['test_mt']['macro_f1']:>11.1f} "
              f"{100 * r['test_mt']['accuracy']:>5.1f}")
    single_rw = [r["test_rw"]["macro_f1"] for _, _, r in singles]
    single_mt = [r["test_mt"]["macro_f1"] for _, _, r in singles]
    print(f"single models, mean ± sd over {len(singles)} seeds: test-rw {100 * np.mean(single_rw):.1f} ± "
          f"{100 * np.std(single_rw, ddof=1) if len(singles) > 1 else 0:.1f}, test-mt {100 * np.mean(single_mt):.1f} ± "
          f"{100 * np.std(single_mt, ddof=1) if len(singles) > 1 else 0:.1f}")
    chosen = max(candidates, key=lambda n: candidates[n][1]["dev"]["macro_f1"])
    print(f"chosen on dev: {chosen}  ({time.perf_counter() - started:.0f} s)")
    summary = {"candidates": [{"name": n, **{k: {m: v for m, v in r[k].items() if m in ("macro_f1", "accuracy")}
                                             for k in sets}} for n, r in rows],
               "chosen": chosen, "models": [str(m) for m in ns.models]}
    if ns.save:
        model, result = candidates[chosen]
        X_dev, y_dev = sets["dev"]
        model.metadata_["calibration"] = calibrate(model, X_dev, y_dev)
        model.metadata_["metrics"] = {k: {m: v for m, v in result[k].items() if m in ("macro_f1", "accuracy")}
                                      for k in ("test_rw", "test_mt")}
        model.metadata_["training_data"] = (model.metadata_.get("training_data")
                                            or "NewsMTSC train.jsonl; selection on dev_rw+dev_mt")
        model.save(ns.save)
        summary["saved"] = {"directory": str(ns.save), "model_version": model.model_version,
                            "temperature": model.temperature_}
        print(f"saved {model.model_version} to {ns.save} (temperature {model.temperature_:.2f})")
    ns.out.parent.mkdir(parents=True, exist_ok=True)
    ns.out.write_text(json.dumps(summary, indent=2, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
