"""Agreement metrics agree with scikit-learn, statsmodels and the krippendorff package."""

from __future__ import annotations

import math
import warnings

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as statsmodels_fleiss_kappa

from annotate.agreement import (
    agreement_report,
    bootstrap_ci,
    cohen_kappa,
    collect_labels,
    counts_from_ratings,
    fleiss_kappa,
    krippendorff_alpha,
    percent_agreement,
)
from annotate.labels import ENGAGEMENT_TARGET
from tests.annotation_fixtures import CRITICAL, FAVORABLE, NEUTRAL, STANCE, A, B, C, five_article_export, record

K = len(STANCE)


def _random_ratings(seed: int, n_items: int = 60, n_raters: int = 4, *, missing: float = 0.0) -> np.ndarray:
    """Correlated random codes (raters copy a latent label 60% of the time), NaN = missing."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, K, size=n_items)
    ratings = np.where(rng.random((n_items, n_raters)) < 0.6, truth[:, None],
                       rng.integers(0, K, size=(n_items, n_raters))).astype(float)
    ratings[rng.random(ratings.shape) < missing] = np.nan
    return ratings


HAND_MADE = np.array([  # 10 items x 3 raters, codes 0..2, one missing label
    [0, 0, 0], [0, 0, 1], [1, 1, 1], [2, 2, 2], [2, 1, 2],
    [0, 1, 2], [1, 1, np.nan], [2, 2, 1], [0, 0, 0], [1, 2, 1],
], dtype=float)


@pytest.mark.parametrize("seed", range(6))
def test_cohen_kappa_matches_sklearn(seed: int) -> None:
    r = _random_ratings(seed, n_raters=2)
    ours = cohen_kappa(r[:, 0], r[:, 1], n_categories=K)
    assert ours == pytest.approx(cohen_kappa_score(r[:, 0].astype(int), r[:, 1].astype(int)), abs=1e-12)


def test_cohen_kappa_with_missing_uses_items_both_labeled() -> None:
    r = _random_ratings(7, n_raters=2, missing=0.25)
    both = ~np.isnan(r).any(axis=1)
    assert 0 < both.sum() < len(r)
    expected = cohen_kappa_score(r[both, 0].astype(int), r[both, 1].astype(int))
    assert cohen_kappa(r[:, 0], r[:, 1], n_categories=K) == pytest.approx(expected, abs=1e-12)
    assert cohen_kappa(HAND_MADE[:, 0], HAND_MADE[:, 2]) == pytest.approx(
        cohen_kappa_score(np.delete(HAND_MADE[:, 0], 6), np.delete(HAND_MADE[:, 2], 6)), abs=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_fleiss_kappa_matches_statsmodels(seed: int) -> None:
    counts = counts_from_ratings(_random_ratings(seed, n_raters=3 + seed % 3), n_categories=K)
    assert fleiss_kappa(counts) == pytest.approx(statsmodels_fleiss_kappa(counts, method="fleiss"), abs=1e-12)


def test_fleiss_kappa_hand_made() -> None:
    complete = HAND_MADE[~np.isnan(HAND_MADE).any(axis=1)]
    counts = counts_from_ratings(complete, n_categories=K)
    assert fleiss_kappa(counts) == pytest.approx(statsmodels_fleiss_kappa(counts), abs=1e-12)
    # Missing label: the item is kept with its two labels; the value differs from dropping it.
    with_missing = fleiss_kappa(counts_from_ratings(HAND_MADE, n_categories=K))
    assert not math.isnan(with_missing) and with_missing != pytest.approx(fleiss_kappa(counts))


@pytest.mark.parametrize("level", ["nominal", "ordinal"])
@pytest.mark.parametrize("seed", range(6))
def test_krippendorff_alpha_matches_package(level: str, seed: int) -> None:
    r = _random_ratings(seed, n_raters=4, missing=0.3 if seed % 2 else 0.0)
    ours = krippendorff_alpha(counts_from_ratings(r, n_categories=K), level=level)
    theirs = krippendorff.alpha(reliability_data=r.T, level_of_measurement=level, value_domain=list(range(K)))
    assert ours == pytest.approx(theirs, abs=1e-9)


@pytest.mark.parametrize("level", ["nominal", "ordinal"])
def test_krippendorff_alpha_hand_made_and_single_label_items(level: str) -> None:
    ratings = np.vstack([HAND_MADE, [[2, np.nan, np.nan]], [[np.nan, np.nan, np.nan]]])  # items with 1 and 0 labels
    theirs = krippendorff.alpha(reliability_data=ratings.T, level_of_measurement=level, value_domain=list(range(K)))
    assert krippendorff_alpha(counts_from_ratings(ratings, n_categories=K), level=level) == pytest.approx(theirs, abs=1e-9)
    assert krippendorff_alpha(counts_from_ratings(HAND_MADE, n_categories=K), level=level) == pytest.approx(theirs, abs=1e-9)


def test_ordinal_alpha_penalises_far_disagreements_more() -> None:
    near = np.array([[0, 1], [1, 2], [0, 0], [2, 2], [1, 1], [0, 0], [2, 2]], dtype=float)
    far = np.array([[0, 2], [2, 0], [0, 0], [2, 2], [1, 1], [0, 0], [2, 2]], dtype=float)
    for r in (near, far):
        c = counts_from_ratings(r, n_categories=K)
        assert krippendorff_alpha(c, level="nominal") == pytest.approx(
            krippendorff.alpha(reliability_data=r.T, level_of_measurement="nominal", value_domain=[0, 1, 2]))
    near_o = krippendorff_alpha(counts_from_ratings(near, n_categories=K), level="ordinal")
    far_o = krippendorff_alpha(counts_from_ratings(far, n_categories=K), level="ordinal")
    assert near_o > far_o


def test_perfect_agreement_is_one_not_a_division_error() -> None:
    perfect = np.array([[0, 0, 0], [1, 1, 1], [2, 2, 2], [1, 1, np.nan]], dtype=float)
    counts = counts_from_ratings(perfect, n_categories=K)
    assert cohen_kappa(perfect[:, 0], perfect[:, 1]) == 1.0
    assert fleiss_kappa(counts) == 1.0
    assert krippendorff_alpha(counts, level="nominal") == 1.0
    assert krippendorff_alpha(counts, level="ordinal") == 1.0
    assert percent_agreement(counts) == 1.0
    # Degenerate: one category only. The references divide by zero / give NaN; we give 1.0.
    one_category = np.ones((5, 3))
    c1 = counts_from_ratings(one_category, n_categories=K)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert math.isnan(cohen_kappa_score([1] * 5, [1] * 5))  # scikit-learn: undefined
    assert cohen_kappa(one_category[:, 0], one_category[:, 1], n_categories=K) == 1.0
    assert fleiss_kappa(c1) == 1.0
    assert krippendorff_alpha(c1, level="ordinal") == 1.0


def test_no_pairable_items_is_nan() -> None:
    lonely = np.array([[0, np.nan], [np.nan, 1]], dtype=float)
    counts = counts_from_ratings(lonely, n_categories=K)
    for value in (cohen_kappa(lonely[:, 0], lonely[:, 1]), fleiss_kappa(counts),
                  krippendorff_alpha(counts), percent_agreement(counts)):
        assert math.isnan(value)


def test_percent_agreement_two_raters_is_share_of_identical_items() -> None:
    r = _random_ratings(3, n_raters=2)
    assert percent_agreement(counts_from_ratings(r, n_categories=K)) == pytest.approx(np.mean(r[:, 0] == r[:, 1]))


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="integer codes"):
        counts_from_ratings(np.array([[0, 3]]), n_categories=K)
    # Fractional or slightly negative codes were truncated to valid ones (kappa 1.0).
    with pytest.raises(ValueError, match="whole numbers"):
        cohen_kappa([0.5, 1.7, 2.9], [0, 1, 2], n_categories=K)
    with pytest.raises(ValueError, match="whole numbers"):
        cohen_kappa([-0.5, 1, 2], [0, 1, 2], n_categories=K)
    with pytest.raises(ValueError, match="valid levels: nominal, ordinal"):
        krippendorff_alpha(np.ones((2, 3)), level="interval")


@pytest.mark.parametrize("seed", range(4))
def test_bootstrap_ci_contains_point_estimate_and_is_seeded(seed: int) -> None:
    counts = counts_from_ratings(_random_ratings(seed, n_items=80, n_raters=3, missing=0.1), n_categories=K)
    est = bootstrap_ci(fleiss_kappa, counts, n_boot=400, seed=seed)
    assert est.ci_low <= est.value <= est.ci_high
    assert est.ci_high - est.ci_low > 0.01  # a real interval, not a point
    again = bootstrap_ci(fleiss_kappa, counts, n_boot=400, seed=seed)
    assert (again.ci_low, again.ci_high) == (est.ci_low, est.ci_high)
    wider = bootstrap_ci(fleiss_kappa, counts, n_boot=400, seed=seed, confidence=0.99)
    assert wider.ci_low <= est.ci_low and wider.ci_high >= est.ci_high


def test_report_on_multi_annotator_export() -> None:
    records = five_article_export()
    report = agreement_report(records, n_boot=200, seed=1)
    assert report["labels"] == list(STANCE)
    ex = report["excluded"]
    assert (ex["skipped"], ex["cancelled"], ex["off_target"], ex["superseded"]) == (5, 5, 10, 5)
    assert set(report["targets"]) == {"pakistan", "afghan_taliban", ENGAGEMENT_TARGET}
    pak = report["targets"]["pakistan"]
    assert pak["n_annotators"] == 3 and pak["n_items"] == 20 and pak["n_items_single_label"] == 0
    taliban = report["targets"]["afghan_taliban"]
    assert taliban["n_items"] == 5 and taliban["n_items_single_label"] == 5  # s1: only C's label is a stance
    assert taliban["fleiss_kappa"]["value"] == 1.0  # every pairable item: unanimous neutral
    # Recompute Pakistan's figures from the raw labels with the reference implementations.
    labels, _ = collect_labels(records)
    items = [v for (s, t), v in labels.items() if t == "pakistan"]
    ratings = np.array([[v.get(a, np.nan) for a in (A, B, C)] for v in items], dtype=float)
    assert pak["krippendorff_alpha_nominal"]["value"] == pytest.approx(krippendorff.alpha(
        reliability_data=ratings.T, level_of_measurement="nominal", value_domain=[0, 1, 2]), abs=1e-6)
    assert pak["krippendorff_alpha_ordinal"]["value"] == pytest.approx(krippendorff.alpha(
        reliability_data=ratings.T, level_of_measurement="ordinal", value_domain=[0, 1, 2]), abs=1e-6)
    pair_ab = next(p for p in pak["cohen_kappa_pairs"] if p["annotators"] == sorted([A, B]))
    assert pair_ab["n_items"] == 20
    assert pair_ab["cohen_kappa"]["value"] == pytest.approx(
        cohen_kappa_score(ratings[:, 0].astype(int), ratings[:, 1].astype(int)), abs=1e-6)
    pair_ac = next(p for p in pak["cohen_kappa_pairs"] if p["annotators"] == sorted([A, C]))
    assert pair_ac["n_items"] == 15  # C skipped s2 in every article
    overall = report["overall"]
    assert overall["n_items"] == sum(g["n_items"] for g in report["targets"].values())
    for g in [overall, *report["targets"].values()]:
        for key in ("percent_agreement", "fleiss_kappa", "krippendorff_alpha_nominal", "krippendorff_alpha_ordinal"):
            est = g[key]
            if est["ci_low"] is not None:
                assert est["ci_low"] <= est["value"] + 1e-9 and est["value"] <= est["ci_high"] + 1e-9


def test_report_revision_uses_latest_label() -> None:
    first = record("x/s0", "pakistan", A, CRITICAL)
    other = record("x/s0", "pakistan", B, FAVORABLE)
    revised = record("x/s0", "pakistan", A, FAVORABLE)
    report = agreement_report([revised, first, other], n_boot=0)  # order must not matter
    assert report["overall"]["percent_agreement"]["value"] == 1.0
    assert report["overall"]["percent_agreement"]["ci_low"] is None  # n_boot=0: no interval
    assert report["excluded"]["superseded"] == 1
    assert NEUTRAL in report["labels"]


def test_report_intervals_do_not_depend_on_the_order_of_the_records() -> None:
    records = five_article_export()
    shuffled = list(records)
    np.random.default_rng(5).shuffle(shuffled)
    assert shuffled != records
    first = agreement_report(records, n_boot=100, seed=3)
    assert agreement_report(shuffled, n_boot=100, seed=3) == first
    assert agreement_report(records, n_boot=100, seed=4)["overall"] != first["overall"]  # the seed still matters
