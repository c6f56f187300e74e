"""The report with an error profile: corrected headline scores, raw ones kept, fallbacks, flags.

Profiles here are synthetic (a simulated classifier with a known confusion, see
test_report_correction.py); sentences and predictions are the report fixtures.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime, timezone

import numpy as np
import pytest
from test_report_fixtures import (
    MODEL_VERSION,
    make_adjudicated,
    make_predictions,
    make_sentences,
    sentence_id,
)
from typer.testing import CliRunner

from annotate.labels import ENGAGEMENT_TARGET, load_label_set
from annotate.report import ReportOptions, build_report, make_report, write_report
from annotate.report.error_profile import (
    ERROR_PROFILE_FILE,
    ErrorProfile,
    ErrorProfileError,
    GoldItems,
    load_error_profile,
)
from annotate.report.render_html import render_html
from annotate.schema import Mention, PredictionRecord, SentenceRecord

LABELS = load_label_set().stance
CONFUSION = np.array([[0.55, 0.30, 0.15], [0.10, 0.60, 0.30], [0.05, 0.25, 0.70]])
NOW = datetime(2026, 12, 2, tzinfo=timezone.utc)
OPTIONS = ReportOptions(n_resamples=300)


def gold(n, seed, *, never_critical=False):
    rng = np.random.default_rng(seed)
    truth = rng.choice(3, size=n, p=[0.2, 0.55, 0.25])
    draws = rng.gamma(4.0 * CONFUSION[truth])
    if never_critical:
        draws[:, 0] = 0.0
    return GoldItems(truth=truth, probabilities=draws / draws.sum(axis=1, keepdims=True),
                     article_ids=tuple(f"gold-{i % 7}" for i in range(n)))


def profile(*, model_version=MODEL_VERSION, actor=None, engagement=None, description="fixture gold (synthetic)"):
    return ErrorProfile(labels=LABELS, gold=description, model_version=model_version, model_kind="fixture",
                        created_at="2026-12-02T00:00:00+00:00",
                        kinds={"engagement": engagement or gold(400, 1), "actor": actor or gold(400, 2)})


def model_scores(report):
    for scope in ("articles", "sources"):
        for scope_id, item in report[scope].items():
            for key, entry in item["dimensions"].items():
                yield scope, scope_id, key, entry


@pytest.fixture(scope="module")
def inputs():
    sentences = make_sentences()
    return sentences, make_predictions(sentences), make_adjudicated()


def test_model_scores_are_corrected_and_the_raw_ones_kept(inputs):
    sentences, predictions, adjudicated = inputs
    plain = build_report(sentences=sentences, predictions=predictions, adjudicated=adjudicated, options=OPTIONS, now=NOW)
    corrected = build_report(sentences=sentences, predictions=predictions, adjudicated=adjudicated, options=OPTIONS,
                             now=NOW, error_profile=profile())
    json.dumps(corrected, allow_nan=False)  # never NaN
    assert corrected["schema_version"] == 2
    assert corrected["correction"]["profile"]["gold"] == "fixture gold (synthetic)"
    assert {k["status"] for k in corrected["correction"]["kinds"].values()} == {"corrected"}
    moved = 0
    for scope, scope_id, key, entry in model_scores(corrected):
        model, before = entry["model"], plain[scope][scope_id]["dimensions"][key]["model"]
        assert model["correction"] == "corrected"
        assert before["correction"] == "uncorrected"
        # the raw numbers are today's numbers: same score, same interval, same random draws
        assert (model["raw_score"], model["raw_ci_low"], model["raw_ci_high"]) == \
            (before["score"], before["ci_low"], before["ci_high"])
        if model["status"] != "ok":
            assert model["score"] is None and model["raw_score"] is None
            continue
        assert -1 <= model["ci_low"] <= model["score"] <= model["ci_high"] <= 1
        assert sum(model["shares"].values()) == pytest.approx(1.0, abs=1e-5)
        # the corrected interval carries the classifier's errors: narrower than raw only where the
        # scale's end cuts it off
        if -1 < model["ci_low"] and model["ci_high"] < 1:
            assert model["ci_high"] - model["ci_low"] >= model["raw_ci_high"] - model["raw_ci_low"] - 1e-9
        moved += model["score"] != model["raw_score"]
        if entry["difference"] is not None:
            assert entry["difference"] == pytest.approx(model["score"] - entry["human"]["score"], abs=2e-6)
            assert entry["raw_difference"] == pytest.approx(before["score"] - entry["human"]["score"], abs=2e-6)
            assert (entry["raw_difference_ci_low"], entry["raw_difference_ci_high"]) == \
                (plain[scope][scope_id]["dimensions"][key]["difference_ci_low"],
                 plain[scope][scope_id]["dimensions"][key]["difference_ci_high"])
            assert entry["disagreement"] == (entry["difference_ci_low"] > 0 or entry["difference_ci_high"] < 0)
    assert moved >= 5


def test_without_a_profile_the_report_says_every_model_score_is_uncorrected(inputs, tmp_path):
    sentences, predictions, _ = inputs
    report = build_report(sentences=sentences, predictions=predictions, options=OPTIONS, now=NOW)
    assert report["correction"]["profile"] is None
    assert "uncorrected" in report["correction"]["note"]
    for *_, entry in model_scores(report):
        assert entry["model"]["correction"] == "uncorrected"
        assert entry["model"]["raw_score"] == entry["model"]["score"]
    html = render_html(report, sentences=sentences)
    assert "Model scores are not corrected for the classifier's errors" in html
    assert html.count('class="tag uncorrected"') > 5


def test_degenerate_kinds_fall_back_with_their_reason_and_never_nan(inputs):
    sentences, predictions, adjudicated = inputs
    plain = build_report(sentences=sentences, predictions=predictions, adjudicated=adjudicated, options=OPTIONS,
                         now=NOW)
    tiny = gold(400, 4)
    tiny = GoldItems(truth=tiny.truth[tiny.truth != 0][:-1].copy(), probabilities=tiny.probabilities[tiny.truth != 0][:-1])
    tiny.truth[:2] = 0  # two critical engagement items: too few to know the errors on that class
    report = build_report(sentences=sentences, predictions=predictions, adjudicated=adjudicated, options=OPTIONS,
                          now=NOW, error_profile=profile(actor=gold(400, 3, never_critical=True), engagement=tiny))
    json.dumps(report, allow_nan=False)
    kinds = report["correction"]["kinds"]
    # a classifier that never says "critical" about actors cannot tell critical apart: uninformative
    assert kinds["actor"]["status"] == "uninformative"
    assert f"never predicts '{LABELS[0]}'" in kinds["actor"]["reason"]
    # too little gold: the errors are unknown, the raw score stays, flagged uncorrected
    assert kinds["engagement"]["status"] == "uncorrected"
    assert f"too little gold: 2 '{LABELS[0]}' item(s)" in kinds["engagement"]["reason"]
    for scope, scope_id, key, entry in model_scores(report):
        model, before = entry["model"], plain[scope][scope_id]["dimensions"][key]["model"]
        assert (model["raw_score"], model["raw_ci_low"], model["raw_ci_high"]) == \
            (before["score"], before["ci_low"], before["ci_high"])
        if report["dimensions"][key]["target"] == ENGAGEMENT_TARGET:
            assert model["correction"] == "uncorrected"
            assert (model["score"], model["ci_low"], model["ci_high"]) == (before["score"], before["ci_low"],
                                                                            before["ci_high"])
        else:
            assert model["correction"] == "uninformative"
            if model["status"] == "ok":  # no stance can be ruled out
                assert (model["score"], model["ci_low"], model["ci_high"]) == (before["score"], -1.0, 1.0)
                assert entry["disagreement"] is None
    html = render_html(report, sentences=sentences)
    assert "never predicts" in html and "too little gold" in html and ">uninformative</span>" in html


def test_a_profile_of_another_model_is_not_applied(inputs):
    sentences, predictions, _ = inputs
    report = build_report(sentences=sentences, predictions=predictions, options=OPTIONS, now=NOW,
                          error_profile=profile(model_version="baseline-000000000000"))
    assert any("is of model baseline-000000000000" in p for p in report["problems"])
    assert all(entry["model"]["correction"] == "uncorrected" for *_, entry in model_scores(report))
    # a cross-validated profile (no single model version) describes the recipe and is applied
    report = build_report(sentences=sentences, predictions=predictions, options=OPTIONS, now=NOW,
                          error_profile=profile(model_version=None))
    assert all(entry["model"]["correction"] == "corrected" for *_, entry in model_scores(report))


ONE_SIDED = "900_fixture_one_sided"


def one_sided_article(n=30):
    """An article humans label favorable throughout, which the model reads as critical."""
    sentences, predictions = [], []
    for i in range(n):
        text = f"Sentence {i} about Pakistan."
        sid = sentence_id(ONE_SIDED, i)
        sentences.append(SentenceRecord(sentence_id=sid, article_id=ONE_SIDED, index=i, text=text, start=0,
                                        end=len(text), mentions=[Mention("pakistan", "Pakistan", text.index("P"),
                                                                         len(text) - 1)],
                                        source="fixture-outlet-3"))
        probs = dict(zip(LABELS, (0.7, 0.2, 0.1)))
        predictions.append(PredictionRecord(sid, ONE_SIDED, ENGAGEMENT_TARGET, LABELS[0], probs, MODEL_VERSION))
    adjudicated = make_adjudicated({(ONE_SIDED, i, ENGAGEMENT_TARGET): LABELS[2] for i in range(n)})
    return sentences, predictions, adjudicated


def test_model_and_human_disagreeing_beyond_their_intervals_are_flagged(tmp_path):
    sentences, predictions, adjudicated = one_sided_article()
    assert {a.sentence_id for a in adjudicated} == {s.sentence_id for s in sentences}
    report = build_report(sentences=sentences, predictions=predictions, adjudicated=adjudicated, options=OPTIONS,
                          now=NOW, error_profile=profile(description="fixture <gold> & co"))
    entry = report["articles"][ONE_SIDED]["dimensions"]["pro_engagement"]
    assert entry["human"]["score"] == 1.0
    assert entry["model"]["score"] < 0 and entry["disagreement"] is True
    paths = write_report(report, tmp_path / "report", sentences=sentences)
    html = paths.html.read_text(encoding="utf-8")
    assert "model ≠ human" in html
    assert "fixture &lt;gold&gt; &amp; co" in html and "<gold>" not in html  # untrusted text is escaped
    assert "Model scores are corrected for the classifier's measured errors" in html
    rows = {r["dimension"]: r for r in csv.DictReader(paths.articles_csv.open(encoding="utf-8"))}
    row = rows["pro_engagement"]
    assert row["model_correction"] == "corrected" and row["disagreement"] == "True"
    assert float(row["model_raw_score"]) == pytest.approx(entry["model"]["raw_score"])
    assert float(row["model_score"]) == pytest.approx(entry["model"]["score"])


def test_scores_are_deterministic_and_independent_of_other_articles(inputs):
    sentences, predictions, adjudicated = inputs
    run = lambda s, p: build_report(sentences=s, predictions=p, adjudicated=adjudicated,
                                    options=OPTIONS, now=NOW, error_profile=profile())
    first, again = run(sentences, predictions), run(sentences, predictions)
    assert first == again
    one = [s for s in sentences if s.article_id == "000_594f207f9f4d21fb"]
    alone = run(one, make_predictions(one))
    for key, entry in alone["articles"]["000_594f207f9f4d21fb"]["dimensions"].items():
        assert entry["model"] == first["articles"]["000_594f207f9f4d21fb"]["dimensions"][key]["model"]
    other_seed = build_report(sentences=sentences, predictions=predictions, adjudicated=adjudicated,
                              options=ReportOptions(n_resamples=300, seed=1),
                              now=NOW, error_profile=profile())
    a, b = (r["articles"]["000_594f207f9f4d21fb"]["dimensions"]["pro_engagement"]["model"] for r in (first, other_seed))
    assert a["score"] == b["score"] and (a["ci_low"], a["ci_high"]) != (b["ci_low"], b["ci_high"])


def test_make_report_reads_a_profile_file_or_model_folder_and_names_a_bad_one(inputs, tmp_path):
    sentences, predictions, _ = inputs
    sentences_path, predictions_path = tmp_path / "sentences.jsonl", tmp_path / "predictions.jsonl"
    sentences_path.write_text("".join(json.dumps(s.to_dict()) + "\n" for s in sentences))
    predictions_path.write_text("".join(json.dumps(p.to_dict()) + "\n" for p in predictions))
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / ERROR_PROFILE_FILE).write_text(json.dumps(profile().to_dict()))
    assert load_error_profile(model_dir).kinds["actor"].truth.tolist() == profile().kinds["actor"].truth.tolist()
    result = make_report(sentences=sentences_path, predictions=predictions_path, out_dir=tmp_path / "out",
                         options=OPTIONS, error_profile=model_dir)
    assert result.report["inputs"]["error_profile"] == str(model_dir)
    assert result.report["correction"]["profile"]["file"] == str(model_dir)

    data = profile().to_dict()
    data["kinds"]["actor"]["probabilities"][4] = [0.5, 0.5, 0.5]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(ErrorProfileError, match=r"bad.json: kinds.actor.probabilities\[4\]: sums to 1.5000"):
        make_report(sentences=sentences_path, predictions=predictions_path, out_dir=tmp_path / "out2",
                    error_profile=bad)
    assert not (tmp_path / "out2").exists()  # refused before any scoring or writing
    data = profile().to_dict() | {"labels": ["negative", "neutral", "positive"]}
    bad.write_text(json.dumps(data))
    with pytest.raises(ErrorProfileError, match="are not the stance labels"):
        load_error_profile(bad, labels=LABELS)
    with pytest.raises(ErrorProfileError, match=f"no {ERROR_PROFILE_FILE} in this model folder"):
        load_error_profile(tmp_path)

    from models.cli import app

    out = tmp_path / "cli"
    result = CliRunner().invoke(app, ["report", "--predictions", str(predictions_path), "--sentences",
                                      str(sentences_path), "--out", str(out), "--bootstrap", "200",
                                      "--error-profile", str(model_dir / ERROR_PROFILE_FILE)])
    assert result.exit_code == 0, result.output
    assert "Model scores corrected for the errors measured on fixture gold (synthetic)" in result.output
    assert json.loads((out / "report.json").read_text())["correction"]["kinds"]["actor"]["status"] == "corrected"
    result = CliRunner().invoke(app, ["report", "--predictions", str(predictions_path), "--sentences",
                                      str(sentences_path), "--out", str(out), "--model", str(bad)])
    assert result.exit_code == 1 and "bad.json" in result.output and "Traceback" not in result.output


def test_a_one_article_source_shows_exactly_its_articles_corrected_interval(inputs):
    sentences, _, adjudicated = inputs
    one = [s for s in sentences if s.article_id == "003_480c0d6243ab4fe2"]
    report = build_report(sentences=one, predictions=make_predictions(one), adjudicated=adjudicated,
                          options=OPTIONS, now=NOW, error_profile=profile())
    (source,) = report["sources"].values()
    article = report["articles"]["003_480c0d6243ab4fe2"]["dimensions"]
    compared = 0
    for key, entry in source["dimensions"].items():
        model = entry["model"]
        if model["status"] == "ok":
            compared += 1
            assert model["correction"] == "corrected"
            for field in ("score", "ci_low", "ci_high", "raw_ci_low", "raw_ci_high"):
                assert model[field] == article[key]["model"][field], (key, field)
    assert compared >= 2


def test_the_expansion_widens_small_samples_and_vanishes_for_large_ones():
    from annotate.report.correction import expansion

    assert expansion(1) == 1.0
    assert expansion(15) == pytest.approx(1.133, abs=1e-3)
    assert expansion(3) > expansion(15) > expansion(40) > expansion(1000) > 1.0
    assert expansion(1000) == pytest.approx(1.0, abs=2e-3)
