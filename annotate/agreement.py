"""Inter-annotator agreement: pure metric functions and a per-target report.

Open-source Label Studio computes no agreement, so Slant does. The metric functions are
pure numpy, take keyword-only options, and work on two data shapes:

- ``ratings``: ``(n_items, n_raters)`` float array of category codes ``0..n_categories-1``
  with ``NaN`` where a rater did not label the item (missing labels are normal: not every
  annotator sees every task).
- ``counts``: ``(n_items, n_categories)`` array, ``counts[i, c]`` = number of raters who put
  item ``i`` in category ``c``. Fleiss' kappa, Krippendorff's alpha and percent agreement
  only depend on these counts (:func:`counts_from_ratings` converts).

Category codes are the stance classes' indices in ``label_config.xml``, whose order is the
ordinal order (critical < neutral < favorable), so the ordinal alpha needs no extra input.

Edge cases, the same for every coefficient (see ``docs/agreement.md``):

- Items with fewer than two labels carry no agreement information and drop out.
- No item left (or, for Cohen's kappa, no item both raters labeled): ``NaN``.
- Chance agreement is total (every label is the same single category): the coefficient's
  formula is 0/0. We return ``1.0`` when the observed agreement is also perfect (all raters
  agree on every item, which is the only possibility when one category is used) rather than
  raising or returning ``NaN``. scikit-learn's ``cohen_kappa_score`` returns ``NaN`` there,
  statsmodels' ``fleiss_kappa`` divides by zero, and the ``krippendorff`` package raises
  or returns ``NaN``; everywhere else the values are identical to theirs.
- Perfect agreement with several categories used gives exactly ``1.0``.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from annotate.labels import load_label_set
from annotate.schema import AnnotationRecord, records_of

log = logging.getLogger(__name__)

#: Krippendorff's alpha levels of measurement (a registry: name -> squared distance maker).
ALPHA_LEVELS = ("nominal", "ordinal")


# ----------------------------------------------------------------------------- conversions


def counts_from_ratings(ratings: np.ndarray, *, n_categories: int) -> np.ndarray:
    """Count table ``(n_items, n_categories)`` from ``ratings`` ``(n_items, n_raters)``.

    ``NaN`` entries are missing labels and are not counted. Raises ``ValueError`` on a code
    outside ``0..n_categories-1``.
    """
    ratings = np.asarray(ratings, dtype=float)
    if ratings.ndim != 2:
        raise ValueError(f"ratings must be 2-D (n_items, n_raters), got shape {ratings.shape}")
    present = ~np.isnan(ratings)
    codes = ratings[present]
    if codes.size and (codes.min() < 0 or codes.max() >= n_categories or np.any(codes != np.round(codes))):
        raise ValueError(f"ratings must be integer codes in 0..{n_categories - 1} or NaN")
    counts = np.zeros((ratings.shape[0], n_categories), dtype=float)
    rows = np.nonzero(present)[0]
    np.add.at(counts, (rows, codes.astype(int)), 1.0)
    return counts


def _as_counts(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, dtype=float)
    if counts.ndim != 2:
        raise ValueError(f"counts must be 2-D (n_items, n_categories), got shape {counts.shape}")
    if np.any(counts < 0):
        raise ValueError("counts must be non-negative")
    return counts[counts.sum(axis=1) >= 2]  # items with < 2 labels carry no agreement information


# ----------------------------------------------------------------------------- metrics


def percent_agreement(counts: np.ndarray) -> float:
    """Observed agreement: the share of agreeing rater pairs, averaged over items.

    Args:
        counts: ``(n_items, n_categories)`` label counts per item.

    Returns:
        A value in [0, 1]; for two raters, the share of items they labeled alike. Each item
        with ``n`` labels weighs equally, whatever ``n`` (this is Fleiss' ``P-bar``). Items with
        fewer than two labels drop out; ``NaN`` if none is left.
    """
    counts = _as_counts(counts)
    if counts.shape[0] == 0:
        return math.nan
    n = counts.sum(axis=1)
    per_item = (np.sum(counts * (counts - 1), axis=1)) / (n * (n - 1))
    return float(per_item.mean())


def cohen_kappa(labels_a: Sequence[float], labels_b: Sequence[float], *, n_categories: int | None = None) -> float:
    """Cohen's kappa between two raters (unweighted), as scikit-learn's ``cohen_kappa_score``.

    Args:
        labels_a, labels_b: ``(n_items,)`` category codes of the same items; ``NaN`` =
            missing. Only items both raters labeled count.
        n_categories: size of the category set (defaults to the largest code + 1); it does
            not change the value, only validates the codes.

    Returns:
        ``(p_o - p_e) / (1 - p_e)``. ``NaN`` when no item was labeled by both; ``1.0`` when
        both used one and the same category throughout (``p_e = 1``; scikit-learn gives
        ``NaN``); with ``p_e = 1`` and disagreement (impossible for a single category) ``NaN``.
    """
    a = np.asarray(labels_a, dtype=float)
    b = np.asarray(labels_b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"labels_a and labels_b must be 1-D of the same length, got {a.shape} and {b.shape}")
    both = ~np.isnan(a) & ~np.isnan(b)
    a, b = a[both], b[both]
    if np.any(a != np.round(a)) or np.any(b != np.round(b)):
        raise ValueError("codes must be whole numbers (category indices)")
    a, b = a.astype(int), b.astype(int)
    if a.size == 0:
        return math.nan
    k = n_categories if n_categories is not None else int(max(a.max(), b.max())) + 1
    if min(a.min(), b.min()) < 0 or max(a.max(), b.max()) >= k:
        raise ValueError(f"codes must lie in 0..{k - 1}")
    confusion = np.zeros((k, k))
    np.add.at(confusion, (a, b), 1.0)
    return _kappa_from_confusion(confusion)


def _kappa_from_confusion(confusion: np.ndarray) -> float:
    n = confusion.sum()
    if n == 0:
        return math.nan
    p_o = np.trace(confusion) / n
    p_e = float(confusion.sum(axis=1) @ confusion.sum(axis=0)) / n**2
    return _chance_corrected(p_o, p_e)


def _chance_corrected(observed: float, expected: float) -> float:
    """``(observed - expected) / (1 - expected)`` with the degenerate ``expected = 1`` case."""
    if math.isclose(expected, 1.0, rel_tol=0, abs_tol=1e-12):
        return 1.0 if math.isclose(observed, 1.0, rel_tol=0, abs_tol=1e-12) else math.nan
    return float((observed - expected) / (1.0 - expected))


def fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' kappa from label counts, as statsmodels' ``fleiss_kappa(table, method="fleiss")``.

    Args:
        counts: ``(n_items, n_categories)`` label counts per item. Items may have different
            numbers of labels (missing labels): each item's agreement is computed over its
            own ``n_i`` labels and category shares are pooled over all labels (the usual
            generalisation; with a constant ``n`` it is Fleiss' formula exactly). Items with
            fewer than two labels drop out.

    Returns:
        ``(P_bar - P_e) / (1 - P_e)``; ``NaN`` with no item left; ``1.0`` when one category
        holds every label (``P_e = 1``; statsmodels divides by zero).
    """
    counts = _as_counts(counts)
    if counts.shape[0] == 0:
        return math.nan
    p_bar = percent_agreement(counts)
    shares = counts.sum(axis=0) / counts.sum()
    return _chance_corrected(p_bar, float(np.sum(shares**2)))


def _squared_distances(marginals: np.ndarray, level: str) -> np.ndarray:
    """Krippendorff's squared difference function ``delta^2[c, k]`` over category codes."""
    k = marginals.shape[-1]
    if level == "nominal":
        return 1.0 - np.eye(k)
    if level == "ordinal":
        # delta^2(c, k) = (sum_{g=c..k} n_g - (n_c + n_k) / 2)^2, with n_g the value marginals.
        cumulative = np.concatenate([[0.0], np.cumsum(marginals)])
        lo = np.minimum.outer(np.arange(k), np.arange(k))
        hi = np.maximum.outer(np.arange(k), np.arange(k))
        between = cumulative[hi + 1] - cumulative[lo]
        return (between - (marginals[:, None] + marginals[None, :]) / 2.0) ** 2
    raise ValueError(f"unknown level {level!r}; valid levels: {', '.join(ALPHA_LEVELS)}")


def _coincidences(counts: np.ndarray) -> np.ndarray:
    """Per-item coincidence matrices ``(n_items, k, k)`` (Krippendorff), items with >= 2 labels."""
    n = counts.sum(axis=1)
    outer = counts[:, :, None] * counts[:, None, :]
    idx = np.arange(counts.shape[1])
    outer[:, idx, idx] -= counts
    return outer / (n - 1)[:, None, None]


def krippendorff_alpha(counts: np.ndarray, *, level: str = "nominal") -> float:
    """Krippendorff's alpha from label counts, as the ``krippendorff`` package's ``alpha``.

    Args:
        counts: ``(n_items, n_categories)`` label counts per item; column order is the
            ordinal order for ``level="ordinal"`` (codes are the stance classes' indices in
            ``label_config.xml``: critical < neutral < favorable). Items with fewer than two
            labels are not pairable and drop out, as in Krippendorff's definition.
        level: ``"nominal"`` or ``"ordinal"``.

    Returns:
        ``1 - D_o / D_e``. ``NaN`` with no pairable item; ``1.0`` when every pairable label
        is the same category (``D_e = 0``; the package raises or returns ``NaN``).
    """
    if level not in ALPHA_LEVELS:
        raise ValueError(f"unknown level {level!r}; valid levels: {', '.join(ALPHA_LEVELS)}")
    counts = _as_counts(counts)
    if counts.shape[0] == 0:
        return math.nan
    coincidence = _coincidences(counts).sum(axis=0)
    return _alpha_from_coincidence(coincidence, level)


def _alpha_from_coincidence(coincidence: np.ndarray, level: str) -> float:
    marginals = coincidence.sum(axis=1)
    total = marginals.sum()
    if total <= 1:
        return math.nan
    delta = _squared_distances(marginals, level)
    observed = float(np.sum(coincidence * delta))
    expected = float(marginals @ delta @ marginals) / (total - 1.0)
    if expected <= 1e-12:
        return 1.0 if observed <= 1e-12 else math.nan
    return 1.0 - observed / expected


# ----------------------------------------------------------------------------- bootstrap


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a percentile bootstrap interval."""

    value: float
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict[str, float | None]:
        return {k: (None if math.isnan(v) else round(v, 6)) for k, v in
                (("value", self.value), ("ci_low", self.ci_low), ("ci_high", self.ci_high))}


def bootstrap_ci(
    statistic: Callable[[np.ndarray], float],
    data: np.ndarray,
    *,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """Percentile bootstrap interval of ``statistic`` by resampling items (rows) with replacement.

    Args:
        statistic: maps an array shaped like ``data`` (rows = items) to a float.
        data: ``(n_items, ...)``; rows are resampled, never the raters inside a row.
        n_boot: number of resamples; 0 gives ``NaN`` bounds.
        confidence: the interval's coverage, e.g. 0.95.
        seed: seeds ``numpy.random.default_rng``: the same seed gives the same interval.

    Returns:
        :class:`Estimate` of the statistic on ``data`` and the ``(1-confidence)/2`` and
        ``(1+confidence)/2`` quantiles over resamples. Resamples where the statistic is
        undefined (``NaN``) are left out; with fewer than two items the interval is ``NaN``.
    """
    data = np.asarray(data)
    value = float(statistic(data))
    n = data.shape[0]
    if n_boot <= 0 or n < 2 or math.isnan(value):
        return Estimate(value, math.nan, math.nan)
    rng = np.random.default_rng(seed)
    draws = np.array([statistic(data[rng.integers(0, n, size=n)]) for _ in range(n_boot)], dtype=float)
    draws = draws[~np.isnan(draws)]
    if draws.size == 0:
        return Estimate(value, math.nan, math.nan)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(draws, [alpha, 1.0 - alpha])
    return Estimate(value, float(low), float(high))


# ----------------------------------------------------------------------------- report


def collect_labels(records: Iterable[AnnotationRecord]) -> tuple[dict[tuple[str, str], dict[str, int]], dict[str, int]]:
    """Usable labels per item and what was excluded.

    Returns:
        ``(labels, excluded)``: ``labels[(sentence_id, target)][annotator] = class index``
        for submitted, non-off-target labels (an annotator's latest annotation wins when
        there are several); ``excluded`` counts records left out by reason:
        ``skipped``, ``cancelled``, ``off_target``, ``blank`` (submitted with no label),
        ``superseded`` (an older annotation by the same annotator), ``unknown_label``.
    """
    stance = load_label_set().stance
    excluded: Counter[str] = Counter()
    chosen: dict[tuple[str, str, str], AnnotationRecord] = {}
    for record in records:
        if record.status != "submitted":
            excluded[record.status if record.status in ("skipped", "cancelled") else "not_submitted"] += 1
            continue
        key = (record.sentence_id, record.target, record.annotator)
        if key in chosen:
            excluded["superseded"] += 1
            if record.recency() < chosen[key].recency():
                continue
        chosen[key] = record
    labels: dict[tuple[str, str], dict[str, int]] = {}
    for (sentence_id, target, annotator), record in chosen.items():
        if record.off_target:
            excluded["off_target"] += 1
        elif record.label is None:
            excluded["blank"] += 1
        elif record.label not in stance:
            excluded["unknown_label"] += 1
            log.warning("label %r of %s on %s/%s is not a stance class; ignored",
                        record.label, annotator, sentence_id, target)
        else:
            labels.setdefault((sentence_id, target), {})[annotator] = stance.index(record.label)
    for reason in ("skipped", "cancelled", "off_target", "blank", "superseded"):
        excluded.setdefault(reason, 0)
    return labels, dict(excluded)


def _ratings_matrix(items: Mapping[tuple[str, str], Mapping[str, int]], annotators: Sequence[str]) -> np.ndarray:
    matrix = np.full((len(items), len(annotators)), np.nan)
    column = {a: j for j, a in enumerate(annotators)}
    for i, votes in enumerate(items.values()):
        for annotator, code in votes.items():
            matrix[i, column[annotator]] = code
    return matrix


def _group_report(
    items: Mapping[tuple[str, str], Mapping[str, int]], *, n_categories: int, n_boot: int, seed: int,
    confidence: float,
) -> dict[str, Any]:
    annotators = sorted({a for votes in items.values() for a in votes})
    ratings = _ratings_matrix(items, annotators)
    counts = counts_from_ratings(ratings, n_categories=n_categories)
    multi = counts.sum(axis=1) >= 2
    counts = counts[multi]

    def estimate(statistic: Callable[[np.ndarray], float], data: np.ndarray) -> dict[str, float | None]:
        return bootstrap_ci(statistic, data, n_boot=n_boot, confidence=confidence, seed=seed).to_dict()

    pairs = []
    for (ja, a), (jb, b) in itertools.combinations(enumerate(annotators), 2):
        both = ratings[:, [ja, jb]]
        both = both[~np.isnan(both).any(axis=1)]
        if both.shape[0] == 0:
            continue  # these two never labeled the same item
        pairs.append({
            "annotators": [a, b],
            "n_items": int(both.shape[0]),
            "percent_agreement": round(float(np.mean(both[:, 0] == both[:, 1])), 6),
            "cohen_kappa": estimate(lambda d: cohen_kappa(d[:, 0], d[:, 1], n_categories=n_categories), both),
        })
    return {
        "n_items": int(counts.shape[0]),
        "n_items_single_label": int((~multi).sum()),
        "n_labels": int(counts.sum()),
        "n_annotators": len(annotators),
        "annotators": annotators,
        "label_counts": dict(zip(load_label_set().stance, (int(x) for x in counts.sum(axis=0)))),
        "percent_agreement": estimate(percent_agreement, counts),
        "fleiss_kappa": estimate(fleiss_kappa, counts),
        "krippendorff_alpha_nominal": estimate(lambda c: krippendorff_alpha(c, level="nominal"), counts),
        "krippendorff_alpha_ordinal": estimate(lambda c: krippendorff_alpha(c, level="ordinal"), counts),
        "cohen_kappa_pairs": pairs,
    }


def agreement_report(
    records: Iterable[AnnotationRecord] | str | os.PathLike,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Agreement per target and overall, as a JSON-ready dict (schema in ``docs/schema.md``).

    ``records``: annotation records, dicts of them, or the path of an ``annotations.jsonl``.
    An item is one (sentence, target). Only submitted labels that give a stance count;
    skipped and cancelled annotations, off-target flags ("not that actor", "not about
    engagement") and blank answers are excluded and counted under ``excluded``. Items with
    fewer than two labels drop out of every coefficient and are counted as
    ``n_items_single_label``. "overall" pools the items of every target.

    Each coefficient is ``{"value", "ci_low", "ci_high"}`` (``None`` where undefined) with a
    percentile bootstrap interval over items (``n_boot`` resamples, ``seed``); items are
    taken in (sentence id, target) order, so reordered input gives the same intervals.
    """
    stance = load_label_set().stance
    labels, excluded = collect_labels(records_of(records, AnnotationRecord, name="records"))
    # Items in a fixed order, so the bootstrap draws (row indices) and with them the
    # intervals depend on the data and the seed, not on the order of the input records.
    labels = dict(sorted(labels.items()))
    by_target: dict[str, dict[tuple[str, str], dict[str, int]]] = {}
    for key, votes in labels.items():
        by_target.setdefault(key[1], {})[key] = votes
    options = {"n_categories": len(stance), "n_boot": n_boot, "seed": seed, "confidence": confidence}
    return {
        "labels": list(stance),
        "ordinal_order": list(stance),
        "n_boot": n_boot,
        "seed": seed,
        "confidence": confidence,
        "excluded": excluded,
        "overall": _group_report(labels, **options),
        "targets": {target: _group_report(items, **options) for target, items in sorted(by_target.items())},
    }
