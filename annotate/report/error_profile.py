"""A model's error profile: its predictions on held-out gold items, per target kind.

Written by the model side (``models.error_profile``, as ``error_profile.json`` in the model
folder) and read by the report, which corrects model scores with it
(:mod:`annotate.report.correction`). The report never imports ``models``: this file format
is the whole interface. Format (JSON object)::

    {"format": "slant-error-profile", "version": 1,
     "labels": ["critical", "neutral", "favorable"],        # label_config.xml's stance labels
     "model_version": "baseline-1a2b..." | null,            # null: a cross-validated recipe
     "model_kind": "baseline",
     "method": "held_out" | "cross_validated",
     "gold": "validation + test splits of work/data (...)", # which gold set, in words
     "created_at": "2026-12-02T16:00:00+00:00",
     "kinds": {"engagement": {"truth": ["neutral", ...],   # gold label per item
                              "probabilities": [[0.1, 0.7, 0.2], ...],  # the model's, labels order
                              "article_ids": ["000_...", ...]},
               "actor": {...}}}

Target kinds: ``engagement`` (the sentence-level target) and ``actor`` (every actor target),
because a model errs differently on the two; a later split (e.g. "relevant engagement
only") is one more kind.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from annotate.labels import ENGAGEMENT_TARGET

ERROR_PROFILE_FILE = "error_profile.json"
FORMAT = "slant-error-profile"
VERSION = 1
ENGAGEMENT_KIND, ACTOR_KIND = "engagement", "actor"
KINDS = (ENGAGEMENT_KIND, ACTOR_KIND)
HELD_OUT, CROSS_VALIDATED = "held_out", "cross_validated"
_PROBABILITY_TOLERANCE = 1e-3


class ErrorProfileError(ValueError):
    """An error profile file that cannot be used; the message names the file and the field."""


def target_kind(target: str) -> str:
    """``"engagement"`` for the engagement target, ``"actor"`` for every actor id."""
    return ENGAGEMENT_KIND if target == ENGAGEMENT_TARGET else ACTOR_KIND


@dataclass(frozen=True)
class GoldItems:
    """Gold items of one target kind: true class ``(n,)``, model probabilities ``(n, K)``."""

    truth: np.ndarray
    probabilities: np.ndarray
    article_ids: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.truth.size)

    def without_articles(self, articles: Sequence[str]) -> GoldItems:
        """The items of other articles (e.g. leave-one-article-out)."""
        keep = np.array([a not in set(articles) for a in self.article_ids], dtype=bool)
        return GoldItems(self.truth[keep], self.probabilities[keep],
                         tuple(a for a, k in zip(self.article_ids, keep) if k))


@dataclass(frozen=True)
class ErrorProfile:
    """What a model's errors on gold items were; see the module docstring for the fields."""

    labels: tuple[str, ...]
    gold: str
    method: str = HELD_OUT
    model_version: str | None = None
    model_kind: str | None = None
    created_at: str = ""
    kinds: Mapping[str, GoldItems] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, "labels": list(self.labels),
                "model_version": self.model_version, "model_kind": self.model_kind, "method": self.method,
                "gold": self.gold, "created_at": self.created_at,
                "kinds": {kind: {"truth": [self.labels[int(t)] for t in items.truth],
                                 "probabilities": [[round(float(p), 6) for p in row] for row in items.probabilities],
                                 "article_ids": list(items.article_ids)}
                          for kind, items in self.kinds.items()}}

    def describe(self) -> str:
        """One line for readers: the gold set, how it was held out, and its size."""
        sizes = ", ".join(f"{len(items)} {kind}" for kind, items in self.kinds.items())
        how = "cross-validated predictions" if self.method == CROSS_VALIDATED else "held-out predictions"
        return f"{self.gold} ({how}; {sizes} gold items)"


def _fail(origin: str, message: str) -> ErrorProfileError:
    return ErrorProfileError(f"{origin}: {message}")


def profile_from_dict(data: Any, *, origin: str = "<error profile>",
                      labels: Sequence[str] | None = None) -> ErrorProfile:
    """Check and read an error profile dict; :class:`ErrorProfileError` names what is wrong.

    ``labels``: the stance labels the report uses; a profile of another label set is refused.
    """
    if not isinstance(data, Mapping) or data.get("format") != FORMAT:
        raise _fail(origin, f"not a Slant error profile (expected a JSON object with \"format\": \"{FORMAT}\")")
    if data.get("version") != VERSION:
        raise _fail(origin, f"error profile version {data.get('version')!r}; this Slant reads version {VERSION}")
    saved = data.get("labels")
    if not isinstance(saved, list) or not all(isinstance(x, str) for x in saved) or len(saved) < 2:
        raise _fail(origin, f"labels must be a list of at least two label names, got {saved!r}")
    if labels is not None and tuple(saved) != tuple(labels):
        raise _fail(origin, f"the profile's labels {saved} are not the stance labels {list(labels)} of "
                            f"label_config.xml; make the profile again for this label set")
    for key in ("gold", "method"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise _fail(origin, f"{key!r} must be a non-empty string")
    if data["method"] not in (HELD_OUT, CROSS_VALIDATED):
        raise _fail(origin, f"method must be {HELD_OUT!r} or {CROSS_VALIDATED!r}, got {data['method']!r}")
    version = data.get("model_version")
    if version is not None and not isinstance(version, str):
        raise _fail(origin, f"model_version must be a string or null, got {version!r}")
    kinds_in = data.get("kinds")
    if not isinstance(kinds_in, Mapping) or not kinds_in:
        raise _fail(origin, "'kinds' must be an object with gold items per target kind")
    index = {name: i for i, name in enumerate(saved)}
    kinds: dict[str, GoldItems] = {}
    for kind, items in kinds_in.items():
        where = f"kinds.{kind}"
        if kind not in KINDS:
            raise _fail(origin, f"{where}: unknown target kind; valid: {', '.join(KINDS)}")
        if not isinstance(items, Mapping):
            raise _fail(origin, f"{where}: must be an object with 'truth' and 'probabilities'")
        truth, probs = items.get("truth"), items.get("probabilities")
        articles = items.get("article_ids") or []
        if not isinstance(truth, list) or not isinstance(probs, list) or len(truth) != len(probs):
            raise _fail(origin, f"{where}: 'truth' and 'probabilities' must be lists of the same length")
        if not isinstance(articles, list) or (articles and len(articles) != len(truth)):
            raise _fail(origin, f"{where}: 'article_ids' must list one article per item")
        for i, (label, row) in enumerate(zip(truth, probs)):
            if label not in index:
                raise _fail(origin, f"{where}.truth[{i}]: {label!r} is not one of {saved}")
            if (not isinstance(row, list) or len(row) != len(saved)
                    or not all(isinstance(p, (int, float)) and not isinstance(p, bool) and math.isfinite(p)
                               and p >= 0 for p in row)):
                raise _fail(origin, f"{where}.probabilities[{i}]: need {len(saved)} finite numbers >= 0, got {row!r}")
            if abs(sum(row) - 1.0) > _PROBABILITY_TOLERANCE:
                raise _fail(origin, f"{where}.probabilities[{i}]: sums to {sum(row):.4f}, not 1")
        array = np.array(probs, dtype=float).reshape(len(probs), len(saved))
        kinds[kind] = GoldItems(truth=np.array([index[t] for t in truth], dtype=np.int64),
                                probabilities=array / array.sum(axis=1, keepdims=True) if len(array) else array,
                                article_ids=tuple(str(a) for a in articles))
    return ErrorProfile(labels=tuple(saved), gold=data["gold"], method=data["method"], model_version=version,
                        model_kind=data.get("model_kind") if isinstance(data.get("model_kind"), str) else None,
                        created_at=str(data.get("created_at") or ""), kinds=kinds)


def load_error_profile(path: str | Path, *, labels: Sequence[str] | None = None) -> ErrorProfile:
    """Read ``path``: an error profile JSON file, or a model folder holding ``error_profile.json``."""
    path = Path(path)
    if path.is_dir():
        if not (path / ERROR_PROFILE_FILE).is_file():
            raise ErrorProfileError(f"{path}: no {ERROR_PROFILE_FILE} in this model folder (made by `slant train`, "
                                    f"`slant evaluate --save-error-profile` or `slant crossval --error-profile`)")
        path = path / ERROR_PROFILE_FILE
    if not path.is_file():
        raise ErrorProfileError(f"{path}: error profile file not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ErrorProfileError(f"{path}: cannot read the error profile: {exc}") from None
    return profile_from_dict(data, origin=str(path), labels=labels)




@dataclass(frozen=True)
class ProfileCorrections:
    """What a report does with an error profile: a correction per target kind that has a
    usable one, and for the JSON/HTML which gold it came from and why a kind is not corrected.

    Attributes:
        corrections: target kind -> :class:`annotate.report.correction.Correction`.
        info: JSON-ready summary (``profile``, ``kinds``: status, reason, gold counts, confusion).
        findings: report problems (e.g. a profile of another model).
        uninformative: kinds whose gold shows the classifier cannot tell the classes apart.
    """

    corrections: Mapping[str, Any]
    info: dict[str, Any]
    findings: tuple[str, ...] = ()
    uninformative: frozenset[str] = frozenset()


def base_model_version(version: str) -> str:
    """``"transformer-ab12+int8"`` -> ``"transformer-ab12"``: a runtime suffix is the same weights."""
    return version.split("+", 1)[0]


def corrections_for(
    profile: ErrorProfile | None,
    *,
    values: Sequence[float],
    model_versions: Sequence[str],
    n_resamples: int,
    seed: int,
    origin: str | None = None,
) -> ProfileCorrections:
    """Fit the correction of each target kind in ``profile`` (``None``: nothing is corrected).

    A profile of another model than the predictions' is not applied (a finding says so);
    a kind whose confusion is degenerate (:class:`~annotate.report.correction.DegenerateConfusionError`)
    stays uncorrected with the reason recorded, or, when the gold shows the classifier cannot
    tell the classes apart, is "uninformative" (its scores get the whole scale as interval). The gold resamples of a kind are seeded by
    ``seed`` and the kind only, so they do not depend on the articles in the report.
    """
    from annotate.report.correction import DegenerateConfusionError, fit_correction
    from annotate.report.scoring import rng_for

    if profile is None:
        return ProfileCorrections({}, {"profile": None, "kinds": {},
                                       "note": "no error profile was given, so model scores are uncorrected"})
    described = {"file": origin, "gold": profile.gold, "method": profile.method,
                 "model_version": profile.model_version, "model_kind": profile.model_kind,
                 "created_at": profile.created_at, "description": profile.describe()}
    versions = sorted({base_model_version(v) for v in model_versions})
    if profile.model_version is not None and versions and versions != [base_model_version(profile.model_version)]:
        where = f" {origin}" if origin else ""
        finding = (f"error profile{where} is of model {profile.model_version}, the predictions are from "
                   f"{', '.join(versions)}: model scores are left uncorrected")
        return ProfileCorrections({}, {"profile": described, "kinds": {}, "note": finding}, (finding,))
    corrections, kinds, uninformative = {}, {}, set()
    for kind in KINDS:
        items = profile.kinds.get(kind)
        summary: dict[str, Any] = {"n_gold": len(items) if items is not None else 0}
        if items is None or not len(items):
            summary.update(status="uncorrected", reason=f"the profile has no gold items for {kind} targets")
        else:
            counts = np.bincount(items.truth, minlength=len(profile.labels))
            summary["counts"] = {label: int(c) for label, c in zip(profile.labels, counts)}
            try:
                correction = fit_correction(items.truth, items.probabilities, values=values, labels=profile.labels,
                                            n_resamples=n_resamples, rng=rng_for(seed, "confusion", kind))
            except DegenerateConfusionError as exc:
                summary.update(status="uninformative" if exc.uninformative else "uncorrected",
                               reason=f"{kind} targets: {exc}")
                if exc.uninformative:
                    uninformative.add(kind)
            else:
                corrections[kind] = correction
                summary.update(status="corrected", method=correction.method,
                               confusion=[[round(float(x), 6) for x in row] for row in correction.matrix],
                               n_degenerate_resamples=correction.n_degenerate)
        kinds[kind] = summary
    return ProfileCorrections(corrections, {"profile": described, "kinds": kinds},
                              uninformative=frozenset(uninformative))


__all__ = [
    "ACTOR_KIND",
    "CROSS_VALIDATED",
    "ENGAGEMENT_KIND",
    "ERROR_PROFILE_FILE",
    "HELD_OUT",
    "KINDS",
    "ErrorProfile",
    "ErrorProfileError",
    "GoldItems",
    "ProfileCorrections",
    "base_model_version",
    "corrections_for",
    "load_error_profile",
    "profile_from_dict",
    "target_kind",
]
