"""Article scoring math on hand-made inputs (annotate.report.scoring)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from test_report_fixtures import FixtureAdjudicated

from annotate.labels import load_label_set
from annotate.report.dimensions import Dimension
from annotate.report.scoring import (
    STATUS_INSUFFICIENT,
    STATUS_OK,
    Observation,
    bootstrap_mean_ci,
    expected_stance,
    observations_from_adjudicated,
    observations_from_predictions,
    rng_for,
    score_observations,
    select_evidence,
    stance_values,
)
from annotate.schema import PredictionRecord

LABELS = load_label_set().stance
CRITICAL, NEUTRAL, FAVORABLE = LABELS
PRO_PAKISTAN = Dimension(key="pro_pakistan", title="Pro-Pakistan", target="pakistan", sign=1)
CRITICAL_OF_PAKISTAN = Dimension(key="crit", title="Critical of Pakistan", target="pakistan", sign=-1)


def obs(values, article="a1"):
    return [Observation(sentence_id=f"s{i}", article_id=article, value=v) for i, v in enumerate(values)]


def prediction(sentence, target, probs):
    dist = dict(zip(LABELS, probs))
    return PredictionRecord(sentence_id=sentence, article_id="a1", target=target, label=max(dist, key=dist.get),
                            probabilities=dist, model_version="fixture")


def test_stance_values_are_linear_from_critical_to_favorable():
    assert stance_values(LABELS) == {CRITICAL: -1.0, NEUTRAL: 0.0, FAVORABLE: 1.0}
    assert stance_values(["a", "b", "c", "d", "e"])["b"] == pytest.approx(-0.5)
    with pytest.raises(ValueError):
        stance_values(["only"])


def test_expected_stance_is_p_favorable_minus_p_critical():
    probs = {CRITICAL: 0.2, NEUTRAL: 0.3, FAVORABLE: 0.5}
    assert expected_stance(probs, labels=LABELS) == pytest.approx(0.3)
    assert expected_stance({CRITICAL: 1.0, NEUTRAL: 0.0, FAVORABLE: 0.0}, labels=LABELS) == -1.0


@pytest.mark.parametrize("probs, message", [
    ({CRITICAL: 0.5, FAVORABLE: 0.5}, "exactly the stance labels"),
    ({CRITICAL: 0.5, NEUTRAL: 0.5, FAVORABLE: 0.5}, "sum to 1"),
    ({CRITICAL: -0.1, NEUTRAL: 0.6, FAVORABLE: 0.5}, ">= 0"),
    ({CRITICAL: float("nan"), NEUTRAL: 0.5, FAVORABLE: 0.5}, "finite"),
])
def test_expected_stance_rejects_bad_probabilities(probs, message):
    with pytest.raises(ValueError, match=message):
        expected_stance(probs, labels=LABELS)


def test_model_observations_are_probability_weighted_and_signed():
    preds = [prediction("s1", "pakistan", (0.1, 0.2, 0.7)), prediction("s2", "pakistan", (0.6, 0.3, 0.1)),
             prediction("s3", "india", (0.0, 0.0, 1.0))]
    pro = observations_from_predictions(preds, PRO_PAKISTAN, labels=LABELS, task_ids={"s1": 7})
    assert [o.sentence_id for o in pro] == ["s1", "s2"]  # india is another dimension's target
    assert [o.value for o in pro] == pytest.approx([0.6, -0.5])
    assert pro[0].label == FAVORABLE and pro[0].probability == pytest.approx(0.7) and pro[0].task_id == 7
    flipped = observations_from_predictions(preds, CRITICAL_OF_PAKISTAN, labels=LABELS)
    assert [o.value for o in flipped] == pytest.approx([-0.6, 0.5])
    excluded = observations_from_predictions(preds, PRO_PAKISTAN, labels=LABELS, exclude={("s2", "pakistan")})
    assert [o.sentence_id for o in excluded] == ["s1"]


def test_human_observations_skip_off_target_and_unresolved():
    def adj(sentence, label, off=False):
        return FixtureAdjudicated(sentence_id=sentence, article_id="a1", target="pakistan", label=label,
                                  off_target=off, n_annotators=2, agreement=0.5 if label == NEUTRAL else 1.0)
    labels = [adj("s1", FAVORABLE), adj("s2", CRITICAL), adj("s3", NEUTRAL), adj("s4", None, off=True),
              adj("s5", None)]
    out, n_excluded = observations_from_adjudicated(labels, PRO_PAKISTAN, labels=LABELS)
    assert [o.value for o in out] == [1.0, -1.0, 0.0]
    assert n_excluded == 2
    assert out[2].agreement == 0.5 and out[0].n_annotators == 2
    out, _ = observations_from_adjudicated(labels, CRITICAL_OF_PAKISTAN, labels=LABELS)
    assert [o.value for o in out] == [-1.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="not one of"):
        observations_from_adjudicated([adj("s6", "supportive")], PRO_PAKISTAN, labels=LABELS)


def test_score_is_the_mean_with_an_interval_around_it():
    values = [1.0, 1.0, 0.0, -1.0, 1.0, 0.0]
    score = score_observations(obs(values), rng=rng_for(0, "t"))
    assert score.status == STATUS_OK and score.sufficient
    assert score.score == pytest.approx(np.mean(values))
    assert score.n_sentences == 6
    assert min(values) <= score.ci_low < score.score < score.ci_high <= max(values)


def test_bootstrap_interval_matches_scipy_percentile_bootstrap():
    rng = np.random.default_rng(42)
    values = rng.choice([-1.0, 0.0, 1.0], p=[0.2, 0.3, 0.5], size=40)
    low, high = bootstrap_mean_ci(values, n_resamples=20000, rng=np.random.default_rng(1))
    ref = stats.bootstrap((values,), np.mean, n_resamples=20000, method="percentile", confidence_level=0.95,
                          random_state=np.random.default_rng(2)).confidence_interval
    assert low == pytest.approx(ref.low, abs=0.03)
    assert high == pytest.approx(ref.high, abs=0.03)


def test_interval_narrows_with_more_sentences_and_is_seeded():
    rng = np.random.default_rng(3)
    few, many = rng.choice([-1.0, 1.0], size=10), rng.choice([-1.0, 1.0], size=400)
    width = lambda v: np.subtract(*bootstrap_mean_ci(v, rng=np.random.default_rng(0))[::-1])
    assert width(many) < width(few) / 3
    a = bootstrap_mean_ci(few, rng=rng_for(5, "article", "dim"))
    b = bootstrap_mean_ci(few, rng=rng_for(5, "article", "dim"))
    c = bootstrap_mean_ci(few, n_resamples=50, rng=rng_for(6, "article", "dim"))
    assert a == b
    assert a != c


def test_identical_values_give_a_zero_width_interval():
    assert bootstrap_mean_ci([0.5, 0.5, 0.5]) == (0.5, 0.5)
    with pytest.raises(ValueError):
        bootstrap_mean_ci([])


def test_too_few_sentences_is_insufficient_evidence_not_a_number():
    score = score_observations(obs([1.0, 1.0]), min_sentences=3)
    assert score.status == STATUS_INSUFFICIENT and not score.sufficient
    assert score.score is None and score.ci_low is None and score.ci_high is None
    assert score.n_sentences == 2
    assert len(score.evidence) == 2  # reviewers still see what little there is
    empty = score_observations([], min_sentences=3)
    assert empty.status == STATUS_INSUFFICIENT and empty.n_sentences == 0 and empty.evidence == ()
    # the threshold is configurable
    assert score_observations(obs([1.0, 1.0]), min_sentences=2).score == 1.0
    with pytest.raises(ValueError):
        score_observations(obs([1.0]), min_sentences=0)


def test_evidence_is_the_sentences_that_move_the_score_most():
    values = [0.1, -0.9, 0.0, 0.5, 0.7]
    evidence = select_evidence(obs(values), k=3)
    assert [e.observation.sentence_id for e in evidence] == ["s1", "s4", "s3"]
    assert [e.rank for e in evidence] == [1, 2, 3]
    assert [e.contribution for e in evidence] == pytest.approx([-0.9 / 5, 0.7 / 5, 0.5 / 5])
    # neutral sentences (value 0) never count as evidence
    assert [e.observation.sentence_id for e in select_evidence(obs([0.0, 0.0, 1.0]), k=3)] == ["s2"]
    assert sum(e.contribution for e in select_evidence(obs(values), k=10)) == pytest.approx(np.mean(values))


def test_evidence_ties_go_to_sentences_that_explain_the_score():
    values = [-1.0, 1.0, 1.0, 0.0, 1.0]  # score +0.4: the +1 sentences explain it
    evidence = select_evidence(obs(values), k=2)
    assert [e.observation.sentence_id for e in evidence] == ["s1", "s2"]
    agreed = [Observation("low", "a", 1.0, agreement=0.5), Observation("high", "a", 1.0, agreement=1.0)]
    assert select_evidence(agreed, k=1)[0].observation.sentence_id == "high"
