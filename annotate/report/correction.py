"""Scores corrected for a classifier's measured errors, with intervals that include them.

Pure numpy; no I/O. A model's mean stance over an article is biased whenever the classifier
confuses classes (a model that calls half the neutral sentences "favorable" makes every
article look favorable). The quantification literature's fix (adjusted classify-and-count,
Forman 2008; its probabilistic form, Bella et al. 2010) measures the confusion on gold
items and inverts it:

- ``C[j, l]`` = mean predicted probability of class ``l`` over gold items whose true class
  is ``j`` (probabilistic form, "pacc"), or the share of them predicted ``l`` ("acc");
- an article's observed class mix ``q`` (mean probability vector, or share of predicted
  labels) has expectation ``C^T pi``, ``pi`` the article's true mix, so ``pi = C^{-T} q``;
- its stance score ``values . pi`` equals ``(C^{-1} values) . q``: the mean over sentences
  of ``f_i . w`` with the *corrected weights* ``w = C^{-1} values`` (``f_i`` the sentence's
  probability vector or one-hot label). For a fixed confusion the corrected score is one
  more mean over sentences, so sources pool and bootstrap exactly as raw scores do.

Intervals propagate both sources of error: each bootstrap replicate pairs a resample of
the article's sentences with a resample of the gold items behind the confusion
(stratified by true class), so few gold labels give wide intervals. A replicate whose
resampled confusion cannot be inverted says the gold allows any value: it counts as
-inf or +inf (alternately), which widens the interval instead of being dropped.

Shapes: ``K`` classes in ordinal order (the stance labels of ``label_config.xml``), ``B``
bootstrap replicates, ``n`` sentences or gold items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

#: Correction methods: probabilistic adjusted classify-and-count, adjusted classify-and-count.
PACC, ACC = "pacc", "acc"
METHODS = (PACC, ACC)

#: A true class needs this many gold items before its row of the confusion is trusted.
MIN_GOLD_PER_CLASS = 5

#: Beyond this condition number the correction multiplies the noise of an article's mean more
#: than twentyfold: the classifier's output barely depends on the true class. (A useful
#: classifier has 2-5; the simulation of bench/coverage.py has 3.2.)
MAX_CONDITION = 20.0


class DegenerateConfusionError(ValueError):
    """The confusion cannot be inverted; the message says which class and why.

    ``uninformative`` is True when the gold shows that the classifier's output does not tell
    (some of) the classes apart (a class never predicted, rows alike): its scores then say
    nothing about the stance. False when the gold is too small to know (a class with too few
    items)."""

    def __init__(self, message: str, *, uninformative: bool = False) -> None:
        super().__init__(message)
        self.uninformative = uninformative


def class_features(probabilities: np.ndarray, *, method: str = PACC) -> np.ndarray:
    """What the correction averages per item: the probability rows ("pacc") or one-hot
    predicted labels ("acc", argmax; ties go to the lower class index). Shape ``(n, K)``."""
    probs = np.asarray(probabilities, dtype=float)
    if probs.ndim != 2:
        raise ValueError(f"probabilities must have shape (n, K), got {probs.shape}")
    if method == PACC:
        return probs
    if method == ACC:
        return np.eye(probs.shape[1])[probs.argmax(axis=1)] if probs.size else np.zeros_like(probs)
    raise ValueError(f"unknown correction method {method!r}; valid: {', '.join(METHODS)}")


def _checked_gold(truth: Sequence[int], probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(truth, dtype=np.int64).ravel()
    probs = np.asarray(probabilities, dtype=float)
    if probs.ndim != 2 or probs.shape[0] != t.size:
        raise ValueError(f"probabilities must have shape (n, K) with n={t.size}, got {probs.shape}")
    if t.size and (t.min() < 0 or t.max() >= probs.shape[1]):
        raise ValueError(f"true class indices must lie in 0..{probs.shape[1] - 1}")
    if not np.isfinite(probs).all():
        raise ValueError("probabilities must be finite")
    return t, probs


def confusion(truth: Sequence[int], probabilities: np.ndarray, *, method: str = PACC) -> tuple[np.ndarray, np.ndarray]:
    """Row-normalised confusion of gold items and the number of items per true class.

    Args:
        truth: shape ``(n,)``, true class indices.
        probabilities: shape ``(n, K)``, the classifier's (calibrated) probabilities.
    Returns ``(C, counts)``: ``C`` of shape ``(K, K)`` (rows true, columns predicted, rows
    summing to 1; a class without gold items has a row of NaN) and ``counts`` ``(K,)``.
    """
    t, probs = _checked_gold(truth, probabilities)
    features = class_features(probs, method=method)
    k = probs.shape[1]
    counts = np.bincount(t, minlength=k)
    sums = np.zeros((k, k))
    np.add.at(sums, t, features)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts[:, None], counts


def corrected_weights(
    matrix: np.ndarray,
    values: Sequence[float],
    *,
    counts: Sequence[int] | None = None,
    labels: Sequence[str] | None = None,
    min_per_class: int = MIN_GOLD_PER_CLASS,
    max_condition: float = MAX_CONDITION,
) -> np.ndarray:
    """``w = C^{-1} values``: the corrected value of each predicted class (shape ``(K,)``).

    Raises :class:`DegenerateConfusionError` naming the class when a true class has fewer
    than ``min_per_class`` gold items (``counts``), when the classifier never predicts a
    class (an all-zero column: "acc" on a model that never says "critical"), or when the
    condition number of ``C`` exceeds ``max_condition`` (rows too alike to tell apart).
    """
    m = np.asarray(matrix, dtype=float)
    v = np.asarray(values, dtype=float)
    k = v.size
    if m.shape != (k, k):
        raise ValueError(f"confusion must have shape ({k}, {k}), got {m.shape}")
    names = list(labels) if labels is not None else [str(i) for i in range(k)]
    if counts is not None:
        few = [(names[j], int(c)) for j, c in enumerate(counts) if c < min_per_class]
        if few:
            listed = ", ".join(f"{n} {name!r}" for name, n in few)
            raise DegenerateConfusionError(f"too little gold: {listed} item(s), fewer than {min_per_class} per "
                                           f"true class, so the classifier's errors on that class are unknown")
    if not np.isfinite(m).all():
        raise DegenerateConfusionError("the confusion has a class without gold items")
    never = [names[j] for j in range(k) if m[:, j].sum() <= 1e-12]
    if never:
        raise DegenerateConfusionError(f"the classifier never predicts {', '.join(map(repr, never))} on the gold "
                                       f"items, so that class's share cannot be recovered (singular confusion)",
                                       uninformative=True)
    condition = float(np.linalg.cond(m))
    if not np.isfinite(condition) or condition > max_condition:
        raise DegenerateConfusionError(f"the confusion is (nearly) singular (condition number {condition:.3g} > "
                                       f"{max_condition:g}): the classifier's output barely depends on the true "
                                       f"class", uninformative=True)
    return np.linalg.solve(m, v)


def replicate_weights(
    truth: Sequence[int],
    probabilities: np.ndarray,
    values: Sequence[float],
    *,
    method: str = PACC,
    n_resamples: int = 2000,
    rng: np.random.Generator,
    max_condition: float = MAX_CONDITION,
) -> np.ndarray:
    """Corrected weights of ``n_resamples`` bootstrap resamples of the gold items, ``(B, K)``.

    Resampling is stratified by true class (each row of the confusion is a mean over that
    class's items, drawn with replacement), so every replicate has every class. A
    replicate whose resampled confusion is singular or worse conditioned than
    ``max_condition`` is a row of NaN (see :func:`corrected_scores`). Needs at least one
    gold item per class (check with :func:`corrected_weights` first).
    """
    t, probs = _checked_gold(truth, probabilities)
    features = class_features(probs, method=method)
    v = np.asarray(values, dtype=float)
    k = v.size
    if features.shape[1] != k:
        raise ValueError(f"probabilities have {features.shape[1]} classes, values {k}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    matrices = np.empty((n_resamples, k, k))
    for j in range(k):
        rows = features[t == j]
        if not len(rows):
            raise DegenerateConfusionError(f"no gold item of class {j}")
        # in blocks of about 2 million draws: a 50,000-item gold set must not need gigabytes
        block = max(1, 2_000_000 // len(rows))
        for start in range(0, n_resamples, block):
            drawn = rng.integers(0, len(rows), size=(min(block, n_resamples - start), len(rows)))
            matrices[start:start + len(drawn), j, :] = rows[drawn].mean(axis=1)
    condition = np.linalg.cond(matrices)
    good = np.isfinite(condition) & (condition <= max_condition)
    weights = np.full((n_resamples, k), np.nan)
    if good.any():
        weights[good] = np.linalg.solve(matrices[good], np.broadcast_to(v, (int(good.sum()), k))[..., None])[..., 0]
    return weights


def corrected_scores(means: np.ndarray, weights: np.ndarray, *, sign: float = 1.0) -> np.ndarray:
    """Score of each replicate, ``sign * means[b] . weights[b]``, clipped to [-1, 1]; shape ``(B,)``.

    ``means``: ``(B, K)`` mean features of each resample (or ``(K,)`` for one point);
    ``weights``: ``(B, K)`` or ``(K,)``. Replicates with NaN weights (a singular resampled
    confusion) or NaN means (nothing drawn) become -1 and +1 alternately: the gold allows
    any value there, and dropping them would make the interval too narrow.
    """
    raw = sign * np.einsum("...k,...k->...", np.asarray(means, dtype=float), np.asarray(weights, dtype=float))
    raw = np.atleast_1d(raw)
    bad = ~np.isfinite(raw)
    if bad.any():
        raw = raw.copy()
        raw[bad] = np.where(np.arange(raw.size)[bad] % 2 == 0, -1.0, 1.0)
    return np.clip(raw, -1.0, 1.0)


def draw_counts(drawn: np.ndarray, n: int) -> np.ndarray:
    """How often each of ``n`` items is drawn in each resample: ``drawn`` ``(B, m)`` indices in
    ``0..n-1`` -> ``(B, n)`` float counts (so that ``counts @ values / m`` is the resample means)."""
    rows = drawn.shape[0]
    flat = (np.arange(rows)[:, None] * n + drawn).ravel()
    return np.bincount(flat, minlength=rows * n).reshape(rows, n).astype(float)


def row_quantiles(rows: np.ndarray, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """The ``low`` and ``high`` quantiles of each row of ``rows`` (``(m, B)``, finite), equal to
    ``np.quantile(rows, [low, high], axis=1)`` (its default "linear" method, same rounding) at
    a fraction of its per-call overhead, which dominates for thousands of small rows."""
    ordered = np.sort(rows, axis=1)
    last = ordered.shape[1] - 1
    out = []
    for q in (low, high):
        position = q * last
        below = int(np.floor(position))
        above = min(below + 1, last)
        t = position - below
        a, b = ordered[:, below], ordered[:, above]
        # numpy's _lerp: from the nearer end, so that t = 0 and t = 1 give a and b exactly
        out.append(a + (b - a) * t if t < 0.5 else b - (b - a) * (1 - t))
    return out[0], out[1]


def project_to_simplex(x: np.ndarray) -> np.ndarray:
    """Euclidean projection of ``x`` (``(K,)``) onto the probability simplex (Duchi et al. 2008)."""
    x = np.asarray(x, dtype=float)
    u = np.sort(x)[::-1]
    cumulative = np.cumsum(u) - 1.0
    rho = np.nonzero(u - cumulative / np.arange(1, x.size + 1) > 0)[0][-1]
    return np.maximum(x - cumulative[rho] / (rho + 1.0), 0.0)


def corrected_shares(matrix: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """The true class mix ``pi`` solving ``C^T pi = observed``, projected onto the simplex (``(K,)``).

    The score uses the unprojected solution (it is unbiased; the projection is not); the
    shares are for reading, and the two agree unless a share would be negative.
    """
    return project_to_simplex(np.linalg.solve(np.asarray(matrix, dtype=float).T, np.asarray(observed, dtype=float)))


@dataclass(frozen=True)
class Correction:
    """The error correction of one target kind, ready to apply to any number of scores.

    Attributes:
        matrix: ``(K, K)`` confusion on the full gold set (rows true, columns predicted).
        counts: ``(K,)`` gold items per true class.
        weights: ``(K,)`` ``C^{-1} values``: the corrected value of each class feature.
        replicates: ``(B, K)`` the weights of each gold resample (NaN rows: singular).
        method: ``"pacc"`` or ``"acc"``.
    """

    matrix: np.ndarray
    counts: np.ndarray
    weights: np.ndarray
    replicates: np.ndarray
    method: str = PACC

    @property
    def n_gold(self) -> int:
        return int(self.counts.sum())

    @property
    def n_degenerate(self) -> int:
        """Gold resamples whose confusion could not be inverted."""
        return int(np.isnan(self.replicates).any(axis=1).sum())

    def features(self, probabilities: np.ndarray) -> np.ndarray:
        return class_features(probabilities, method=self.method)


def fit_correction(
    truth: Sequence[int],
    probabilities: np.ndarray,
    *,
    values: Sequence[float],
    labels: Sequence[str] | None = None,
    method: str = PACC,
    n_resamples: int = 2000,
    rng: np.random.Generator,
    min_per_class: int = MIN_GOLD_PER_CLASS,
    max_condition: float = MAX_CONDITION,
) -> Correction:
    """Confusion, corrected weights and their gold-bootstrap replicates from gold items.

    Args:
        truth: ``(n,)`` true class indices of the gold items.
        probabilities: ``(n, K)`` the classifier's probabilities for them (held out from its
            training, or the correction is optimistic).
        values: ``(K,)`` the stance value of each class (e.g. -1, 0, +1).
    Raises :class:`DegenerateConfusionError` (see :func:`corrected_weights`); never returns
    NaN weights for the point estimate.
    """
    matrix, counts = confusion(truth, probabilities, method=method)
    weights = corrected_weights(matrix, values, counts=counts, labels=labels, min_per_class=min_per_class,
                                max_condition=max_condition)
    replicates = replicate_weights(truth, probabilities, values, method=method, n_resamples=n_resamples, rng=rng,
                                   max_condition=max_condition)
    return Correction(matrix=matrix, counts=counts, weights=weights, replicates=replicates, method=method)


@dataclass(frozen=True)
class CorrectedEstimate:
    """Raw and corrected score of one set of sentences, with intervals.

    ``raw_*``: mean of ``sign * values . p_i`` and its sentence bootstrap (today's model
    score); ``score``/``ci_*``: corrected, the interval from sentence x gold resampling.
    ``shares``/``raw_shares``: ``(K,)`` corrected (simplex) and observed class mix.
    """

    score: float
    ci_low: float
    ci_high: float
    raw_score: float
    raw_ci_low: float
    raw_ci_high: float
    shares: np.ndarray
    raw_shares: np.ndarray


def estimate_from_means(
    point_probabilities: np.ndarray,
    resampled_probabilities: np.ndarray,
    correction: Correction,
    *,
    values: Sequence[float],
    sign: float = 1.0,
    confidence: float = 0.95,
    point_features: np.ndarray | None = None,
    resampled_features: np.ndarray | None = None,
    expand: float = 1.0,
) -> CorrectedEstimate:
    """A :class:`CorrectedEstimate` from mean probability vectors, of all sentences (``(K,)``)
    and of each resample (``(B, K)``, B = the correction's replicates). For "acc", also pass
    the mean one-hot features (same shapes); for "pacc" they are the probabilities.

    ``expand`` stretches the corrected replicates around the point before the percentiles
    (see :func:`expansion`). The raw interval is never expanded: it stays the uncorrected
    report's."""
    v = sign * np.asarray(values, dtype=float)
    f_point = point_probabilities if point_features is None else point_features
    f_resampled = resampled_probabilities if resampled_features is None else resampled_features
    if f_resampled.shape != correction.replicates.shape:
        raise ValueError(f"resampled means must have shape {correction.replicates.shape}, got {f_resampled.shape}")
    raw = float(np.asarray(point_probabilities) @ v)
    score = float(corrected_scores(f_point, correction.weights, sign=sign)[0])
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    alpha = (1 - confidence) / 2
    corrected = corrected_scores(f_resampled, correction.replicates, sign=sign)
    if expand != 1.0:
        corrected = np.clip(score + expand * (corrected - score), -1.0, 1.0)
    replicates = np.stack([np.asarray(resampled_probabilities) @ v, corrected])
    (raw_low, low), (raw_high, high) = row_quantiles(replicates, alpha, 1 - alpha)
    low, high = min(float(low), score), max(float(high), score)
    return CorrectedEstimate(score=score, ci_low=low, ci_high=high, raw_score=raw, raw_ci_low=float(raw_low),
                             raw_ci_high=float(raw_high), shares=corrected_shares(correction.matrix, f_point),
                             raw_shares=np.asarray(f_point, dtype=float))


@lru_cache(maxsize=256)
def expansion(n: int, *, confidence: float = 0.95) -> float:
    """Factor for the expanded percentile bootstrap of a mean of ``n`` values (Hesterberg 2015,
    "What teachers should know about the bootstrap"): ``sqrt(n / (n - 1)) * t_{n-1} / z`` at
    ``confidence``. The plain percentile interval is too narrow for small n (it sees the
    sample's ``(n - 1) / n`` variance and normal tails); for 15 sentences the factor is 1.13,
    for 40 1.04, and it tends to 1. 1 for ``n < 2``."""
    if n < 2:
        return 1.0
    from scipy.special import ndtri, stdtrit

    tail = 1 - (1 - confidence) / 2
    return float(np.sqrt(n / (n - 1)) * stdtrit(n - 1, tail) / ndtri(tail))


def corrected_mean_ci(
    probabilities: np.ndarray,
    correction: Correction,
    *,
    values: Sequence[float],
    sign: float = 1.0,
    confidence: float = 0.95,
    rng: np.random.Generator,
) -> CorrectedEstimate:
    """Raw and corrected score of one article's sentences (``probabilities``: ``(n, K)``, n >= 1).

    Replicate ``b`` draws the n sentences with replacement and pairs them with gold
    resample ``b`` of ``correction``; the corrected interval is expanded by
    :func:`expansion` for n. The sentence resample is drawn the way
    :func:`annotate.report.scoring.bootstrap_mean_ci` draws it, so with the same generator
    the raw interval is the one an uncorrected report shows.
    """
    probs = np.asarray(probabilities, dtype=float)
    if probs.ndim != 2 or probs.shape[0] == 0:
        raise ValueError(f"need probabilities of shape (n, K) with n >= 1, got {probs.shape}")
    n_resamples, n = correction.replicates.shape[0], probs.shape[0]
    counts = draw_counts(rng.integers(0, n, size=(n_resamples, n)), n) / n
    extra = {}
    if correction.method != PACC:
        features = correction.features(probs)
        extra = {"point_features": features.mean(axis=0), "resampled_features": counts @ features}
    return estimate_from_means(probs.mean(axis=0), counts @ probs, correction, values=values, sign=sign,
                               confidence=confidence, expand=expansion(n, confidence=confidence), **extra)


__all__ = [
    "ACC",
    "MAX_CONDITION",
    "METHODS",
    "MIN_GOLD_PER_CLASS",
    "PACC",
    "CorrectedEstimate",
    "Correction",
    "DegenerateConfusionError",
    "class_features",
    "confusion",
    "corrected_mean_ci",
    "corrected_scores",
    "corrected_shares",
    "corrected_weights",
    "draw_counts",
    "estimate_from_means",
    "expansion",
    "fit_correction",
    "project_to_simplex",
    "replicate_weights",
    "row_quantiles",
]
