"""Named recipes, the frozen-encoder head, transfer training, crossval sign agreement and `slant analyze`."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from typer.testing import CliRunner

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from models.cli import app
from models.recipes import RECIPE_NAMES, UnknownRecipeError, get_recipe
from models.testing import tiny_bert, toy_dataset
from models.training_args import TrainingArguments
from models.transfer import TransferMix

runner = CliRunner()
SEEDS_DIR = os.path.join(os.path.dirname(__file__), "..", "seeds")


def test_recipes_registry_lists_valid_names():
    assert "default" in RECIPE_NAMES and get_recipe("default").transfer is not None
    assert get_recipe("default").args.encoder == "frozen"
    with pytest.raises(UnknownRecipeError, match="valid: default"):
        get_recipe("bert")


def test_training_args_check_the_new_options():
    with pytest.raises(ValueError, match="encoder"):
        TrainingArguments(encoder="lora")
    with pytest.raises(ValueError, match="pooled"):
        TrainingArguments(encoder="frozen", pooling="cls")
    with pytest.raises(ValueError, match="head_c"):
        TrainingArguments(head_c=0)
    with pytest.raises(ValueError, match="engagement_phrasing"):
        TrainingArguments(engagement_phrasing="hypothesis")


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return tiny_bert(tmp_path_factory.mktemp("tiny"))


def test_frozen_encoder_fits_a_head_and_leaves_the_encoder_alone(base):
    from models.inputs import from_dataset
    from models.transformer import TransformerStanceClassifier

    data = toy_dataset()
    X, y = from_dataset(data["train"])
    clf = TransformerStanceClassifier(base_model=base, args=TrainingArguments(encoder="frozen", head_c=1.0,
                                                                              show_progress=False)).fit(X, y)
    from models import pooled_classifier

    untouched = pooled_classifier.build(str(base), pooling="mean+target", n_labels=3, id2label={0: "a", 1: "b", 2: "c"})
    for name, tensor in untouched.encoder.state_dict().items():
        assert np.array_equal(clf.model_.encoder.state_dict()[name].numpy(), tensor.numpy()), name
    # The head folded into the linear layer predicts what the logistic regression learned (a
    # random tiny encoder's features only separate the training pairs, so score on those).
    acc = float(np.mean(clf.predict(X) == np.asarray(y)))
    _, counts = np.unique(y, return_counts=True)
    majority = counts.max() / counts.sum()
    assert acc == pytest.approx(clf.metadata_["history"][0]["train_accuracy"], abs=1e-4)
    assert acc > majority + 0.3, (acc, majority)
    assert clf.metadata_["history"][0]["head"] == "logistic regression"


@pytest.mark.slow
def test_train_with_transfer_and_relevance_then_crossval_signs(tmp_path, base):
    """A seeds dataset folder (with its relevance rows) trained with a small transfer mix."""
    from annotate.adjudication import adjudicate
    from annotate.corpus import ingest_paths
    from annotate.dataset import build_dataset, relevance_rows, save_dataset
    from annotate.labelstudio.pull import pull_from_file
    from models.crossval import crossval
    from models.train import train

    ingested = ingest_paths([SEEDS_DIR])
    adjudicated = adjudicate(pull_from_file(os.path.join(SEEDS_DIR, "gold", "export.json")).records)
    dataset = build_dataset(adjudicated, sentences=ingested.records)
    by_id = {r.sentence_id: r for r in ingested.records}
    data = save_dataset(dataset, tmp_path / "data", relevance=relevance_rows(adjudicated, dataset=dataset, sentences=by_id))
    assert (data / "relevance.jsonl").is_file()
    args = TrainingArguments(encoder="frozen", show_progress=False)
    result = train(data, model="transformer", base_model=str(base), args=args, out=tmp_path / "m",
                   transfer=TransferMix(newsmtsc=30, topic=30, unrelated=5, engagement_proxy=False), in_domain_repeat=2)
    meta = json.loads((tmp_path / "m" / "slant_model.json").read_text())
    assert meta["transfer"]["drawn"]["unrelated"] == {"neutral": 5} and meta["transfer"]["in_domain_repeat"] == 2
    assert "with 65 transfer pairs" in meta["training_data"]
    assert set(result.metrics["relevance"]) >= {"precision", "recall", "n_test"}
    assert (tmp_path / "m" / "relevance.safetensors").is_file()
    cv = crossval(data, model="baseline")
    signs = cv.sign_agreement["overall"]
    assert signs["cells"] > 0 and 0 <= signs["right"] <= signs["cells"]


@pytest.mark.slow
def test_analyze_command_writes_a_report_with_a_given_model(tmp_path, base):
    from models.inputs import from_dataset
    from models.transformer import TransformerStanceClassifier

    data = toy_dataset()
    X, y = from_dataset(data["train"])
    TransformerStanceClassifier(base_model=base, args=TrainingArguments(encoder="frozen", show_progress=False)
                                ).fit(X, y).save(tmp_path / "model")
    articles = tmp_path / "articles"
    articles.mkdir()
    (articles / "a1.txt").write_text("Pakistan urged the Taliban to return to talks in Doha.\n\n"
                                     "The TTP attacked a police station.\n", encoding="utf-8")
    (articles / "broken.csv").write_text('id,text\n"unclosed,quote\n', encoding="utf-8")
    (articles / "manifest.toml").write_text('[[article]]\nid = "a1"\ntitle = "Talks"\ndate = "2026-11-30"\n',
                                            encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, ["analyze", str(articles), "--out", str(out), "--model", str(tmp_path / "model")])
    assert result.exit_code == 0, result.output
    assert (out / "report" / "report.html").is_file() and (out / "predictions.jsonl").is_file()
    assert "Report:" in result.output and "1 article(s)" in result.output
    report = json.loads((out / "report" / "report.json").read_text())
    assert "a1" in report["articles"]
    assert report["articles"]["a1"]["date"] == "2026-11-30"  # the folder's own manifest reaches the report
    missing = runner.invoke(app, ["analyze", str(tmp_path / "nope"), "--out", str(out)])
    assert missing.exit_code != 0


def test_default_model_key_names_recipe_and_gold(tmp_path):
    from pathlib import Path

    from models.analyze import default_model_key

    seeds = Path(SEEDS_DIR)
    assert default_model_key(seeds=seeds) == default_model_key(seeds=seeds)
    assert default_model_key(recipe="seeds-only", seeds=seeds) != default_model_key(seeds=seeds)
    copy = tmp_path / "seeds"
    (copy / "gold").mkdir(parents=True)
    gold = json.loads((seeds / "gold" / "export.json").read_text())
    (copy / "gold" / "export.json").write_text(json.dumps(gold[:-1]))
    assert default_model_key(seeds=copy) != default_model_key(seeds=seeds)


def test_train_command_refuses_an_unknown_recipe(tmp_path):
    result = runner.invoke(app, ["train", str(tmp_path), "--out", str(tmp_path / "m"), "--recipe", "bert"])
    assert result.exit_code == 2 and "valid: default" in result.output
