"""Article scores: net stance per dimension, a bootstrap interval, and the evidence behind it.

Pure functions over plain values; no I/O. The unit of evidence is one sentence's stance
toward a dimension's target, an :class:`Observation` with a value in [-1, 1]:

- human (adjudicated) labels map the stance scale linearly onto [-1, 1]: with the labels
  of ``label_config.xml`` that is critical = -1, neutral = 0, favorable = +1;
- model predictions use the expected value under the predicted probabilities, which for
  three labels is ``p(favorable) - p(critical)``;
- either is multiplied by the dimension's sign, so +1 always means "more of the title"
  (for ``critical_of_taliban`` a critical sentence is +1).

An article's score on a dimension is the mean of its observations. Its interval is a
percentile bootstrap over sentences. Fewer than ``min_sentences`` observations give the
status ``"insufficient_evidence"`` and no score or interval, never a confident number.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from annotate.report.correction import CorrectedEstimate, Correction, corrected_mean_ci
from annotate.report.dimensions import Dimension

STATUS_OK = "ok"
STATUS_INSUFFICIENT = "insufficient_evidence"
CORRECTED, UNCORRECTED, UNINFORMATIVE = "corrected", "uncorrected", "uninformative"

#: Sum of probabilities may be off by float rounding; beyond this it is an error.
_PROBABILITY_TOLERANCE = 1e-3


@dataclass(frozen=True)
class Observation:
    """One sentence's stance value on one dimension.

    Attributes:
        sentence_id, article_id: where the sentence is.
        value: signed stance value in [-1, 1] (already multiplied by the dimension's sign).
        label: the human adjudicated label, or the model's predicted label.
        probability: model only: the probability of ``label``.
        agreement: human only: share of annotators agreeing with ``label``.
        n_annotators: human only.
        task_id: Label Studio task id when known.
        probabilities: model only: the probability of each stance label, in label order
            (what the error correction averages).
    """

    sentence_id: str
    article_id: str
    value: float
    label: str | None = None
    probability: float | None = None
    agreement: float | None = None
    n_annotators: int | None = None
    task_id: int | None = None
    probabilities: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Evidence:
    """An observation ranked by how much it moves its article's score.

    ``contribution`` is ``value / n``: the score is the sum of the contributions, so the
    sentences with the largest ``|contribution|`` move it most (in the sign's direction).
    """

    observation: Observation
    contribution: float
    rank: int


@dataclass(frozen=True)
class DimensionScore:
    """Score of one article (or source) on one dimension from one basis (human or model).

    Attributes:
        score: mean signed stance in [-1, 1]; None when evidence is insufficient.
        ci_low, ci_high: bootstrap percentile interval; None when evidence is insufficient.
        n_sentences: observations behind the score.
        status: ``"ok"`` or ``"insufficient_evidence"``.
        evidence: the observations that move the score most, strongest first (also given
            when evidence is insufficient, so reviewers see what little there is).
        n_excluded: sentences about the target left out (off target / unresolved ties).
        n_articles: articles with at least one observation (source scores only).
        correction: model only: ``"corrected"`` (score and interval corrected for the
            classifier's measured errors), ``"uncorrected"`` (they are the raw ones) or
            ``"uninformative"`` (the gold shows the classifier cannot tell the classes
            apart: raw score, interval [-1, 1]).
        raw: model only: ``(score, ci_low, ci_high)`` before correction.
        shares, raw_shares: corrected and observed share of each stance label (corrected only).
    """

    score: float | None
    ci_low: float | None
    ci_high: float | None
    n_sentences: int
    status: str
    evidence: tuple[Evidence, ...] = ()
    n_excluded: int = 0
    n_articles: int | None = None
    correction: str | None = None
    raw: tuple[float | None, float | None, float | None] | None = None
    shares: tuple[float, ...] | None = None
    raw_shares: tuple[float, ...] | None = None

    @property
    def sufficient(self) -> bool:
        return self.status == STATUS_OK


class AdjudicatedLike(Protocol):
    """The fields of ``annotate.adjudication.AdjudicatedLabel`` that scoring reads."""

    sentence_id: str
    article_id: str
    target: str
    label: str | None
    off_target: bool
    n_annotators: int
    agreement: float
    task_id: int | None


class PredictionLike(Protocol):
    """The fields of :class:`annotate.schema.PredictionRecord` that scoring reads."""

    sentence_id: str
    article_id: str
    target: str
    label: str
    probabilities: Mapping[str, float]


def stance_values(labels: Sequence[str]) -> dict[str, float]:
    """Map ordinal stance labels (critical ... favorable) linearly onto [-1, 1].

    ``("critical", "neutral", "favorable")`` -> ``{-1.0, 0.0, 1.0}``. Needs >= 2 labels.
    """
    if len(labels) < 2:
        raise ValueError(f"need at least two stance labels, got {list(labels)}")
    last = len(labels) - 1
    return {label: 2.0 * i / last - 1.0 for i, label in enumerate(labels)}


def expected_stance(probabilities: Mapping[str, float], *, labels: Sequence[str]) -> float:
    """Expected stance value under ``probabilities`` (``p(fav) - p(crit)`` for three labels).

    Raises ValueError when a label is missing or unknown, a probability is negative or not
    finite, or they do not sum to 1 (within 1e-3; small rounding is renormalised away).
    """
    values = stance_values(labels)
    if set(probabilities) != set(values):
        raise ValueError(f"probabilities must have exactly the stance labels {list(labels)}, "
                         f"got {sorted(probabilities)}")
    probs = {k: float(v) for k, v in probabilities.items()}
    if any(not math.isfinite(p) or p < 0 for p in probs.values()):
        raise ValueError(f"probabilities must be finite and >= 0, got {probs}")
    total = sum(probs.values())
    if abs(total - 1.0) > _PROBABILITY_TOLERANCE:
        raise ValueError(f"probabilities must sum to 1, got {total:.4f}")
    return sum(values[k] * p for k, p in probs.items()) / total


def observations_from_predictions(
    predictions: Iterable[PredictionLike],
    dimension: Dimension,
    *,
    labels: Sequence[str],
    task_ids: Mapping[str, int] | None = None,
    exclude: frozenset[tuple[str, str]] | set[tuple[str, str]] = frozenset(),
) -> list[Observation]:
    """Model observations of ``dimension``: one per prediction whose target is the dimension's.

    Args:
        predictions: PredictionRecord-like objects (any articles; grouping is the caller's).
        labels: the stance labels in ordinal order.
        task_ids: sentence_id -> Label Studio task id, for links.
        exclude: (sentence_id, target) pairs to leave out, e.g. mentions humans marked as
            off target ("not that actor", "not about engagement"): a prediction for a
            mention that is not the actor says nothing about that actor.
    """
    task_ids = task_ids or {}
    out = []
    for p in predictions:
        if p.target != dimension.target or (p.sentence_id, p.target) in exclude:
            continue
        value = dimension.sign * expected_stance(p.probabilities, labels=labels)  # checks the probabilities
        total = sum(float(p.probabilities[k]) for k in labels)
        out.append(Observation(
            sentence_id=p.sentence_id, article_id=p.article_id, value=value,
            label=p.label, probability=float(p.probabilities.get(p.label, float("nan"))),
            task_id=task_ids.get(p.sentence_id),
            probabilities=tuple(float(p.probabilities[k]) / total for k in labels)))
    return out


def observations_from_adjudicated(
    adjudicated: Iterable[AdjudicatedLike],
    dimension: Dimension,
    *,
    labels: Sequence[str],
) -> tuple[list[Observation], int]:
    """Human observations of ``dimension`` from adjudicated labels.

    Returns ``(observations, n_excluded)``: labels that are off target or unresolved
    (``label is None``, e.g. a tie under the "unresolved" policy) are excluded and counted.
    Raises ValueError on a label that is not a stance label.
    """
    values = stance_values(labels)
    out, excluded = [], 0
    for a in adjudicated:
        if a.target != dimension.target:
            continue
        if a.off_target or a.label is None:
            excluded += 1
            continue
        if a.label not in values:
            raise ValueError(f"sentence {a.sentence_id} target {a.target}: label {a.label!r} is not one of "
                             f"{list(labels)}")
        out.append(Observation(
            sentence_id=a.sentence_id, article_id=a.article_id, value=dimension.sign * values[a.label],
            label=a.label, agreement=float(a.agreement), n_annotators=int(a.n_annotators),
            task_id=a.task_id))
    return out, excluded


def rng_for(seed: int, *keys: str) -> np.random.Generator:
    """A generator seeded by ``seed`` and stable keys (article, dimension, basis).

    Each score gets its own stream, so one score does not change when others are added or
    the input order changes.
    """
    return np.random.default_rng([seed, *(zlib.crc32(k.encode("utf-8")) for k in keys)])


def bootstrap_mean_ci(
    values: Sequence[float] | np.ndarray,
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    rng: np.random.Generator | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (shape ``(n,)``).

    Edge cases: one value or identical values give a zero-width interval at that value;
    no values raise ValueError. The interval always lies within [min(values), max(values)].
    """
    x = np.asarray(values, dtype=float)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"need a non-empty 1-d array of values, got shape {x.shape}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    rng = rng if rng is not None else np.random.default_rng(0)
    means = x[rng.integers(0, x.size, size=(n_resamples, x.size))].mean(axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return float(low), float(high)


def select_evidence(observations: Sequence[Observation], *, k: int = 3) -> tuple[Evidence, ...]:
    """The ``k`` observations with the largest ``|value| / n``, strongest first.

    Observations with value 0 (a neutral label) do not move the score and are never evidence.
    Ties (common with human labels, all +-1) go to the sentences pushing in the direction of
    the score (they explain it), then to higher annotator agreement, then to input order
    (callers pass observations in sentence order).
    """
    n = len(observations)
    if n == 0 or k <= 0:
        return ()
    mean = sum(o.value for o in observations) / n

    def key(o: Observation) -> tuple[float, int, float]:
        against = 0 if (o.value > 0) == (mean >= 0) else 1
        return (-abs(o.value), against, -(o.agreement or 0.0))

    ranked = sorted((o for o in observations if o.value != 0), key=key)[:k]
    return tuple(Evidence(observation=o, contribution=o.value / n, rank=i + 1) for i, o in enumerate(ranked))


def score_observations(
    observations: Sequence[Observation],
    *,
    min_sentences: int = 3,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    rng: np.random.Generator | None = None,
    n_evidence: int = 3,
    n_excluded: int = 0,
) -> DimensionScore:
    """Score one article on one dimension from its observations.

    Returns a :class:`DimensionScore`: mean value, bootstrap interval over sentences and the
    top ``n_evidence`` evidence. With fewer than ``min_sentences`` observations (0 included)
    the status is ``"insufficient_evidence"`` and score and interval are None.
    """
    if min_sentences < 1:
        raise ValueError(f"min_sentences must be >= 1, got {min_sentences}")
    evidence = select_evidence(observations, k=n_evidence)
    n = len(observations)
    if n < min_sentences:
        return DimensionScore(score=None, ci_low=None, ci_high=None, n_sentences=n,
                              status=STATUS_INSUFFICIENT, evidence=evidence, n_excluded=n_excluded)
    values = np.array([o.value for o in observations], dtype=float)
    low, high = bootstrap_mean_ci(values, n_resamples=n_resamples, confidence=confidence, rng=rng)
    return DimensionScore(score=float(values.mean()), ci_low=low, ci_high=high, n_sentences=n,
                          status=STATUS_OK, evidence=evidence, n_excluded=n_excluded)


def probability_matrix(observations: Sequence[Observation]) -> np.ndarray:
    """The model probabilities of ``observations``, shape ``(n, K)``; ValueError if one has none."""
    missing = [o.sentence_id for o in observations if o.probabilities is None]
    if missing:
        raise ValueError(f"observation of sentence {missing[0]} has no model probabilities to correct")
    return np.array([o.probabilities for o in observations], dtype=float)


def score_model_observations(
    observations: Sequence[Observation],
    correction: Correction,
    *,
    values: Sequence[float],
    sign: float,
    min_sentences: int = 3,
    confidence: float = 0.95,
    rng: np.random.Generator | None = None,
    n_evidence: int = 3,
    n_excluded: int = 0,
) -> DimensionScore:
    """:func:`score_observations` for model observations, corrected for the classifier's errors.

    ``score``/``ci_*`` are the corrected score and its interval (sentences and gold items
    resampled together, see :func:`annotate.report.correction.corrected_mean_ci`); ``raw``
    holds the uncorrected score and sentence-bootstrap interval, drawn from the same
    generator as :func:`score_observations` would draw them, so they equal an uncorrected
    report's. ``values``: the stance value per label, unsigned; ``sign``: the dimension's.
    """
    if min_sentences < 1:
        raise ValueError(f"min_sentences must be >= 1, got {min_sentences}")
    evidence = select_evidence(observations, k=n_evidence)
    n = len(observations)
    if n < min_sentences:
        return DimensionScore(score=None, ci_low=None, ci_high=None, n_sentences=n, status=STATUS_INSUFFICIENT,
                              evidence=evidence, n_excluded=n_excluded, correction=CORRECTED,
                              raw=(None, None, None))
    rng = rng if rng is not None else np.random.default_rng(0)
    est = corrected_mean_ci(probability_matrix(observations), correction, values=values, sign=sign,
                            confidence=confidence, rng=rng)
    return corrected_score(est, n_sentences=n, evidence=evidence, n_excluded=n_excluded)


def corrected_score(est: CorrectedEstimate, *, n_sentences: int, evidence: tuple[Evidence, ...],
                    n_excluded: int, n_articles: int | None = None) -> DimensionScore:
    """A sufficient :class:`DimensionScore` from a :class:`CorrectedEstimate`."""
    return DimensionScore(score=est.score, ci_low=est.ci_low, ci_high=est.ci_high, n_sentences=n_sentences,
                          status=STATUS_OK, evidence=evidence, n_excluded=n_excluded, n_articles=n_articles,
                          correction=CORRECTED, raw=(est.raw_score, est.raw_ci_low, est.raw_ci_high),
                          shares=tuple(float(x) for x in est.shares),
                          raw_shares=tuple(float(x) for x in est.raw_shares))


def uncorrected(score: DimensionScore) -> DimensionScore:
    """A model score marked as not corrected: its raw score is the score itself."""
    return replace(score, correction=UNCORRECTED, raw=(score.score, score.ci_low, score.ci_high))


def uninformative(score: DimensionScore) -> DimensionScore:
    """A model score from a classifier whose gold shows it cannot tell the classes apart: the
    point stays the raw one (there is no better), the interval is the whole scale [-1, 1]
    (no stance can be ruled out), and the raw interval is kept under ``raw``."""
    marked = replace(score, correction=UNINFORMATIVE, raw=(score.score, score.ci_low, score.ci_high))
    return replace(marked, ci_low=-1.0, ci_high=1.0) if score.sufficient else marked


def difference(model: DimensionScore | None, human: DimensionScore | None) -> float | None:
    """``model.score - human.score`` when both are sufficient, else None."""
    if model is None or human is None or model.score is None or human.score is None:
        return None
    return model.score - human.score


def rounded(x: float | None, digits: int = 6) -> float | None:
    """``x`` rounded for output (floats like 0.5199999999999999 help no reader); None stays None."""
    return None if x is None else round(float(x), digits)


def score_to_dict(score: DimensionScore | None, *, labels: Sequence[str] | None = None) -> dict[str, Any] | None:
    """Numbers-only dict form, rounded to 6 decimals (evidence is serialised by the report
    builder, which knows the texts). Model scores add ``correction`` and ``raw_score``,
    ``raw_ci_low``, ``raw_ci_high``; corrected ones, with ``labels``, ``shares`` and
    ``raw_shares`` ({label: share})."""
    if score is None:
        return None
    out = {"score": rounded(score.score), "ci_low": rounded(score.ci_low), "ci_high": rounded(score.ci_high),
           "n_sentences": score.n_sentences, "n_excluded": score.n_excluded, "status": score.status,
           **({"n_articles": score.n_articles} if score.n_articles is not None else {})}
    if score.correction is not None:
        raw = score.raw or (None, None, None)
        out.update(correction=score.correction, raw_score=rounded(raw[0]), raw_ci_low=rounded(raw[1]),
                   raw_ci_high=rounded(raw[2]))
    if score.shares is not None and labels is not None:
        out["shares"] = {label: rounded(x) for label, x in zip(labels, score.shares)}
        out["raw_shares"] = {label: rounded(x) for label, x in zip(labels, score.raw_shares or ())}
    return out


__all__ = [
    "CORRECTED",
    "STATUS_INSUFFICIENT",
    "STATUS_OK",
    "UNCORRECTED",
    "UNINFORMATIVE",
    "DimensionScore",
    "Evidence",
    "Observation",
    "bootstrap_mean_ci",
    "corrected_score",
    "difference",
    "expected_stance",
    "observations_from_adjudicated",
    "observations_from_predictions",
    "probability_matrix",
    "rng_for",
    "rounded",
    "score_model_observations",
    "score_observations",
    "score_to_dict",
    "select_evidence",
    "stance_values",
    "uncorrected",
    "uninformative",
]
