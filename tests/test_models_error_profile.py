"""Error profiles made by the model side (models.error_profile) and read by the report.

A real baseline on the toy stance set (models.testing): `slant train` writes the profile of
the validation + test splits, `slant evaluate --save-error-profile` refreshes it, `slant
crossval --error-profile` writes a cross-validated one, and `slant report --model DIR`
corrects with it.
"""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from annotate.labels import load_label_set
from annotate.report.error_profile import ERROR_PROFILE_FILE, load_error_profile
from annotate.schema import Mention, SentenceRecord
from models.cli import app
from models.testing import toy_dataset

runner = CliRunner()
LABELS = load_label_set().stance


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "dataset"
    toy_dataset().save_to_disk(str(path))
    return path


@pytest.fixture(scope="module")
def trained(dataset_dir, tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("models") / "baseline"
    result = runner.invoke(app, ["train", str(dataset_dir), "--model", "baseline", "--out", str(model_dir)])
    assert result.exit_code == 0, result.output
    return model_dir


def test_train_saves_the_held_out_profile_with_the_model(trained, dataset_dir):
    data = toy_dataset()
    meta = json.loads((trained / "slant_model.json").read_text())
    profile = load_error_profile(trained, labels=LABELS)
    assert profile.model_version == meta["model_version"]
    assert profile.method == "held_out" and profile.model_kind == "baseline"
    assert "validation + test split(s) of " + str(dataset_dir) in profile.gold
    held_out = len(data["validation"]) + len(data["test"])
    assert sum(len(items) for items in profile.kinds.values()) == held_out
    assert set(profile.kinds) == {"actor"}  # the toy set has actor targets only
    held_out_articles = set(data["validation"]["article_id"]) | set(data["test"]["article_id"])
    assert set(profile.kinds["actor"].article_ids) == held_out_articles  # never a training article
    summary = meta["error_profile"]
    assert summary["kinds"]["actor"]["n"] == held_out
    assert sum(summary["kinds"]["actor"]["counts"].values()) == held_out
    for row in summary["kinds"]["actor"]["confusion"]:
        assert sum(row) == pytest.approx(1.0, abs=1e-3)


def test_evaluate_refreshes_the_profile_on_a_held_out_split_only(trained, dataset_dir, tmp_path):
    import shutil

    model_dir = tmp_path / "copy"
    shutil.copytree(trained, model_dir)
    result = runner.invoke(app, ["evaluate", str(dataset_dir), "--model", str(model_dir), "--split", "test",
                                 "--save-error-profile"])
    assert result.exit_code == 0, result.output
    assert "error profile" in result.output
    profile = load_error_profile(model_dir)
    assert profile.gold == f"test split of {dataset_dir}"
    assert len(profile.kinds["actor"]) == len(toy_dataset()["test"])
    assert json.loads((model_dir / "slant_model.json").read_text())["error_profile"]["gold"] == profile.gold
    before = (model_dir / ERROR_PROFILE_FILE).read_text()
    result = runner.invoke(app, ["evaluate", str(dataset_dir), "--model", str(model_dir), "--split", "train",
                                 "--save-error-profile"])
    assert result.exit_code == 2 and "did not train on" in result.output
    assert (model_dir / ERROR_PROFILE_FILE).read_text() == before  # nothing lost


def test_crossval_writes_a_cross_validated_profile(dataset_dir, tmp_path):
    out = tmp_path / "cv-profile.json"
    result = runner.invoke(app, ["crossval", str(dataset_dir), "--model", "baseline", "--error-profile", str(out)])
    assert result.exit_code == 0, result.output
    profile = load_error_profile(out, labels=LABELS)
    assert profile.method == "cross_validated" and profile.model_version is None
    data = toy_dataset()
    assert len(profile.kinds["actor"]) == sum(len(split) for split in data.values())  # every pair, out of fold
    assert "leave-one-article-out" in profile.gold


def test_report_with_the_model_folder_corrects_the_model_scores(trained, tmp_path):
    sentences = [SentenceRecord(sentence_id=f"a-{i}", article_id="a", index=i, text=text, start=0, end=len(text),
                                mentions=[Mention("pakistan", "Pakistan", text.index("Pakistan"),
                                                  text.index("Pakistan") + 8)])
                 for i, text in enumerate(["The minister praised Pakistan for the peace deal.",
                                           "Officials condemned Pakistan for the attack.",
                                           "A spokesman met Pakistan on Monday.",
                                           "Analysts thanked Pakistan for its generous support."])]
    sentences_path = tmp_path / "sentences.jsonl"
    sentences_path.write_text("".join(json.dumps(s.to_dict()) + "\n" for s in sentences))
    predictions = tmp_path / "predictions.jsonl"
    result = runner.invoke(app, ["predict", str(sentences_path), "--model", str(trained), "--out", str(predictions),
                                 "-q"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "report"
    result = runner.invoke(app, ["report", "--predictions", str(predictions), "--sentences", str(sentences_path),
                                 "--out", str(out), "--model", str(trained), "--bootstrap", "300"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["correction"]["profile"]["model_version"] == report["inputs"]["model_versions"][0]
    kind = report["correction"]["kinds"]["actor"]
    assert kind["status"] == "corrected"  # the toy set is separable: a well-conditioned confusion
    assert sum(kind["counts"].values()) == kind["n_gold"] > 0
    assert report["correction"]["kinds"]["engagement"]["status"] == "uncorrected"  # no engagement gold
    model = report["articles"]["a"]["dimensions"]["pro_pakistan"]["model"]
    assert model["correction"] == "corrected"
    assert model["ci_low"] <= model["score"] <= model["ci_high"]
    assert report["articles"]["a"]["dimensions"]["pro_engagement"]["model"]["correction"] == "uncorrected"
    assert "Model scores corrected for the errors measured on" in result.output
    html = (out / "report.html").read_text(encoding="utf-8")
    assert profile_gold_text(trained) in html


def profile_gold_text(model_dir):
    from markupsafe import escape

    return str(escape(load_error_profile(model_dir).gold))
