"""``train()``: fit a registered model on a stance dataset, calibrate, score, save.

With ``pretrain``, the model first learns from another dataset in the same features
(e.g. NewsMTSC) and then from the in-domain data: the transformer is fine-tuned on the
pretraining data, saved to a temporary checkpoint, and fine-tuned again from there; the
baseline (which has no notion of continued training) is fit on both datasets together.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.base import StanceClassifier
from models.calibration import MIN_CALIBRATION_PAIRS, calibrate
from models.data import resolve_splits
from models.inputs import from_dataset
from models.registry import create_model
from models.training_args import TrainingArguments

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What :func:`train` returns."""

    model: StanceClassifier
    out: Path | None
    metrics: dict[str, Any] = field(default_factory=dict)
    calibration: dict[str, float] | None = None
    seconds: float = 0.0


def _model_params(model: str, args: TrainingArguments | None, base_model: str | None) -> dict[str, Any]:
    if model == "transformer":
        return {"args": args or TrainingArguments(), "base_model": base_model}
    return {}


def check_model_out(out: str | Path, *, kind: str) -> None:
    """``out`` must be new, an empty folder, or a saved Slant model of the same ``kind``
    (retrained in place); anything else raises ``FileExistsError``: saving into another
    model's folder would leave a mix of both (its weights, our metadata)."""
    from models.base import META_FILE

    path = Path(out)
    if not path.exists():
        return
    if not path.is_dir():
        raise FileExistsError(f"{path}: exists and is a file, not a model folder; choose another --out")
    if not any(path.iterdir()):
        return
    try:
        saved = json.loads((path / META_FILE).read_text(encoding="utf-8")).get("kind")
    except (OSError, ValueError, AttributeError):
        saved = None
    if saved != kind:
        what = f"a saved {saved} model" if saved else "not an empty folder or a saved Slant model"
        raise FileExistsError(f"{path}: is {what}; a {kind} model would be mixed into it; choose another --out")


def train(
    dataset: Any,
    *,
    model: str = "transformer",
    args: TrainingArguments | None = None,
    pretrain: Any = None,
    out: str | Path | None = None,
    base_model: str | None = None,
) -> TrainResult:
    """Train ``model`` ("transformer" or "baseline") on ``dataset``.

    Args:
        dataset: a ``DatasetDict``, a ``slant dataset`` folder or NewsMTSC data
            (see :mod:`models.data`); uses its train split, selects on validation, reports test.
        model: registry name.
        args: transformer training arguments.
        pretrain: another dataset in the same features to train on first.
        out: directory to save the model in (``None``: not saved).
        base_model: local HF checkpoint to fine-tune (default: packaged MiniLM).
    """
    from models.evaluate import evaluate_model

    if out is not None:
        check_model_out(out, kind=model)  # before hours of training, not after
    started = time.perf_counter()
    splits = resolve_splits(dataset)
    X, y = from_dataset(splits.train)
    X_val, y_val = from_dataset(splits.validation) if splits.validation is not None else (None, None)
    description = f"{splits.origin}: train {len(X)} pairs"
    if X_val is not None:
        description += f", validation {len(X_val)} pairs"

    pre_note, original_base = None, base_model
    with tempfile.TemporaryDirectory(prefix="slant-pretrain-") as tmp:
        if pretrain is not None:
            pre = resolve_splits(pretrain)
            X_pre, y_pre = from_dataset(pre.train)
            pre_note = f"{pre.origin}: train {len(X_pre)} pairs"
            if model == "transformer":
                log.info("pretraining on %s", pre_note)
                X_pre_val, y_pre_val = from_dataset(pre.validation) if pre.validation is not None else (None, None)
                first = create_model(model, **_model_params(model, args, base_model))
                first.fit(X_pre, y_pre, X_val=X_pre_val, y_val=y_pre_val)
                first.save(tmp)
                base_model = tmp
            else:
                X, y = list(X_pre) + list(X), list(y_pre) + list(y)
        log.info("training %s on %s", model, description)
        clf = create_model(model, **_model_params(model, args, base_model))
        clf.fit(X, y, X_val=X_val, y_val=y_val)
    if pre_note:
        clf.metadata_["pretrained_on"] = pre_note
        if model == "transformer":
            from models.transformer import default_base_model

            # The pretrained checkpoint was temporary: record where the chain started.
            clf.metadata_["base_model"] = str(original_base or default_base_model())
    clf.metadata_["training_data"] = description

    calibration = None
    if X_val is not None and len(X_val) >= MIN_CALIBRATION_PAIRS:
        calibration = calibrate(clf, X_val, y_val)
        clf.metadata_["calibration"] = calibration
    metrics: dict[str, Any] = {}
    if splits.test is not None and len(splits.test):
        metrics["test"] = evaluate_model(clf, splits.test)
        clf.metadata_["metrics"] = {"test": {k: metrics["test"][k] for k in ("macro_f1", "accuracy", "n")}}
    out_path = clf.save(out) if out is not None else None
    if out_path is not None:  # the errors the report corrects for (models.error_profile)
        from models.error_profile import store_held_out_profile

        store_held_out_profile(clf, splits, out_path)
    return TrainResult(model=clf, out=out_path, metrics=metrics, calibration=calibration,
                       seconds=time.perf_counter() - started)
