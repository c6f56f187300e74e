"""Error-corrected slant (annotate.report.correction): recovery of known mixes, degenerate
confusions, intervals that widen with little gold, determinism.

Synthetic data throughout: a simulated classifier whose probabilities for a sentence of true
class j are Dirichlet(kappa * CONFUSION[j]), so its soft confusion is known exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

from annotate.report.correction import (
    ACC,
    PACC,
    DegenerateConfusionError,
    confusion,
    corrected_mean_ci,
    corrected_scores,
    corrected_shares,
    corrected_weights,
    fit_correction,
    project_to_simplex,
    replicate_weights,
)
from annotate.report.scoring import bootstrap_mean_ci

VALUES = np.array([-1.0, 0.0, 1.0])
LABELS = ("critical", "neutral", "favorable")
CONFUSION = np.array([[0.55, 0.30, 0.15], [0.10, 0.60, 0.30], [0.05, 0.25, 0.70]])


def classify(truth, rng, kappa=4.0):
    draws = rng.gamma(kappa * CONFUSION[np.asarray(truth)])
    return draws / draws.sum(axis=1, keepdims=True)


def gold_set(n, rng, prevalence=(0.2, 0.55, 0.25)):
    truth = rng.choice(3, size=n, p=prevalence)
    return truth, classify(truth, rng)


def test_the_correction_recovers_a_known_stance_mix():
    rng = np.random.default_rng(0)
    truth, probs = gold_set(6000, rng)
    mix = np.array([0.1, 0.3, 0.6])  # an article strongly favorable, read by a model that blurs it
    article = classify(rng.choice(3, size=4000, p=mix), rng)
    for method in (PACC, ACC):
        correction = fit_correction(truth, probs, values=VALUES, method=method, n_resamples=200, rng=rng)
        est = corrected_mean_ci(article, correction, values=VALUES, rng=rng)
        true_score = float(mix @ VALUES)  # +0.5
        assert abs(est.raw_score - true_score) > 0.1  # the raw model score is biased toward neutral
        assert est.score == pytest.approx(true_score, abs=0.04), method
        assert est.shares == pytest.approx(mix, abs=0.04), method
        assert est.ci_low <= true_score <= est.ci_high


def test_an_exact_confusion_is_inverted_exactly():
    # gold of one-hot "probabilities" arranged so the confusion is exactly CONFUSION
    truth, probs = [], []
    for j, row in enumerate(CONFUSION):
        for label, share in enumerate(row):
            truth += [j] * round(share * 100)
            probs += [np.eye(3)[label]] * round(share * 100)
    matrix, counts = confusion(truth, np.array(probs))
    assert matrix == pytest.approx(CONFUSION)
    assert counts.tolist() == [100, 100, 100]
    mix = np.array([0.25, 0.25, 0.5])
    observed = CONFUSION.T @ mix
    assert corrected_shares(matrix, observed) == pytest.approx(mix)
    weights = corrected_weights(matrix, VALUES, counts=counts)
    assert float(observed @ weights) == pytest.approx(float(mix @ VALUES))


def test_a_class_the_classifier_never_predicts_is_named():
    rng = np.random.default_rng(1)
    truth, probs = gold_set(300, rng)
    probs = probs.copy()
    probs[:, 0] = 0.0  # never "critical", not even a little
    probs /= probs.sum(axis=1, keepdims=True)
    with pytest.raises(DegenerateConfusionError, match="never predicts 'critical'"):
        fit_correction(truth, probs, values=VALUES, labels=LABELS, n_resamples=50, rng=rng)
    # the plain (hard) form has the same problem as soon as "critical" never wins the argmax
    hard = np.tile([0.3, 0.4, 0.3], (300, 1))
    with pytest.raises(DegenerateConfusionError, match="never predicts 'critical', 'favorable'"):
        fit_correction(truth, hard, values=VALUES, labels=LABELS, method=ACC, n_resamples=50, rng=rng)


def test_a_singular_confusion_is_refused_with_its_condition_number():
    rng = np.random.default_rng(2)
    truth = rng.choice(3, size=300)
    probs = np.tile([0.2, 0.5, 0.3], (300, 1)) + rng.normal(0, 1e-4, size=(300, 3))  # output ignores the truth
    probs = np.abs(probs) / np.abs(probs).sum(axis=1, keepdims=True)
    with pytest.raises(DegenerateConfusionError, match="nearly\\) singular \\(condition number"):
        fit_correction(truth, probs, values=VALUES, n_resamples=50, rng=rng)


def test_too_little_gold_for_a_class_is_named_with_its_count():
    rng = np.random.default_rng(3)
    truth, probs = gold_set(200, rng, prevalence=(0.0, 0.7, 0.3))
    truth[:3] = 0  # three critical items
    with pytest.raises(DegenerateConfusionError, match="too little gold: 3 'critical' item"):
        fit_correction(truth, probs, values=VALUES, labels=LABELS, n_resamples=50, rng=rng)
    matrix, counts = confusion(truth[3:], probs[3:])  # no critical item at all: a row of NaN
    assert np.isnan(matrix[0]).all()
    with pytest.raises(DegenerateConfusionError, match="0 'critical'"):
        corrected_weights(matrix, VALUES, counts=counts, labels=LABELS)


def test_singular_gold_resamples_widen_the_interval_instead_of_giving_nan():
    weights = np.array([[1.0, 0.0, -1.0], [np.nan, np.nan, np.nan], [np.nan, np.nan, np.nan], [0.5, 0.5, 0.5]])
    means = np.tile([0.2, 0.5, 0.3], (4, 1))
    scores = corrected_scores(means, weights)
    assert np.isfinite(scores).all()
    assert scores.tolist() == pytest.approx([-0.1, 1.0, -1.0, 0.5])  # NaN replicates: the extremes, alternately
    # tiny gold (5 per class) still yields finite weights, NaN rows only where a resample is singular
    rng = np.random.default_rng(4)
    truth = np.repeat([0, 1, 2], 5)
    replicates = replicate_weights(truth, classify(truth, rng), VALUES, n_resamples=500, rng=rng)
    assert replicates.shape == (500, 3)
    assert np.isfinite(corrected_scores(np.full((500, 3), 1 / 3), replicates)).all()


def test_fewer_gold_labels_give_a_wider_interval_than_many():
    rng = np.random.default_rng(5)
    article = classify(rng.choice(3, size=40, p=[0.2, 0.5, 0.3]), rng)
    widths = {}
    for n_gold in (40, 4000):
        truth, probs = gold_set(n_gold, np.random.default_rng(6))
        correction = fit_correction(truth, probs, values=VALUES, n_resamples=2000, rng=np.random.default_rng(7))
        est = corrected_mean_ci(article, correction, values=VALUES, rng=np.random.default_rng(8))
        widths[n_gold] = est.ci_high - est.ci_low
        # the corrected interval is never the raw one's width: it carries the classifier's errors too
        assert widths[n_gold] > est.raw_ci_high - est.raw_ci_low
    assert widths[40] > 1.3 * widths[4000]


def test_the_raw_interval_is_the_uncorrected_bootstrap_with_the_same_generator():
    rng = np.random.default_rng(9)
    truth, probs = gold_set(300, rng)
    correction = fit_correction(truth, probs, values=VALUES, n_resamples=1000, rng=rng)
    article = classify(rng.choice(3, size=25), rng)
    est = corrected_mean_ci(article, correction, values=VALUES, sign=-1.0, rng=np.random.default_rng(10))
    plain = bootstrap_mean_ci(-(article @ VALUES), n_resamples=1000, rng=np.random.default_rng(10))
    assert (est.raw_ci_low, est.raw_ci_high) == pytest.approx(plain, abs=1e-12)
    assert est.raw_score == pytest.approx(float(-(article @ VALUES).mean()))


def test_the_same_seed_gives_the_same_estimate_and_another_seed_another():
    rng = np.random.default_rng(11)
    truth, probs = gold_set(300, rng)
    article = classify(rng.choice(3, size=30), rng)

    def run(seed):
        correction = fit_correction(truth, probs, values=VALUES, n_resamples=500, rng=np.random.default_rng(seed))
        return corrected_mean_ci(article, correction, values=VALUES, rng=np.random.default_rng(seed + 100))

    first, again, other = run(0), run(0), run(1)
    assert (first.score, first.ci_low, first.ci_high) == (again.score, again.ci_low, again.ci_high)
    assert first.score == other.score  # the point does not depend on the resamples
    assert (first.ci_low, first.ci_high) != (other.ci_low, other.ci_high)


def test_scores_and_intervals_stay_within_the_scale():
    rng = np.random.default_rng(12)
    truth, probs = gold_set(60, rng)
    correction = fit_correction(truth, probs, values=VALUES, n_resamples=500, rng=rng)
    extreme = classify(np.full(20, 2), rng)  # every sentence favorable: the unclipped correction overshoots
    est = corrected_mean_ci(extreme, correction, values=VALUES, rng=rng)
    assert -1 <= est.ci_low <= est.score <= est.ci_high <= 1
    assert project_to_simplex(np.array([1.2, -0.1, -0.1])) == pytest.approx([1.0, 0.0, 0.0])
    assert est.shares.sum() == pytest.approx(1.0) and (est.shares >= 0).all()


def test_bad_gold_input_is_a_clear_error():
    with pytest.raises(ValueError, match="shape \\(n, K\\) with n=2"):
        confusion([0, 1], np.ones((3, 3)) / 3)
    with pytest.raises(ValueError, match="true class indices must lie in 0..2"):
        confusion([0, 5], np.ones((2, 3)) / 3)
    with pytest.raises(ValueError, match="unknown correction method"):
        confusion([0], np.ones((1, 3)) / 3, method="magic")


def test_row_quantiles_equal_numpys():
    from annotate.report.correction import row_quantiles

    rows = np.random.default_rng(13).normal(size=(3, 2000))
    rows[2, :] = 0.5  # all equal
    for low, high in ((0.025, 0.975), (0.05, 0.95), (0.0, 1.0)):
        expected = np.quantile(rows, [low, high], axis=1)
        got = row_quantiles(rows, low, high)
        assert np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])
