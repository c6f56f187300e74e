"""`slant train / evaluate / predict / crossval` end to end on a tiny dataset."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from annotate.labels import ENGAGEMENT_TARGET, load_label_set
from annotate.schema import Mention, SentenceRecord
from models.cli import app
from models.testing import tiny_bert, toy_dataset

runner = CliRunner()


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "dataset"
    toy_dataset().save_to_disk(str(path))
    return path


@pytest.fixture
def sentences(tmp_path):
    records = [
        SentenceRecord(sentence_id="a-0", article_id="a", index=0, text="The minister praised Pakistan for the peace deal.",
                       start=0, end=48, mentions=[Mention("pakistan", "Pakistan", 21, 29)]),
        SentenceRecord(sentence_id="a-1", article_id="a", index=1, text="Officials condemned Beijing and Washington for the attack.",
                       start=49, end=108, mentions=[Mention("china", "Beijing", 20, 27),
                                                    Mention("united_states", "Washington", 32, 42)]),
        SentenceRecord(sentence_id="a-2", article_id="a", index=2, text="Talks will resume.", start=109, end=127),
    ]
    path = tmp_path / "sentences.jsonl"
    lines = [json.dumps(r.to_dict()) for r in records]
    lines.insert(1, "{not json")  # a bad line must not sink the batch
    path.write_text("\n".join(lines) + "\n")
    return path


def check_predictions(path, model_dir):
    stance = load_label_set().stance
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["sentence_id"], r["target"]) for r in rows] == [
        ("a-0", "pakistan"), ("a-0", ENGAGEMENT_TARGET),
        ("a-1", "china"), ("a-1", "united_states"), ("a-1", ENGAGEMENT_TARGET),
        ("a-2", ENGAGEMENT_TARGET)]
    version = json.loads((model_dir / "slant_model.json").read_text())["model_version"]
    for r in rows:
        assert set(r["probabilities"]) == set(stance)
        assert abs(sum(r["probabilities"].values()) - 1) < 1e-4
        assert r["label"] == max(r["probabilities"], key=r["probabilities"].get)
        assert r["model_version"] == version
    return rows


def test_baseline_train_evaluate_predict_round_trip(tmp_path, dataset_dir, sentences):
    model_dir = tmp_path / "baseline"
    result = runner.invoke(app, ["train", str(dataset_dir), "--model", "baseline", "--out", str(model_dir)])
    assert result.exit_code == 0, result.output
    assert "test macro-F1" in result.output

    metrics = tmp_path / "metrics.json"
    result = runner.invoke(app, ["evaluate", str(dataset_dir), "--model", str(model_dir), "--out", str(metrics)])
    assert result.exit_code == 0, result.output
    report = json.loads(metrics.read_text())
    assert report["macro_f1"] > 0.6  # the toy set is separable; chance is about 0.33
    assert {"per_class", "per_target", "confusion_matrix", "calibration", "ece"} <= set(report)

    out = tmp_path / "predictions.jsonl"
    result = runner.invoke(app, ["predict", str(sentences), "--model", str(model_dir), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert "sentences.jsonl:2" in result.output  # the bad line is named
    rows = check_predictions(out, model_dir)
    assert rows[0]["label"] == load_label_set().stance[-1]  # "praised" -> favorable
    assert rows[2]["label"] == load_label_set().stance[0]  # "condemned" -> critical


def test_predict_input_trouble_keeps_earlier_output_and_skips_bad_lines(tmp_path, dataset_dir, sentences):
    model_dir = tmp_path / "baseline"
    assert runner.invoke(app, ["train", str(dataset_dir), "--model", "baseline", "--out", str(model_dir)]).exit_code == 0
    out = tmp_path / "predictions.jsonl"
    out.write_text('{"earlier": true}\n')
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = runner.invoke(app, ["predict", str(empty), "--model", str(model_dir), "--out", str(out), "-q"])
    assert result.exit_code == 2 and "no valid sentence records" in result.output
    assert out.read_text() == '{"earlier": true}\n'  # nothing already done is lost
    # wrong field types and a repeated id: those lines are named, the rest is predicted once
    lines = [json.loads(line) for line in sentences.read_text().splitlines() if line.startswith("{\"")]
    bad = [dict(lines[0], sentence_id="t-0", text=None), dict(lines[0], sentence_id="t-1", start="0"),
           dict(lines[0], sentence_id="t-2", mentions=[{"actor": None, "text": "x", "start": 0, "end": 1}])]
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("".join(json.dumps(x) + "\n" for x in [*lines, *bad, dict(lines[0], text="Another text.", mentions=[])]))
    result = runner.invoke(app, ["predict", str(mixed), "--model", str(model_dir), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    for number, field in ((4, "text must be a string"), (5, "start must be an integer"), (6, "mention")):
        assert f"mixed.jsonl:{number}: " in result.output and field in result.output
    assert "1 line(s) repeat a sentence id" in result.output
    check_predictions(out, model_dir)  # one record per (sentence, target), the first a-0 kept
    from models.registry import load_model

    with pytest.raises(ValueError, match="unknown runtime 'int9'"):  # a baseline has no runtimes, but no typos
        load_model(model_dir, runtime="int9")


def test_output_paths_are_checked_before_any_training(tmp_path, dataset_dir):
    from models.training_args import TrainingArguments

    a_file = tmp_path / "afile"
    a_file.write_text("x")
    other = tmp_path / "transformer-model"
    other.mkdir()
    (other / "slant_model.json").write_text('{"kind": "transformer", "model_version": "transformer-abc"}')
    (other / "model.safetensors").write_text("weights")
    for out, message in ((a_file, "is a file"), (other, "is a saved transformer model")):
        result = runner.invoke(app, ["train", str(dataset_dir), "--model", "baseline", "--out", str(out)])
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    assert (other / "model.safetensors").read_text() == "weights"
    result = runner.invoke(app, ["crossval", str(dataset_dir), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "is a directory" in result.output
    # retraining into the same kind's folder is allowed
    model_dir = tmp_path / "baseline"
    assert runner.invoke(app, ["train", str(dataset_dir), "--model", "baseline", "--out", str(model_dir)]).exit_code == 0
    result = runner.invoke(app, ["train", str(dataset_dir), "--model", "baseline", "--out", str(model_dir), "--epochs", "9"])
    assert result.exit_code == 0 and "the baseline ignores --epochs" in result.output
    for bad in ({"learning_rate": float("inf")}, {"weight_decay": float("nan")}, {"max_steps": 2.5}):
        with pytest.raises(ValueError, match="must be"):
            TrainingArguments(**bad)


def test_predict_with_a_runtime_leaves_the_callers_classifier_alone(tmp_path, sentences):
    from models.predict import predict
    from models.transformer import TransformerStanceClassifier

    base = tiny_bert(tmp_path / "tiny")
    from models.inputs import from_dataset
    from models.training_args import TrainingArguments

    data = toy_dataset()
    X, y = from_dataset(data["train"])
    clf = TransformerStanceClassifier(base_model=base, args=TrainingArguments(epochs=1, batch_size=16, threads=1))
    clf.fit(X[:24], y[:24])
    summary = predict(sentences, model=clf, out=tmp_path / "p.jsonl", runtime="int8", progress=False)
    assert clf.runtime == "fp32" and summary.model_version == clf.model_version + "+int8"


@pytest.mark.slow
def test_transformer_train_predict_round_trip(tmp_path, dataset_dir, sentences):
    base = tiny_bert(tmp_path / "tiny")
    model_dir = tmp_path / "transformer"
    result = runner.invoke(app, ["train", str(dataset_dir), "--model", "transformer", "--base-model", str(base),
                                 "--epochs", "2", "--lr", "3e-3", "--batch-size", "16", "--out", str(model_dir), "-q"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "predictions.jsonl"
    result = runner.invoke(app, ["predict", str(sentences), "--model", str(model_dir), "--out", str(out), "-q", "--runtime", "fp32"])
    assert result.exit_code == 0, result.output
    check_predictions(out, model_dir)
    card = (model_dir / "README.md").read_text()
    assert str(dataset_dir) in card  # the card names its training data
    # ... and the held-out errors that reports correct for, as saved in error_profile.json
    profile = json.loads((model_dir / "error_profile.json").read_text())
    assert "## Error profile" in card and profile["gold"] in card
    assert f"**actor** ({len(profile['kinds']['actor']['truth'])} items" in card


def test_crossval_baseline(tmp_path, dataset_dir):
    out = tmp_path / "cv.json"
    result = runner.invoke(app, ["crossval", str(dataset_dir), "--model", "baseline", "--out", str(out)])
    assert result.exit_code == 0, result.output
    cv = json.loads(out.read_text())
    assert len(cv["folds"]) == 4  # one per article
    assert cv["pooled_macro_f1"] > cv["majority_pooled_macro_f1"]


def test_user_errors_are_clear_and_not_tracebacks(tmp_path, dataset_dir, sentences):
    result = runner.invoke(app, ["predict", str(sentences), "--model", str(tmp_path / "missing"), "--out",
                                 str(tmp_path / "p.jsonl")])
    assert result.exit_code == 2 and "model directory not found" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["train", str(tmp_path / "nodata"), "--model", "baseline", "--out", str(tmp_path / "m")])
    assert result.exit_code == 2 and "nodata" in result.output
    result = runner.invoke(app, ["train", str(dataset_dir), "--model", "svm", "--out", str(tmp_path / "m")])
    assert result.exit_code == 2 and "valid models: baseline, transformer" in result.output


def test_console_script_bad_log_level_and_zero_epochs(tmp_path):
    """The real entry point: an unknown SLANT_LOG_LEVEL falls back to INFO with a warning
    (before, logging.basicConfig raised), and `slant run --epochs 0` is refused up front."""
    import subprocess
    import sys

    slant = Path(sys.executable).with_name("slant")
    env = {**os.environ, "SLANT_LOG_LEVEL": "loud"}
    result = subprocess.run([str(slant), "run", "--epochs", "0", "--work", str(tmp_path / "w")], check=False, env=env,
                            capture_output=True, text=True, timeout=120)
    assert "SLANT_LOG_LEVEL='LOUD' is not a log level" in result.stderr
    assert result.returncode == 2 and "--epochs" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "w").exists()


def test_serve_beside_resolves_dot_to_the_model_folder(tmp_path, monkeypatch):
    from models.cli.loop import _beside

    model = tmp_path / "my-model"
    model.mkdir()
    monkeypatch.chdir(model)
    # `slant serve --model .` saves retrained models next to the model, not in "-retrained" at /
    assert _beside(Path("."), "-retrained") == tmp_path / "my-model-retrained"
    assert _beside(Path("../my-model"), "-retrained") == tmp_path / "my-model-retrained"


def test_crossval_transformer_takes_the_training_options(tmp_path, dataset_dir):
    base = tiny_bert(tmp_path / "tiny")
    result = runner.invoke(app, ["crossval", str(dataset_dir), "--model", "transformer", "--base-model", str(base),
                                 "--pooling", "bogus"])
    assert result.exit_code == 2 and "pooling must be one of" in result.output
    out = tmp_path / "cv.json"
    result = runner.invoke(app, ["crossval", str(dataset_dir), "--model", "transformer", "--base-model", str(base),
                                 "--pooling", "mean", "--class-weight", "balanced", "--lr", "3e-3", "--epochs", "6",
                                 "--seed", "3", "--threads", "2", "-q", "--out", str(out)])
    assert result.exit_code == 0, result.output
    cv = json.loads(out.read_text())
    assert len(cv["folds"]) == 4 and cv["pooled_macro_f1"] > cv["majority_pooled_macro_f1"]


def test_crossval_names_a_fold_with_one_training_class_before_training_any(tmp_path):
    """Leaving out the only article with critical labels leaves one class to train on; the
    error names that fold, and comes before any fold is trained."""
    import datasets

    from models.crossval import crossval
    from models.testing import toy_dataset

    rows = datasets.concatenate_datasets(list(toy_dataset().values()))
    first = min(rows["article_id"])
    rows = rows.map(lambda r: {"label": 0 if r["article_id"] == first else 1})
    with pytest.raises(ValueError, match=f"fold {first}: the other articles' .* pairs all have the label"):
        crossval({"train": rows}, model="baseline")
    folder = tmp_path / "one-class"
    datasets.DatasetDict({"train": rows}).save_to_disk(str(folder))
    result = runner.invoke(app, ["crossval", str(folder), "--out", str(tmp_path / "cv.json")])
    assert result.exit_code == 2 and f"fold {first}" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "cv.json").exists()
