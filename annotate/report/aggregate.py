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

from annotate.report.scoring import (
    STATUS_INSUFFICIENT,
    STATUS_OK,
    DimensionScore,
    Observation,
    select_evidence,
)


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
    total values), independent of how often a group is drawn. Edge cases: one
    group is the ordinary bootstrap of its values; all values equal give a zero-width
    interval; no groups or an empty group raise ValueError.
    """
    arrays = [np.asarray(g, dtype=float) for g in groups]
    if not arrays or any(a.ndim != 1 or a.size == 0 for a in arrays):
        raise ValueError("need at least one group, each a non-empty 1-d array")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    rng = rng if rng is not None else np.random.default_rng(0)
    n_groups = len(arrays)
    # copies[r, g]: how often group g is drawn in resample r
    copies = rng.multinomial(n_groups, np.full(n_groups, 1.0 / n_groups), size=n_resamples)
    sums = np.zeros(n_resamples)
    counts = np.zeros(n_resamples)
    rows = np.arange(n_resamples)
    for g, values in enumerate(arrays):
        c = copies[:, g]
        max_copies = int(c.max())
        if max_copies == 0:
            continue
        # One pool of n_resamples independent inner resample sums per group; the k-th copy of
        # the group in resample r takes pool entry (r + offset_k) mod n_resamples. Distinct
        # offsets give every copy its own inner resample, at the cost of one pool per group
        # instead of one per copy (this is what keeps large sources fast).
        pool = values[rng.integers(0, values.size, size=(n_resamples, values.size))].sum(axis=1)
        offsets = np.concatenate([[0], rng.choice(np.arange(1, n_resamples), size=min(max_copies, n_resamples) - 1,
                                                  replace=False)]) if n_resamples > 1 else np.zeros(1, dtype=int)
        for k in range(min(max_copies, offsets.size)):
            sums += np.where(c > k, pool[(rows + offsets[k]) % n_resamples], 0.0)
        counts += c * values.size
    means = sums / counts
    alpha = (1 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return float(low), float(high)


def aggregate_source(
    observations_by_article: Mapping[str, Sequence[Observation]],
    *,
    min_sentences: int = 3,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    rng: np.random.Generator | None = None,
    n_evidence: int = 3,
    n_excluded: int = 0,
) -> DimensionScore:
    """Score one source on one dimension from its articles' observations.

    Articles with no observations are ignored. Fewer than ``min_sentences`` observations in
    total give ``"insufficient_evidence"`` with no score or interval. ``n_articles`` counts
    the articles that contributed. Evidence is ranked over the pooled sentences.
    """
    groups = {a: list(obs) for a, obs in observations_by_article.items() if obs}
    pooled = [o for obs in groups.values() for o in obs]
    evidence = select_evidence(pooled, k=n_evidence)
    n = len(pooled)
    if n < min_sentences:
        return DimensionScore(score=None, ci_low=None, ci_high=None, n_sentences=n, status=STATUS_INSUFFICIENT,
                              evidence=evidence, n_excluded=n_excluded, n_articles=len(groups))
    low, high = cluster_bootstrap_mean_ci([[o.value for o in obs] for obs in groups.values()],
                                          n_resamples=n_resamples, confidence=confidence, rng=rng)
    score = float(np.mean([o.value for o in pooled]))
    return DimensionScore(score=score, ci_low=low, ci_high=high, n_sentences=n, status=STATUS_OK,
                          evidence=evidence, n_excluded=n_excluded, n_articles=len(groups))


__all__ = ["cluster_bootstrap_mean_ci", "aggregate_source"]
