"""A model's error profile: its probabilities on gold items it did not train on, per target kind.

The report corrects model scores with it (``annotate.report.correction``); the format and
its reader live on the annotation side (``annotate.report.error_profile``), which never
imports ``models``. Where a profile comes from:

- ``slant train``: the trained model on the dataset's validation + test splits (held out
  from training and grouped by article; validation also chose the epoch and temperature,
  so the profile is slightly optimistic) -> ``<model>/error_profile.json``;
- ``slant evaluate --save-error-profile``: the evaluated split (not ``train``);
- ``slant crossval --error-profile FILE``: every article predicted by a model trained on
  the other articles (the recipe's errors on unseen articles; no single model_version).

The model card and ``slant_model.json`` carry a summary (gold set, items and confusion per kind).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from annotate.atomic import atomic_write_json
from annotate.report.correction import confusion
from annotate.report.error_profile import (
    CROSS_VALIDATED,
    ERROR_PROFILE_FILE,
    HELD_OUT,
    ErrorProfile,
    GoldItems,
    target_kind,
)
from models.base import META_FILE, StanceClassifier
from models.inputs import StanceInput, from_dataset

log = logging.getLogger(__name__)


def profile_from_probabilities(
    inputs: Sequence[StanceInput],
    truth: Sequence[int],
    probabilities: np.ndarray,
    *,
    labels: Sequence[str],
    gold: str,
    method: str = HELD_OUT,
    model_version: str | None = None,
    model_kind: str | None = None,
) -> ErrorProfile:
    """An :class:`ErrorProfile` from gold pairs, their true class indices ``(n,)`` and the
    model's probabilities ``(n, K)``, split by target kind (engagement vs actors)."""
    probs = np.asarray(probabilities, dtype=float)
    t = np.asarray(truth, dtype=np.int64)
    if probs.shape != (len(inputs), len(labels)) or t.shape != (len(inputs),):
        raise ValueError(f"need one truth and one probability row of {len(labels)} per input, got {t.shape} and "
                         f"{probs.shape} for {len(inputs)} inputs")
    kinds: dict[str, GoldItems] = {}
    for kind in sorted({target_kind(x.target) for x in inputs}):
        rows = np.array([target_kind(x.target) == kind for x in inputs])
        kinds[kind] = GoldItems(truth=t[rows], probabilities=probs[rows],
                                article_ids=tuple(x.article_id for x, keep in zip(inputs, rows) if keep))
    return ErrorProfile(labels=tuple(labels), gold=gold, method=method, model_version=model_version,
                        model_kind=model_kind, created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        kinds=kinds)


def profile_on(model: StanceClassifier, splits: Sequence[Any], *, gold: str) -> ErrorProfile:
    """``model``'s held-out profile on the rows of ``splits`` (``datasets.Dataset`` objects)."""
    inputs: list[StanceInput] = []
    labels: list[str] = []
    for split in splits:
        X, y = from_dataset(split)
        inputs += X
        labels += list(y)
    if not inputs:
        raise ValueError(f"{gold}: no gold pairs to measure the model's errors on")
    return profile_from_probabilities(inputs, model.label_indices(labels), model.predict_proba(inputs),
                                      labels=model.classes_, gold=gold, model_version=model.model_version,
                                      model_kind=model.kind)


def profile_summary(profile: ErrorProfile) -> dict[str, Any]:
    """The small form kept in ``slant_model.json`` and shown in the model card."""
    kinds = {}
    for kind, items in profile.kinds.items():
        matrix, counts = confusion(items.truth, items.probabilities)
        kinds[kind] = {"n": len(items), "counts": {label: int(c) for label, c in zip(profile.labels, counts)},
                       "confusion": [[None if not np.isfinite(x) else round(float(x), 4) for x in row]
                                     for row in matrix],
                       "articles": len(set(items.article_ids))}
    return {"file": ERROR_PROFILE_FILE, "gold": profile.gold, "method": profile.method,
            "created_at": profile.created_at, "kinds": kinds}


def store_error_profile(model: StanceClassifier, profile: ErrorProfile, directory: str | Path) -> Path:
    """Write ``error_profile.json`` into the saved model ``directory`` and refresh the summary in
    ``slant_model.json`` (and the transformer's model card). Returns the profile's path."""
    directory = Path(directory)
    path = directory / ERROR_PROFILE_FILE
    atomic_write_json(path, profile.to_dict())
    summary = profile_summary(profile)
    model.metadata_["error_profile"] = summary
    meta_path = directory / META_FILE
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["error_profile"] = summary
    atomic_write_json(meta_path, meta)
    if (directory / "README.md").is_file() and model.kind == "transformer":
        from models.model_card import write_model_card

        write_model_card(directory, model)
    log.info("error profile of %s on %s written to %s", model.model_version, profile.gold, path)
    return path


def store_held_out_profile(model: StanceClassifier, splits: Any, directory: str | Path) -> Path | None:
    """``slant train``'s profile: the validation + test splits of ``splits`` (a
    :class:`models.data.Splits`); None (and a log line) when the dataset has neither."""
    parts = [(name, split) for name, split in (("validation", splits.validation), ("test", splits.test))
             if split is not None and len(split)]
    if not parts:
        log.info("no validation or test split: no error profile, so reports of this model are uncorrected")
        return None
    selection = " and chose the epoch" if model.kind == "transformer" else ""
    gold = (f"{' + '.join(name for name, _ in parts)} split(s) of {splits.origin} (held out from training, grouped "
            "by article" + (f"; validation also fit the temperature{selection}" if parts[0][0] == "validation" else "")
            + ")")
    return store_error_profile(model, profile_on(model, [split for _, split in parts], gold=gold), directory)


__all__ = [
    "CROSS_VALIDATED",
    "HELD_OUT",
    "profile_from_probabilities",
    "profile_on",
    "profile_summary",
    "store_error_profile",
    "store_held_out_profile",
]
