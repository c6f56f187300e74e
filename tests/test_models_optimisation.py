"""Layer-wise learning-rate decay, the weight moving average and R-Drop in the training loop."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from models.inputs import from_dataset
from models.testing import tiny_bert, toy_dataset
from models.training_args import TrainingArguments
from models.transformer_training import WeightAverage, parameter_groups, rdrop_loss


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return tiny_bert(tmp_path_factory.mktemp("tiny-bert"), layers=2)


def _groups_by_param(model, groups):
    where = {}
    for group in groups:
        for param in group["params"]:
            assert id(param) not in where, "a parameter is in two groups"
            where[id(param)] = group
    return {name: where[id(p)] for name, p in model.named_parameters()}


def test_layer_decay_lowers_the_rate_layer_by_layer_down_to_the_embeddings(tiny_dir):
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(tiny_dir)
    by_name = _groups_by_param(model, parameter_groups(model, weight_decay=0.01, learning_rate=1e-3,
                                                        layer_lr_decay=0.5))
    assert len(by_name) == len(list(model.parameters()))
    lr = {name: group["lr"] for name, group in by_name.items()}
    assert lr["classifier.weight"] == pytest.approx(1e-3)
    assert lr["bert.encoder.layer.1.output.dense.weight"] == pytest.approx(1e-3)  # the top layer
    assert lr["bert.encoder.layer.0.output.dense.weight"] == pytest.approx(5e-4)
    assert lr["bert.embeddings.word_embeddings.weight"] == pytest.approx(2.5e-4)
    assert by_name["bert.encoder.layer.0.output.LayerNorm.weight"]["weight_decay"] == 0.0
    assert by_name["bert.encoder.layer.0.output.dense.bias"]["weight_decay"] == 0.0
    assert by_name["bert.encoder.layer.0.output.dense.weight"]["weight_decay"] == 0.01


def test_without_layer_decay_there_are_two_groups_at_one_rate(tiny_dir):
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(tiny_dir)
    groups = parameter_groups(model, weight_decay=0.01, learning_rate=1e-3)
    assert sorted(g["weight_decay"] for g in groups) == [0.0, 0.01]
    assert {g["lr"] for g in groups} == {1e-3}


def test_weight_average_follows_the_moving_average_and_swaps_back():
    import torch

    torch.manual_seed(0)
    layer = torch.nn.Linear(3, 2)
    start = layer.weight.detach().clone()
    average = WeightAverage(layer, decay=0.5)
    with torch.no_grad():
        layer.weight.add_(1.0)
    average.update()  # decay ramps: min(0.5, 2 / 11) = 2/11 on the first update
    expected = start + (1 - 2 / 11) * 1.0
    live = layer.weight.detach().clone()
    with average.swapped_in():
        assert torch.allclose(layer.weight, expected)
    assert torch.equal(layer.weight, live)  # the raw weights are back after the block
    average.copy_to_model()
    assert torch.allclose(layer.weight, expected)


@pytest.mark.parametrize("field, value", [("layer_lr_decay", 0.0), ("layer_lr_decay", 1.5), ("ema_decay", 1.0),
                                          ("ema_decay", -0.1), ("batch_size", 0), ("threads", 0), ("epochs", 0),
                                          ("max_length", 0), ("patience", 0), ("learning_rate", 0.0),
                                          ("warmup_ratio", 1.0), ("max_grad_norm", 0.0), ("max_steps", -1), ("seed", -1),
                                          ("rdrop_alpha", -0.5), ("rdrop_alpha", float("nan"))])
def test_out_of_range_optimisation_settings_are_refused(field, value):
    with pytest.raises(ValueError, match=field):
        TrainingArguments(**{field: value})


def test_training_with_both_learns_and_keeps_them_in_the_saved_arguments(tiny_dir, tmp_path):
    from models.registry import load_model
    from models.transformer import TransformerStanceClassifier

    data = toy_dataset()
    X, y = from_dataset(data["train"])
    X_val, y_val = from_dataset(data["validation"])
    X_test, y_test = from_dataset(data["test"])
    args = TrainingArguments(learning_rate=3e-3, epochs=12, batch_size=16, warmup_ratio=0.0, patience=100,
                             evals_per_epoch=1, threads=2, show_progress=False, layer_lr_decay=0.8, ema_decay=0.9)
    model = TransformerStanceClassifier(base_model=tiny_dir, args=args).fit(X, y, X_val=X_val, y_val=y_val)
    values, counts = np.unique(y, return_counts=True)
    majority = float(np.mean(np.asarray(y_test) == values[counts.argmax()]))
    assert float(np.mean(np.asarray(model.predict(X_test)) == np.asarray(y_test))) > majority + 0.2
    model.save(tmp_path / "m")
    saved = load_model(tmp_path / "m").metadata_["training_args"]
    assert saved["layer_lr_decay"] == 0.8 and saved["ema_decay"] == 0.9


def _toy_batch(tiny_dir):
    import torch
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_dir, num_labels=3)
    ids = torch.randint(5, 90, (4, 7))
    tensors = (ids, torch.ones_like(ids), torch.zeros_like(ids), None)
    return model, tensors, torch.tensor([0, 1, 2, 1])


def test_rdrop_without_dropout_is_plain_cross_entropy(tiny_dir):
    import torch

    model, tensors, labels = _toy_batch(tiny_dir)
    model.eval()  # both copies see the same network, so the KL term is 0
    loss_fn = torch.nn.CrossEntropyLoss()
    plain = loss_fn(model(input_ids=tensors[0], attention_mask=tensors[1], token_type_ids=tensors[2]).logits, labels)
    assert rdrop_loss(model, tensors, labels, loss_fn=loss_fn, alpha=5.0).item() == pytest.approx(plain.item(), abs=1e-5)


def test_rdrop_with_dropout_adds_the_disagreement_of_the_two_passes(tiny_dir):
    import torch

    model, tensors, labels = _toy_batch(tiny_dir)
    model.train()
    loss_fn = torch.nn.CrossEntropyLoss()
    torch.manual_seed(1)
    without = rdrop_loss(model, tensors, labels, loss_fn=loss_fn, alpha=0.0).item()
    torch.manual_seed(1)  # the same dropout masks: only the alpha-weighted KL differs
    with_kl = rdrop_loss(model, tensors, labels, loss_fn=loss_fn, alpha=10.0).item()
    assert with_kl > without


def test_training_with_rdrop_learns_and_keeps_alpha_in_the_saved_arguments(tiny_dir, tmp_path):
    from models.registry import load_model
    from models.transformer import TransformerStanceClassifier

    data = toy_dataset()
    X, y = from_dataset(data["train"])
    X_test, y_test = from_dataset(data["test"])
    args = TrainingArguments(learning_rate=3e-3, epochs=12, batch_size=16, warmup_ratio=0.0, threads=2,
                             show_progress=False, rdrop_alpha=1.0)
    model = TransformerStanceClassifier(base_model=tiny_dir, args=args).fit(X, y)
    values, counts = np.unique(y, return_counts=True)
    majority = float(np.mean(np.asarray(y_test) == values[counts.argmax()]))
    assert float(np.mean(np.asarray(model.predict(X_test)) == np.asarray(y_test))) > majority + 0.2
    model.save(tmp_path / "m")
    assert load_model(tmp_path / "m").metadata_["training_args"]["rdrop_alpha"] == 1.0
