"""Pure metrics and temperature scaling, checked against scikit-learn and by construction."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support
from sklearn.metrics import confusion_matrix as sk_confusion

from models.base import softmax
from models.calibration import fit_temperature
from models.metrics import (
    accuracy,
    classification_report,
    confusion_matrix,
    expected_calibration_error,
    macro_f1,
    negative_log_likelihood,
    per_class_scores,
    per_group_macro_f1,
)


@pytest.fixture
def labels():
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 3, 200)
    pred = np.where(rng.random(200) < 0.6, truth, rng.integers(0, 3, 200))
    return truth, pred


def test_scores_match_sklearn(labels):
    truth, pred = labels
    assert macro_f1(truth, pred, n_classes=3) == pytest.approx(f1_score(truth, pred, average="macro"))
    assert accuracy(truth, pred) == pytest.approx(accuracy_score(truth, pred))
    p, r, f, s = precision_recall_fscore_support(truth, pred, labels=[0, 1, 2], zero_division=0)
    ours = per_class_scores(truth, pred, n_classes=3)
    np.testing.assert_allclose(ours["precision"], p)
    np.testing.assert_allclose(ours["recall"], r)
    np.testing.assert_allclose(ours["f1"], f)
    np.testing.assert_array_equal(ours["support"], s)
    np.testing.assert_array_equal(confusion_matrix(truth, pred, n_classes=3), sk_confusion(truth, pred, labels=[0, 1, 2]))


def test_edge_cases():
    assert macro_f1([], [], n_classes=3) == 0.0
    # A class absent from both truth and prediction still counts (3-class F1m of the papers).
    assert macro_f1([0, 0, 1], [0, 0, 1], n_classes=3) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="items"):
        confusion_matrix([0, 1], [0], n_classes=3)
    with pytest.raises(ValueError, match="0..2"):
        confusion_matrix([0, 3], [0, 1], n_classes=3)
    assert expected_calibration_error(np.zeros((0, 3)), []) == 0.0


def test_bad_shapes_and_indices_are_refused_not_wrapped_around():
    probs = np.full((2, 3), 1 / 3)
    with pytest.raises(ValueError, match="shape"):
        negative_log_likelihood(probs, [1])  # before: scored the first row alone
    for labels in ([0, -1], [0, 3]):  # before: -1 read the last class, 3 an IndexError
        with pytest.raises(ValueError, match=r"0\.\.2"):
            negative_log_likelihood(probs, labels)
        with pytest.raises(ValueError, match=r"0\.\.2"):
            expected_calibration_error(probs, labels)
    with pytest.raises(ValueError, match="n_bins"):
        expected_calibration_error(probs, [0, 1], n_bins=0)
    with pytest.raises(ValueError, match=r"shape \(1, 2\) but y_pred has shape \(2,\)"):
        accuracy([[0, 1]], [0, 1])
    with pytest.raises(ValueError, match="one entry per pair"):
        per_group_macro_f1([0, 1], [0, 1], ["a"], n_classes=3)


def test_temperature_stays_one_when_validation_is_all_right():
    logits = np.array([[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 3.0]] * 4)
    assert fit_temperature(logits, [0, 1, 2] * 4) == 1.0  # NLL keeps falling as T -> 0
    wrong = [0, 1, 2] * 2 + [1, 1, 2] * 2
    assert fit_temperature(logits, wrong) > 1.0  # two errors in twelve: soften


def test_ece_is_zero_for_perfect_confidence_and_large_for_overconfidence():
    perfect = np.eye(3)[[0, 1, 2, 0]]
    assert expected_calibration_error(perfect, [0, 1, 2, 0]) == pytest.approx(0.0)
    wrong = np.eye(3)[[1, 2, 0, 1]]  # fully confident, always wrong
    assert expected_calibration_error(wrong, [0, 1, 2, 0]) == pytest.approx(1.0)


def test_per_group_scores_only_present_classes():
    out = per_group_macro_f1([0, 0, 1, 2], [0, 0, 1, 1], ["a", "a", "b", "b"], n_classes=3)
    assert out["a"] == {"macro_f1": 1.0, "accuracy": 1.0, "n": 2}
    assert out["b"]["n"] == 2 and out["b"]["macro_f1"] == pytest.approx(1 / 3)  # mean of F1(1)=2/3 and F1(2)=0


def test_report_has_every_section(labels):
    truth, pred = labels
    probs = softmax(np.eye(3)[pred] * 2.0)
    report = classification_report(truth, pred, labels=["critical", "neutral", "favorable"], probabilities=probs,
                                   groups=["x"] * len(truth))
    assert set(report) >= {"macro_f1", "accuracy", "per_class", "confusion_matrix", "ece", "nll", "per_target"}
    assert sum(map(sum, report["confusion_matrix"]["matrix"])) == len(truth)


def test_temperature_scaling_lowers_held_out_nll():
    """Over-confident logits: T fit on one half lowers NLL on the other half."""
    rng = np.random.default_rng(0)
    n = 2000
    truth = rng.integers(0, 3, n)
    logits = rng.normal(size=(n, 3))
    logits[np.arange(n), truth] += 1.0  # some signal
    logits *= 4.0  # far too confident
    fit_half, held_out = slice(0, n // 2), slice(n // 2, n)
    t = fit_temperature(logits[fit_half], truth[fit_half])
    assert t > 1.5
    before = negative_log_likelihood(softmax(logits[held_out]), truth[held_out])
    after = negative_log_likelihood(softmax(logits[held_out], temperature=t), truth[held_out])
    assert after < before - 0.1
    assert expected_calibration_error(softmax(logits[held_out], temperature=t), truth[held_out]) < \
        expected_calibration_error(softmax(logits[held_out]), truth[held_out])
