"""Active learning: pick the unlabeled items that teach the model most.

Pure functions over numpy arrays, apart from any model or server, so they are easy to test
and reuse (the ``slant next`` command and ``bench/active_learning.py`` both call them).

Shapes used throughout:
    ``proba``   float array (n_items, n_classes); each row a probability distribution.
    ``scores``  float array (n_items,); higher means "label this first".

Typical use on a pool of sentences with several targets each::

    pair_scores = uncertainty_scores(proba, strategy="entropy")          # one per (sentence, target)
    sentence_scores = aggregate_scores(pair_scores, sentence_of_pair, n_groups=len(sentences))
    chosen = select_top_k(sentence_scores, k=50, exclude=already_labeled,
                          groups={"article": article_ids, "actor": actor_sets},
                          max_per_group={"article": 5, "actor": 15})
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np

#: Strategies understood by :func:`uncertainty_scores` (``random`` ignores the model).
STRATEGIES = ("entropy", "margin", "least_confidence", "random")


def _as_proba(proba: Any) -> np.ndarray:
    array = np.asarray(proba, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"proba must be 2-D (n_items, n_classes), got shape {array.shape}")
    if array.shape[0] and array.shape[1] < 2:
        raise ValueError(f"proba needs at least two classes, got shape {array.shape}")
    if np.any(array < -1e-9) or np.any(np.abs(array.sum(axis=1) - 1.0) > 1e-4):
        raise ValueError("proba rows must be probability distributions (non-negative, summing to 1)")
    return np.clip(array, 0.0, 1.0)


def entropy_scores(proba: Any, *, normalize: bool = True) -> np.ndarray:
    """Shannon entropy of each row.

    Args:
        proba: (n_items, n_classes) probabilities.
        normalize: divide by ``log(n_classes)`` so scores lie in [0, 1] whatever the class count.

    Returns:
        (n_items,) scores: 0 for a one-hot row, the maximum (1 when normalized) for a uniform row.
        An empty pool gives an empty array. Zero probabilities contribute 0 (0·log 0 := 0).
    """
    p = _as_proba(proba)
    if p.shape[0] == 0:
        return np.zeros(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log(p), 0.0)
    scores = terms.sum(axis=1)
    return scores / np.log(p.shape[1]) if normalize else scores


def margin_scores(proba: Any) -> np.ndarray:
    """One minus the gap between the two most probable classes, per row.

    Returns:
        (n_items,) scores in [0, 1]: 1 when the top two classes tie (most uncertain),
        0 when one class has all the mass.
    """
    p = _as_proba(proba)
    if p.shape[0] == 0:
        return np.zeros(0)
    top2 = np.sort(p, axis=1)[:, -2:]
    return 1.0 - (top2[:, 1] - top2[:, 0])


def least_confidence_scores(proba: Any) -> np.ndarray:
    """One minus the top probability, per row: (n_items,) scores in [0, 1 - 1/n_classes]."""
    p = _as_proba(proba)
    if p.shape[0] == 0:
        return np.zeros(0)
    return 1.0 - p.max(axis=1)


def uncertainty_scores(proba: Any, *, strategy: str = "entropy", seed: int | None = None) -> np.ndarray:
    """Scores for a named strategy (see :data:`STRATEGIES`).

    ``random`` returns uniform random scores from ``seed`` (reproducible), so random sampling
    goes through the same selection (exclusions, diversity caps) as the uncertainty strategies.
    """
    if strategy == "entropy":
        return entropy_scores(proba)
    if strategy == "margin":
        return margin_scores(proba)
    if strategy == "least_confidence":
        return least_confidence_scores(proba)
    if strategy == "random":
        n = np.asarray(proba).shape[0] if np.asarray(proba).ndim else 0
        return np.random.default_rng(seed).random(n)
    raise ValueError(f"unknown strategy {strategy!r}; valid strategies: {', '.join(STRATEGIES)}")


def aggregate_scores(scores: Any, group_index: Any, *, n_groups: int, how: str = "max") -> np.ndarray:
    """Combine per-item scores into per-group scores (e.g. (sentence, target) pairs into sentences).

    Args:
        scores: (n_items,) scores.
        group_index: (n_items,) integer group of each item, in ``[0, n_groups)``.
        n_groups: number of groups; groups with no items get ``-inf`` (never chosen first).
        how: ``"max"`` (a sentence is as informative as its most uncertain target),
            ``"mean"`` or ``"sum"`` (favours sentences with many uncertain targets).

    Returns:
        (n_groups,) scores.
    """
    values = np.asarray(scores, dtype=np.float64)
    index = np.asarray(group_index, dtype=np.int64)
    if values.shape != index.shape:
        raise ValueError(f"scores {values.shape} and group_index {index.shape} differ in shape")
    if index.size and (index.min() < 0 or index.max() >= n_groups):
        raise ValueError(f"group_index must lie in [0, {n_groups})")
    if how == "max":
        out = np.full(n_groups, -np.inf)
        np.maximum.at(out, index, values)
        return out
    sums = np.bincount(index, weights=values, minlength=n_groups).astype(np.float64)
    counts = np.bincount(index, minlength=n_groups)
    if how == "sum":
        return np.where(counts > 0, sums, -np.inf)
    if how == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts > 0, sums / np.maximum(counts, 1), -np.inf)
    raise ValueError(f"unknown aggregation {how!r}; valid: max, mean, sum")


def _keys_of(value: Any) -> tuple[Hashable, ...]:
    # An item may belong to several groups of one kind (a sentence mentioning several actors).
    if isinstance(value, (list, tuple, set, frozenset)):
        return tuple(value)
    return (value,)


def select_top_k(
    scores: Any,
    *,
    k: int,
    exclude: Sequence[bool] | np.ndarray | None = None,
    groups: Mapping[str, Sequence[Any]] | None = None,
    max_per_group: Mapping[str, int] | int | None = None,
    fill: bool = True,
) -> np.ndarray:
    """Indices of the ``k`` highest-scoring items, kept diverse by per-group caps.

    Greedy: walk the items by descending score (ties broken by index, so the result is
    deterministic) and take an item unless it is excluded or one of its groups is full.

    Args:
        scores: (n_items,) scores; higher first. ``-inf``/NaN items are never taken.
        k: how many to pick (fewer if the pool runs out). ``k <= 0`` gives an empty array.
        exclude: (n_items,) booleans; True items (already labeled / already in the project)
            are never taken.
        groups: kind -> (n_items,) group of each item, e.g. ``{"article": article_ids,
            "actor": actor_sets}``. A value may be a list/tuple/set of groups (a sentence
            with several actors counts toward each of them).
        max_per_group: cap per group, one int for every kind or a kind -> int mapping
            (kinds without a cap are unlimited).
        fill: when the caps leave fewer than ``k`` items, top up with the best remaining
            non-excluded items (caps are a preference, exclusions are not).

    Returns:
        int array of at most ``k`` distinct indices, in the order chosen.
    """
    values = np.asarray(scores, dtype=np.float64)
    n = values.shape[0]
    if k <= 0 or n == 0:
        return np.zeros(0, dtype=np.int64)
    blocked = np.zeros(n, dtype=bool) if exclude is None else np.asarray(exclude, dtype=bool).copy()
    if blocked.shape != (n,):
        raise ValueError(f"exclude has shape {blocked.shape}, expected ({n},)")
    blocked |= ~np.isfinite(values)
    groups = dict(groups or {})
    for kind, members in groups.items():
        if len(members) != n:
            raise ValueError(f"groups[{kind!r}] has {len(members)} entries, expected {n}")
    if isinstance(max_per_group, int):
        caps = {kind: max_per_group for kind in groups}
    else:
        caps = dict(max_per_group or {})
    unknown = set(caps) - set(groups)
    if unknown:
        raise ValueError(f"max_per_group names unknown group kinds {sorted(unknown)}; known: {sorted(groups)}")

    # Stable descending sort: ties keep index order.
    order = np.argsort(-values, kind="stable")
    order = order[~blocked[order]]
    counts: dict[str, Counter] = {kind: Counter() for kind in caps}
    chosen: list[int] = []
    taken = np.zeros(n, dtype=bool)
    for i in order:
        if len(chosen) >= k:
            break
        if any(counts[kind][g] >= cap for kind, cap in caps.items() for g in _keys_of(groups[kind][i])):
            continue
        chosen.append(int(i))
        taken[i] = True
        for kind in caps:
            counts[kind].update(set(_keys_of(groups[kind][i])))
    if fill and len(chosen) < k:
        for i in order:
            if len(chosen) >= k:
                break
            if not taken[i]:
                chosen.append(int(i))
                taken[i] = True
    return np.asarray(chosen, dtype=np.int64)


def select_round_robin(
    scores: Any,
    *,
    k: int,
    groups: Sequence[Hashable],
    exclude: Sequence[bool] | np.ndarray | None = None,
) -> np.ndarray:
    """Indices of ``k`` items taken in turns from each group, best-scoring first within a group.

    Each round takes the best remaining item of every group (groups visited by their best
    remaining score), so no group gets a second item before every group has had one.

    Args:
        scores: (n_items,) scores; ``-inf``/NaN items are never taken.
        k: how many to pick (fewer if the pool runs out).
        groups: (n_items,) hashable group of each item (e.g. article id).
        exclude: (n_items,) booleans; True items are never taken.

    Returns:
        int array of at most ``k`` distinct indices, in the order chosen.
    """
    values = np.asarray(scores, dtype=np.float64)
    n = values.shape[0]
    if len(groups) != n:
        raise ValueError(f"groups has {len(groups)} entries, expected {n}")
    if k <= 0 or n == 0:
        return np.zeros(0, dtype=np.int64)
    blocked = np.zeros(n, dtype=bool) if exclude is None else np.asarray(exclude, dtype=bool)
    queues: dict[Hashable, list[int]] = {}
    for i in np.argsort(-values, kind="stable"):
        if not blocked[i] and np.isfinite(values[i]):
            queues.setdefault(groups[i], []).append(int(i))
    chosen: list[int] = []
    while queues and len(chosen) < k:
        # Visit groups by their best remaining item so the round's order follows the scores.
        for group in sorted(queues, key=lambda g: (-values[queues[g][0]], queues[g][0])):
            if len(chosen) >= k:
                break
            chosen.append(queues[group].pop(0))
        queues = {g: q for g, q in queues.items() if q}
    return np.asarray(chosen, dtype=np.int64)
