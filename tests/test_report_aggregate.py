"""Per-source aggregation and human vs model comparison (annotate.report.aggregate / build)."""

from __future__ import annotations

import numpy as np
import pytest
from test_report_fixtures import (
    ARTICLES,
    DEFAULT_PROBABILITIES,
    HUMAN_LABELS,
    PROBABILITIES,
    make_adjudicated,
    make_predictions,
    make_sentences,
    sentence_id,
)

from annotate.labels import ENGAGEMENT_TARGET
from annotate.report import ReportOptions, build_report
from annotate.report.aggregate import (
    aggregate_source,
    aligned_values,
    cluster_bootstrap_mean_ci,
    paired_difference_ci,
)
from annotate.report.scoring import STATUS_INSUFFICIENT, Observation, bootstrap_mean_ci


def approx(expected, abs=1e-6):
    """report.json rounds to 6 decimals."""
    return pytest.approx(expected, abs=abs)


A000, A003, A004 = "000_594f207f9f4d21fb", "003_480c0d6243ab4fe2", "004_a8dd27559ae93e0a"


def obs(article, values):
    return [Observation(sentence_id=f"{article}-{i}", article_id=article, value=v) for i, v in enumerate(values)]


def model_value(article, index, target, sign=1):
    p_crit, _, p_fav = PROBABILITIES.get((article, index, target), DEFAULT_PROBABILITIES)
    return sign * (p_fav - p_crit)


def test_one_article_reduces_to_the_sentence_bootstrap():
    values = np.random.default_rng(0).choice([-1.0, 0.0, 1.0], size=30)
    clustered = cluster_bootstrap_mean_ci([values], n_resamples=20000, rng=np.random.default_rng(1))
    plain = bootstrap_mean_ci(values, n_resamples=20000, rng=np.random.default_rng(2))
    assert clustered == approx(plain, abs=0.03)


def test_disagreeing_articles_widen_the_source_interval():
    # same 40 sentence values, same pooled mean 0; only how they split over articles differs
    split = [[1.0] * 10, [-1.0] * 10, [1.0] * 10, [-1.0] * 10]      # each article one-sided
    mixed = [[1.0, -1.0] * 5 for _ in range(4)]                      # each article balanced
    low_s, high_s = cluster_bootstrap_mean_ci(split, rng=np.random.default_rng(0))
    low_m, high_m = cluster_bootstrap_mean_ci(mixed, rng=np.random.default_rng(0))
    assert (high_s - low_s) > 1.5 * (high_m - low_m)
    assert low_s < 0 < high_s


def test_paired_difference_interval_measures_disagreement_on_the_same_sentences():
    rng = np.random.default_rng(0)
    human = list(rng.choice([-1.0, 0.0, 1.0], size=30))
    # a model that agrees exactly: zero difference in every resample, however spread the labels
    assert paired_difference_ci([(human, human)], rng=np.random.default_rng(1)) == (0.0, 0.0)
    # a model shifted by +0.4 on every sentence: the interval is about +0.4 and excludes 0
    shifted = [min(h + 0.4, 1.0) for h in human]
    low, high = paired_difference_ci([(human, shifted)], rng=np.random.default_rng(1))
    true = np.mean(shifted) - np.mean(human)
    assert 0 < low <= true <= high
    # unpaired scores of the same spread would give a much wider interval than the paired one
    lo_u, hi_u = bootstrap_mean_ci(human, rng=np.random.default_rng(2))
    assert (high - low) < (hi_u - lo_u) / 2
    # sentences scored by one basis only still count for that basis; no overlap -> None
    h, m = aligned_values(obs("a", [1.0, 1.0]), obs("a", [0.0, 0.0, 0.0]))
    assert h == [1.0, 1.0, None] and m == [0.0, 0.0, 0.0]
    assert paired_difference_ci([([1.0, None], [None, 0.5])], n_resamples=50) is not None  # overlap by chance
    assert paired_difference_ci([([None], [0.5])], n_resamples=50) is None


def test_source_score_pools_sentences_and_counts_articles():
    score = aggregate_source({"a": obs("a", [1.0, 1.0, 1.0, 1.0]), "b": obs("b", [-1.0, 0.0]), "c": []},
                             rng=np.random.default_rng(0))
    assert score.score == approx(3 / 6)  # pooled: every sentence counts once
    assert score.n_sentences == 6 and score.n_articles == 2
    assert score.ci_low <= score.score <= score.ci_high
    thin = aggregate_source({"a": obs("a", [1.0]), "b": obs("b", [1.0])}, min_sentences=3)
    assert thin.status == STATUS_INSUFFICIENT and thin.score is None and thin.n_articles == 2


@pytest.fixture(scope="module")
def report():
    sentences = make_sentences()
    return build_report(sentences=sentences, predictions=make_predictions(sentences), adjudicated=make_adjudicated(),
                        options=ReportOptions(n_resamples=500))


def test_article_model_scores_match_hand_computation(report):
    n = len(ARTICLES[A000][1])
    # engagement: every sentence is predicted, but humans marked sentence 2 "not about engagement"
    expected = np.mean([model_value(A000, i, ENGAGEMENT_TARGET) for i in range(n) if i != 2])
    engagement = report["articles"][A000]["dimensions"]["pro_engagement"]["model"]
    assert engagement["score"] == approx(expected)
    assert engagement["n_sentences"] == n - 1 and engagement["n_excluded"] == 1
    # critical_of_taliban flips the sign of the stance toward afghan_taliban
    taliban = [i for i, (_, pairs) in enumerate(ARTICLES[A000][1]) if "afghan_taliban" in dict(pairs)]
    crit = report["articles"][A000]["dimensions"]["critical_of_taliban"]["model"]
    net = report["articles"][A000]["dimensions"]["net_afghan_taliban"]["model"]
    assert crit["score"] == approx(np.mean([model_value(A000, i, "afghan_taliban", -1) for i in taliban]))
    assert net["score"] == approx(-crit["score"])


def test_human_and_model_side_by_side_with_their_difference(report):
    entry = report["articles"][A000]["dimensions"]["pro_pakistan"]
    human_values = {"critical": -1, "neutral": 0, "favorable": 1}
    human = np.mean([human_values[label] for (a, _, t), label in HUMAN_LABELS.items() if a == A000 and t == "pakistan"])
    pakistan = [i for i, (_, pairs) in enumerate(ARTICLES[A000][1]) if "pakistan" in dict(pairs)]
    model = np.mean([model_value(A000, i, "pakistan") for i in pakistan])
    assert entry["human"]["score"] == approx(human)
    assert entry["model"]["score"] == approx(model)
    assert entry["difference"] == approx(model - human)
    assert entry["difference_ci_low"] <= entry["difference"] <= entry["difference_ci_high"]
    # no human labels for article 003: the human side is insufficient and there is no difference
    other = report["articles"][A003]["dimensions"]["pro_engagement"]
    assert other["human"]["status"] == STATUS_INSUFFICIENT and other["human"]["n_sentences"] == 0
    assert other["model"]["score"] is not None and other["difference"] is None


def test_sources_group_articles_by_source_with_intervals(report):
    assert set(report["sources"]) == {"fixture-outlet-1", "fixture-outlet-2"}
    outlet2 = report["sources"]["fixture-outlet-2"]
    assert outlet2["articles"] == [A003, A004] and outlet2["n_articles"] == 2
    engagement = outlet2["dimensions"]["pro_engagement"]["model"]
    values = [model_value(a, i, ENGAGEMENT_TARGET) for a in (A003, A004) for i in range(len(ARTICLES[a][1]))]
    assert engagement["score"] == approx(np.mean(values))
    assert engagement["n_sentences"] == len(values) and engagement["n_articles"] == 2
    assert engagement["ci_low"] < engagement["score"] < engagement["ci_high"]
    # article 004 alone has too few Taliban sentences; pooled with 003 the source has enough
    assert report["articles"][A004]["dimensions"]["critical_of_taliban"]["model"]["status"] == STATUS_INSUFFICIENT
    assert outlet2["dimensions"]["critical_of_taliban"]["model"]["status"] == "ok"


def test_a_one_article_source_shows_exactly_its_article_interval():
    sentences = [s for s in make_sentences() if s.article_id == A003]
    report = build_report(sentences=sentences, predictions=make_predictions(sentences), adjudicated=make_adjudicated(),
                          options=ReportOptions(n_resamples=300))
    (source,) = report["sources"].values()
    assert source["articles"] == [A003]
    article = report["articles"][A003]["dimensions"]
    compared = 0
    for key, entry in source["dimensions"].items():
        for basis in ("model", "human"):
            if entry[basis] and entry[basis]["status"] == "ok":
                compared += 1
                assert (entry[basis]["ci_low"], entry[basis]["ci_high"]) == (
                    article[key][basis]["ci_low"], article[key][basis]["ci_high"])
        assert (entry["difference_ci_low"], entry["difference_ci_high"]) == (
            article[key]["difference_ci_low"], article[key]["difference_ci_high"])
    assert compared >= 2


def test_articles_without_a_source_are_not_pooled_into_one():
    articles = {**ARTICLES, A004: ("", ARTICLES[A004][1]), A003: ("  ", ARTICLES[A003][1])}
    sentences = make_sentences(articles)
    report = build_report(sentences=sentences, predictions=make_predictions(sentences),
                          manifest={A000: {"source": "Manifest Outlet", "title": "From the manifest"}},
                          options=ReportOptions(n_resamples=100))
    assert list(report["sources"]) == ["Manifest Outlet"]  # the manifest wins over the sentences
    assert report["unattributed_articles"] == [A003, A004]
    assert report["articles"][A000]["title"] == "From the manifest"
    assert report["articles"][A004]["dimensions"]["pro_engagement"]["model"]["n_sentences"] == 2
    assert any("not in the manifest" in p for p in report["problems"])


def test_scores_do_not_depend_on_input_order():
    sentences = make_sentences()
    predictions = make_predictions(sentences)
    forward = build_report(sentences=sentences, predictions=predictions, options=ReportOptions(n_resamples=300))
    backward = build_report(sentences=sentences[::-1], predictions=predictions[::-1],
                            options=ReportOptions(n_resamples=300), now=None)
    for article in forward["articles"]:
        assert forward["articles"][article]["dimensions"] == backward["articles"][article]["dimensions"]
    assert forward["sources"] == backward["sources"]


def test_evidence_links_to_label_studio_tasks(report):
    sentences = make_sentences()
    linked = build_report(sentences=sentences, predictions=make_predictions(sentences), adjudicated=make_adjudicated(),
                          options=ReportOptions(n_resamples=100, labelstudio_url="http://127.0.0.1:8080/",
                                                project_id=4))
    evidence = linked["articles"][A000]["dimensions"]["critical_of_taliban"]["human"]["evidence"]
    assert evidence and all(e["label"] == "critical" for e in evidence)
    first = evidence[0]
    assert first["labelstudio_url"] == f"http://127.0.0.1:8080/projects/4/data?task={first['task_id']}"
    assert first["sentence_id"] == sentence_id(A000, first["index"])
    # without a URL there is no link, but the task id is still given
    unlinked = report["articles"][A000]["dimensions"]["critical_of_taliban"]["human"]["evidence"][0]
    assert unlinked["labelstudio_url"] is None and unlinked["task_id"] is not None


def test_real_adjudication_of_two_annotators():
    adjudication = pytest.importorskip("annotate.adjudication")
    from test_report_fixtures import make_annotations

    sentences = make_sentences()
    annotations = make_annotations()
    report = build_report(sentences=sentences, annotations=annotations, options=ReportOptions(n_resamples=200))
    assert report["bases"] == ["human"]
    labels = adjudication.adjudicate(annotations)
    assert report["inputs"]["n_adjudicated"] == len(labels)
    entry = report["articles"][A000]["dimensions"]["critical_of_taliban"]["human"]
    assert entry["score"] == approx(0.75)  # three critical, one neutral
    assert all(e["n_annotators"] == 2 and e["agreement"] == 1.0 for e in entry["evidence"])
    assert report["articles"][A000]["dimensions"]["pro_engagement"]["human"]["n_excluded"] == 1


def test_records_in_memory_and_the_same_records_from_files_give_the_same_report(tmp_path) -> None:
    """Only the file reader used to rescale probabilities (and check them): six-decimal
    predictions gave evidence that differed in the sixth decimal between the two."""
    import json

    from annotate.report import make_report

    sentences = make_sentences()
    predictions = make_predictions(sentences)
    for p in predictions:  # as written by `slant predict`: rounded, so sums are 1 +- 1e-6
        p.probabilities = {k: round(v * (1 + 1e-6), 6) for k, v in p.probabilities.items()}
    options = ReportOptions(n_resamples=100)
    in_memory = build_report(sentences=sentences, predictions=predictions, options=options)
    (tmp_path / "s.jsonl").write_text("".join(json.dumps(s.to_dict()) + "\n" for s in sentences))
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(p.to_dict()) + "\n" for p in predictions))
    from_files = make_report(sentences=tmp_path / "s.jsonl", predictions=tmp_path / "p.jsonl",
                             out_dir=tmp_path / "r", options=options)
    on_disk = json.loads((tmp_path / "r" / "report.json").read_text())
    assert json.loads(json.dumps(in_memory["articles"])) == on_disk["articles"]
    assert json.loads(json.dumps(in_memory["sources"])) == on_disk["sources"]
    assert from_files is not None


def test_a_bad_prediction_record_in_memory_is_named() -> None:
    sentences = make_sentences()
    predictions = make_predictions(sentences)
    bad = predictions[3]
    bad.probabilities = {k: v * 3 for k, v in bad.probabilities.items()}
    with pytest.raises(ValueError, match=rf"predictions\[3\] \({bad.sentence_id}/{bad.target}\): .*sum"):
        build_report(sentences=sentences, predictions=predictions, options=ReportOptions(n_resamples=50))
