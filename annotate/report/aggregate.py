"""Per-source aggregation of article observations (sources come from the manifest).

A source's score on a dimension is the pooled mean of the signed stance values of all its
articles' sentences: every sentence counts once, so a two-sentence aside does not weigh as
much as a long article. Its interval comes from a two-stage (cluster) bootstrap: resample
the source's articles with replacement, then each drawn article's sentences with
replacement. That keeps the between-article spread in the interval (sentences of one
article are not independent evidence about the outlet) and, for a source with a single
article, reduces to the article's sentence bootstrap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from annotate.report.correction import (
    Correction,
    corrected_scores,
    draw_counts,
    estimate_from_means,
    expansion,
)
from annotate.report.scoring import (
    CORRECTED,
    STATUS_INSUFFICIENT,
    STATUS_OK,
    DimensionScore,
    Observation,
    corrected_score,
    probability_matrix,
    select_evidence,
)


def _cluster_resample_sums(
    groups: Sequence[np.ndarray], *, n_resamples: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Two-stage resampling of ``groups`` (G arrays of shape ``(n_g, k)``, NaN = missing).

    Returns ``(sums, counts)``, each ``(n_resamples, k)``: per resample and column, the sum and
    the number of non-missing values drawn. Each resample draws G groups with replacement
    and, for every drawn copy, the group's rows with replacement.
    """
    n_groups = len(groups)
    n_cols = groups[0].shape[1]
    # copies[r, g]: how often group g is drawn in resample r
    copies = rng.multinomial(n_groups, np.full(n_groups, 1.0 / n_groups), size=n_resamples)
    sums = np.zeros((n_resamples, n_cols))
    counts = np.zeros((n_resamples, n_cols))
    rows = np.arange(n_resamples)
    for g, values in enumerate(groups):
        c = copies[:, g]
        max_copies = int(c.max())
        if max_copies == 0:
            continue
        # One pool of n_resamples independent inner resamples per group; the k-th copy of the
        # group in resample r takes pool entry (r + offset_k) mod n_resamples. Distinct offsets
        # give every copy its own inner resample at the cost of one pool per group instead of
        # one per copy (what keeps large sources fast).
        # (R, n_g) draw counts times the values: the same sums as gathering (R, n_g, k) draws,
        # at a fraction of the cost when k > 1 (the corrected scores carry K columns)
        drawn = draw_counts(rng.integers(0, len(values), size=(n_resamples, len(values))), len(values))
        present = ~np.isnan(values)
        pool_sums = drawn @ np.where(present, values, 0.0)
        pool_counts = drawn @ present
        n_copies = min(max_copies, n_resamples)
        offsets = np.zeros(1, dtype=int) if n_copies == 1 else np.concatenate(
            [[0], rng.choice(np.arange(1, n_resamples), size=n_copies - 1, replace=False)])
        for k in range(n_copies):
            active = (c > k)[:, None]
            picked = (rows + offsets[k]) % n_resamples
            sums += np.where(active, pool_sums[picked], 0.0)
            counts += np.where(active, pool_counts[picked], 0)
    return sums, counts


def _percentile_interval(stat: np.ndarray, confidence: float) -> tuple[float, float] | None:
    stat = stat[np.isfinite(stat)]
    if stat.size == 0:
        return None
    alpha = (1 - confidence) / 2
    low, high = np.quantile(stat, [alpha, 1 - alpha])
    return float(low), float(high)


def _check(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def cluster_bootstrap_mean_ci(
    groups: Sequence[Sequence[float] | np.ndarray],
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    rng: np.random.Generator | None = None,
) -> tuple[float, float]:
    """Two-stage percentile bootstrap interval of the pooled mean of ``groups``.

    Args:
        groups: G non-empty 1-d arrays (one per article) of values.

    Each resample draws G groups with replacement and, for every drawn copy, its values with
    replacement; the statistic is the pooled mean of everything drawn. Cost: O(n_resamples x
    total values), independent of how often a group is drawn. Edge cases: one group is the
    ordinary bootstrap of its values; all values equal give a zero-width interval; no groups
    or an empty group raise ValueError.
    """
    arrays = [np.asarray(g, dtype=float) for g in groups]
    if not arrays or any(a.ndim != 1 or a.size == 0 for a in arrays):
        raise ValueError("need at least one group, each a non-empty 1-d array")
    _check(confidence)
    rng = rng if rng is not None else np.random.default_rng(0)
    sums, counts = _cluster_resample_sums([a[:, None] for a in arrays], n_resamples=n_resamples, rng=rng)
    interval = _percentile_interval(sums[:, 0] / counts[:, 0], confidence)
    assert interval is not None  # every resample draws at least one value
    return interval


def paired_difference_ci(
    groups: Sequence[tuple[Sequence[float | None], Sequence[float | None]]],
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    rng: np.random.Generator | None = None,
) -> tuple[float, float] | None:
    """Interval of ``mean(model) - mean(human)``, resampling sentences jointly (paired).

    Args:
        groups: one ``(human, model)`` pair per article; both sequences are aligned by
            sentence (the union of the sentences either basis scored), None where a basis
            has no value for that sentence.

    A sentence drawn into a resample brings both its human and its model value, so the
    interval reflects how far the two disagree on the same sentences rather than the two
    scores' own spreads. Articles are resampled first (two-stage), as for sources.
    Returns None when no resample has values from both bases (e.g. no overlap at all).
    """
    _check(confidence)
    arrays = []
    for human, model in groups:
        if len(human) != len(model):
            raise ValueError("human and model values must be aligned by sentence (same length)")
        if len(human):
            arrays.append(np.array([[np.nan if h is None else h, np.nan if m is None else m]
                                    for h, m in zip(human, model)], dtype=float))
    if not arrays:
        return None
    rng = rng if rng is not None else np.random.default_rng(0)
    sums, counts = _cluster_resample_sums(arrays, n_resamples=n_resamples, rng=rng)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    return _percentile_interval(means[:, 1] - means[:, 0], confidence)


def paired_corrected_difference_ci(
    groups: Sequence[tuple[Sequence[float | None], Sequence[Sequence[float] | None]]],
    correction: Correction,
    *,
    values: Sequence[float],
    sign: float = 1.0,
    confidence: float = 0.95,
    rng: np.random.Generator | None = None,
) -> tuple[tuple[float, float] | None, tuple[float, float] | None]:
    """Intervals of ``corrected model - human`` and ``raw model - human``, paired as
    :func:`paired_difference_ci`.

    Args:
        groups: one ``(human, model)`` pair per article, aligned by sentence: human values
            (None where missing) and model probability rows ``(K,)`` (None where missing).
        correction: replicate ``b`` of the corrected model mean uses gold resample ``b``.
        values, sign: unsigned stance value per label and the dimension's sign.
    Returns ``(corrected, raw)``; each None when no resample has values from both bases. The
    raw interval equals :func:`paired_difference_ci` on the signed values (same draws).
    """
    _check(confidence)
    n_classes = len(values)
    arrays = []
    for human, model in groups:
        if len(human) != len(model):
            raise ValueError("human and model values must be aligned by sentence (same length)")
        if len(human):
            arrays.append(np.array([[np.nan if h is None else h,
                                     *([np.nan] * n_classes if m is None else m)] for h, m in zip(human, model)],
                                   dtype=float))
    if not arrays:
        return None, None
    rng = rng if rng is not None else np.random.default_rng(0)
    sums, counts = _cluster_resample_sums(arrays, n_resamples=correction.replicates.shape[0], rng=rng)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    human_means, model_means = means[:, 0], means[:, 1:]
    both = (counts[:, 0] > 0) & (counts[:, 1] > 0)
    raw = model_means @ (sign * np.asarray(values, dtype=float)) - human_means
    corrected = corrected_scores(np.where(both[:, None], model_means, 0.0), correction.replicates, sign=sign)
    corrected = np.where(both, corrected - human_means, np.nan)
    return _percentile_interval(corrected, confidence), _percentile_interval(raw, confidence)


def aligned_probabilities(human: Sequence[Observation], model: Sequence[Observation]) -> tuple[list, list]:
    """Human values and model probability rows aligned on the union of their sentences
    (None where missing), for :func:`paired_corrected_difference_ci`."""
    h = {o.sentence_id: o.value for o in human}
    m = {o.sentence_id: o.probabilities for o in model}
    ids = list(dict.fromkeys([*h, *m]))
    return [h.get(i) for i in ids], [m.get(i) for i in ids]


def aligned_values(human: Sequence[Observation], model: Sequence[Observation]) -> tuple[list, list]:
    """Human and model values aligned on the union of their sentences (None where missing)."""
    h = {o.sentence_id: o.value for o in human}
    m = {o.sentence_id: o.value for o in model}
    ids = list(dict.fromkeys([*h, *m]))
    return [h.get(i) for i in ids], [m.get(i) for i in ids]


def aggregate_source(
    observations_by_article: Mapping[str, Sequence[Observation]],
    *,
    min_sentences: int = 3,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    rng: np.random.Generator | None = None,
    n_evidence: int = 3,
    n_excluded: int = 0,
    correction: Correction | None = None,
    values: Sequence[float] = (),
    sign: float = 1.0,
) -> DimensionScore:
    """Score one source on one dimension from its articles' observations.

    Articles with no observations are ignored. Fewer than ``min_sentences`` observations in
    total give ``"insufficient_evidence"`` with no score or interval. ``n_articles`` counts
    the articles that contributed. Evidence is ranked over the pooled sentences.

    With ``correction`` (model observations; ``values`` the unsigned stance value per label,
    ``sign`` the dimension's), the score is the corrected pooled mean and its interval
    pairs each two-stage resample with a gold resample; ``raw`` keeps the uncorrected score
    and interval (the same draws as without correction).
    """
    groups = {a: list(obs) for a, obs in observations_by_article.items() if obs}
    pooled = [o for obs in groups.values() for o in obs]
    evidence = select_evidence(pooled, k=n_evidence)
    n = len(pooled)
    if n < min_sentences:
        return DimensionScore(score=None, ci_low=None, ci_high=None, n_sentences=n, status=STATUS_INSUFFICIENT,
                              evidence=evidence, n_excluded=n_excluded, n_articles=len(groups),
                              **({"correction": CORRECTED, "raw": (None, None, None)} if correction else {}))
    if correction is not None:
        _check(confidence)
        matrices = [probability_matrix(obs) for obs in groups.values()]
        sums, counts = _cluster_resample_sums(matrices, n_resamples=correction.replicates.shape[0],
                                              rng=rng if rng is not None else np.random.default_rng(0))
        # one article: its sentence bootstrap, expanded as the article's is; several: the
        # two-stage spread as it is (an expansion by the number of articles would swamp it)
        expand = expansion(n, confidence=confidence) if len(groups) == 1 else 1.0
        est = estimate_from_means(np.concatenate(matrices).mean(axis=0), sums / counts, correction, values=values,
                                  sign=sign, confidence=confidence, expand=expand)
        return corrected_score(est, n_sentences=n, evidence=evidence, n_excluded=n_excluded, n_articles=len(groups))
    low, high = cluster_bootstrap_mean_ci([[o.value for o in obs] for obs in groups.values()],
                                          n_resamples=n_resamples, confidence=confidence, rng=rng)
    score = float(np.mean([o.value for o in pooled]))
    return DimensionScore(score=score, ci_low=low, ci_high=high, n_sentences=n, status=STATUS_OK,
                          evidence=evidence, n_excluded=n_excluded, n_articles=len(groups))


__all__ = [
    "aggregate_source",
    "aligned_probabilities",
    "aligned_values",
    "cluster_bootstrap_mean_ci",
    "paired_corrected_difference_ci",
    "paired_difference_ci",
]
