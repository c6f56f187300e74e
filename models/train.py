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
from models.transfer import TransferMix, transfer_pairs

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


def read_relevance_rows(dataset: Any) -> list[dict[str, Any]]:
    """The relevance rows of a ``slant dataset`` folder (``annotate.dataset.RELEVANCE_FILE``);
    empty for anything else (an in-memory dataset, NewsMTSC, a folder saved without them).

    Raises ValueError naming ``file:line`` for a line that is not a relevance row."""
    from annotate.dataset import RELEVANCE_FILE

    if not isinstance(dataset, (str, Path)) or not (Path(dataset) / RELEVANCE_FILE).is_file():
        return []
    from annotate.jsonl import iter_jsonl

    def parse(row: dict[str, Any]) -> dict[str, Any]:
        if not (isinstance(row.get("text"), str) and isinstance(row.get("about"), bool)
                and row.get("split") in ("train", "validation", "test")):
            raise ValueError("a relevance row needs a string text, a boolean about and a split")
        return row

    return [row for _, row in iter_jsonl(Path(dataset) / RELEVANCE_FILE, parse, error=ValueError)]


def _fit_relevance(clf: StanceClassifier, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Fit ``clf``'s relevance head on the train and validation rows; precision/recall on test."""
    from annotate.labels import ENGAGEMENT_TARGET
    from models.inputs import StanceInput
    from models.relevance import MIN_PER_CLASS

    def pairs(split_rows):
        return [StanceInput(text=r["text"], target=ENGAGEMENT_TARGET, target_text=ENGAGEMENT_TARGET,
                            sentence_id=r.get("sentence_id", ""), article_id=r.get("article_id", ""))
                for r in split_rows]

    fit_rows = [r for r in rows if r["split"] in ("train", "validation")]
    about = [r["about"] for r in fit_rows]
    if not hasattr(clf, "fit_relevance") or min(sum(about), len(about) - sum(about)) < MIN_PER_CLASS:
        return None
    clf.fit_relevance(pairs(fit_rows), about)
    test_rows = [r for r in rows if r["split"] == "test"]
    result: dict[str, Any] = {"n_train": len(fit_rows), "n_test": len(test_rows)}
    if test_rows:
        from sklearn.metrics import precision_recall_fscore_support

        _, relevance = clf.predict_proba_and_relevance(pairs(test_rows))
        guess = relevance >= clf.relevance_.threshold
        p, r, f, _ = precision_recall_fscore_support([r["about"] for r in test_rows], guess, average="binary",
                                                     zero_division=0)
        result.update(precision=float(p), recall=float(r), f1=float(f))
    clf.metadata_.setdefault("relevance", {}).update(metrics=result)
    return result


def train(
    dataset: Any,
    *,
    model: str = "transformer",
    args: TrainingArguments | None = None,
    pretrain: Any = None,
    out: str | Path | None = None,
    base_model: str | None = None,
    transfer: TransferMix | None = None,
    in_domain_repeat: int = 1,
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
        transfer: draw this mix of the shipped transfer data (``models.transfer``) and train
            on it together with the dataset's train split, in one stage.
        in_domain_repeat: with ``transfer``, the train split is repeated this many times so
            the few in-domain pairs are not drowned by the transfer pairs.

    A dataset folder with relevance rows (``slant dataset`` writes them) also trains the
    model's engagement relevance head, scored on the test split's rows (``metrics["relevance"]``).
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
    relevance_rows = read_relevance_rows(dataset)
    transfer_note = None
    if transfer is not None:
        if isinstance(in_domain_repeat, bool) or not isinstance(in_domain_repeat, int) or in_domain_repeat < 1:
            raise ValueError(f"in_domain_repeat must be an integer >= 1, got {in_domain_repeat!r}")
        X_t, y_t, transfer_note = transfer_pairs(transfer)
        X, y = list(X) * in_domain_repeat + X_t, list(y) * in_domain_repeat + y_t
        description += f"; with {len(X_t)} transfer pairs (train split x{in_domain_repeat})"
        transfer_note["in_domain_repeat"] = in_domain_repeat

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
    if transfer_note is not None:
        clf.metadata_["transfer"] = transfer_note
    relevance_metrics = _fit_relevance(clf, relevance_rows) if relevance_rows else None

    calibration = None
    if X_val is not None and len(X_val) >= MIN_CALIBRATION_PAIRS:
        calibration = calibrate(clf, X_val, y_val)
        clf.metadata_["calibration"] = calibration
    metrics: dict[str, Any] = {}
    if splits.test is not None and len(splits.test):
        metrics["test"] = evaluate_model(clf, splits.test)
        clf.metadata_["metrics"] = {"test": {k: metrics["test"][k] for k in ("macro_f1", "accuracy", "n")}}
    if relevance_metrics is not None:
        metrics["relevance"] = relevance_metrics
    out_path = clf.save(out) if out is not None else None
    if out_path is not None:  # the errors the report corrects for (models.error_profile)
        from models.error_profile import store_held_out_profile

        store_held_out_profile(clf, splits, out_path)
    return TrainResult(model=clf, out=out_path, metrics=metrics, calibration=calibration,
                       seconds=time.perf_counter() - started)
