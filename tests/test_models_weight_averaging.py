"""Weight averaging ("model soup") and parallel prediction batches, on tiny real models."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from models.base import ModelLoadError
from models.inputs import from_dataset
from models.registry import load_model
from models.testing import tiny_bert, toy_dataset
from models.training_args import TrainingArguments
from models.transformer import TransformerStanceClassifier
from models.weight_averaging import average_models

FAST = {"learning_rate": 3e-3, "epochs": 6, "batch_size": 16, "warmup_ratio": 0.0, "patience": 100, "evals_per_epoch": 1,
            "threads": 2, "show_progress": False, "pooling": "mean"}


@pytest.fixture(scope="module")
def data():
    return toy_dataset()


@pytest.fixture(scope="module")
def two_seeds(tmp_path_factory, data):
    """The same recipe fine-tuned with two seeds from one tiny base, saved."""
    root = tmp_path_factory.mktemp("soup")
    base = tiny_bert(root / "base")
    X, y = from_dataset(data["train"])
    dirs = []
    for seed in (1, 2):
        model = TransformerStanceClassifier(base, TrainingArguments(**FAST, seed=seed), runtime="fp32").fit(X, y)
        dirs.append(model.save(root / f"seed{seed}"))
    return dirs


def test_average_is_the_parameter_mean_and_saves_its_ingredients(tmp_path, two_seeds, data):
    soup = average_models(two_seeds)
    a, b = (load_model(d, runtime="fp32").model_.state_dict() for d in two_seeds)
    for name, tensor in soup.model_.state_dict().items():
        if tensor.is_floating_point():
            np.testing.assert_allclose(tensor.numpy(), (a[name].numpy() + b[name].numpy()) / 2, atol=1e-6)
    assert [x["seed"] for x in soup.metadata_["averaged_from"]] == [1, 2]
    assert soup.model_version not in {load_model(d).model_version for d in two_seeds}
    X_test, _ = from_dataset(data["test"])
    soup.save(tmp_path / "soup")
    again = load_model(tmp_path / "soup", runtime="fp32")
    np.testing.assert_allclose(again.predict_proba(X_test), soup.predict_proba(X_test), atol=1e-6)
    assert "Weight average of" in (tmp_path / "soup" / "README.md").read_text()
    # A soup of one model predicts exactly as that model.
    single = average_models(two_seeds[:1])
    np.testing.assert_allclose(single.logits(X_test), load_model(two_seeds[0], runtime="fp32").logits(X_test), atol=1e-6)


def test_models_that_do_not_fit_together_are_refused(tmp_path, two_seeds, data):
    X, y = from_dataset(data["train"])
    other = TransformerStanceClassifier(tiny_bert(tmp_path / "b2", hidden_size=48),
                                        TrainingArguments(**{**FAST, "epochs": 1}), runtime="fp32").fit(X, y)
    other.save(tmp_path / "wide")
    with pytest.raises(ModelLoadError, match=r"wide: tensor .* has shape"):
        average_models([two_seeds[0], tmp_path / "wide"])
    cls_head = TransformerStanceClassifier(tiny_bert(tmp_path / "b3"), TrainingArguments(**{**FAST, "epochs": 1,
                                           "pooling": "cls"}), runtime="fp32").fit(X, y)
    cls_head.save(tmp_path / "cls")
    with pytest.raises(ModelLoadError, match=r"cls: pooling 'cls' differs"):
        average_models([two_seeds[0], tmp_path / "cls"])


def test_slant_average_command(tmp_path, two_seeds):
    from models.cli import app

    result = CliRunner().invoke(app, ["average", *map(str, two_seeds), "--out", str(tmp_path / "avg")])
    assert result.exit_code == 0, result.output
    assert "average of 2 models" in result.output
    assert load_model(tmp_path / "avg").metadata_["averaged_from"]
    bad = CliRunner().invoke(app, ["average", str(two_seeds[0]), str(tmp_path / "nope"), "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "nope" in bad.output


def test_parallel_prediction_batches_match_one_batch_at_a_time(two_seeds, data):
    import torch

    X_test, _ = from_dataset(data["test"])
    torch.set_num_threads(2)
    one = load_model(two_seeds[0], runtime="fp32", workers=1).logits(X_test, batch_size=4)
    two = load_model(two_seeds[0], runtime="fp32", workers=2).logits(X_test, batch_size=4)
    np.testing.assert_allclose(two, one, atol=1e-5)
    assert torch.get_num_threads() == 2  # the narrowed intra-op pool is restored
