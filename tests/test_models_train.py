"""`models.train.train`: validation selection, calibration, test metrics, and --pretrain transfer."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from models.registry import load_model
from models.testing import tiny_bert, toy_dataset
from models.train import train
from models.training_args import TrainingArguments


def test_baseline_train_with_pretrain_fits_both_datasets(tmp_path):
    data = toy_dataset()
    alone = train(data, model="baseline", out=tmp_path / "alone")
    both = train(data, model="baseline", pretrain=data, out=tmp_path / "both")
    assert both.model.metadata_["n_train"] == 2 * alone.model.metadata_["n_train"]
    assert "pretrained_on" in load_model(tmp_path / "both").metadata_
    assert alone.metrics["test"]["macro_f1"] > 0.6
    assert alone.calibration is not None and alone.calibration["temperature"] > 0
    # An in-memory dataset is named by kind and splits, on one line, not by its repr.
    meta = load_model(tmp_path / "both").metadata_
    assert meta["training_data"].startswith("an in-memory DatasetDict (splits: train, validation, test): train ")
    assert meta["pretrained_on"].startswith("an in-memory DatasetDict")
    assert "\n" not in meta["training_data"] + meta["pretrained_on"]


@pytest.mark.slow
def test_transformer_pretrain_then_in_domain(tmp_path):
    data = toy_dataset()
    base = tiny_bert(tmp_path / "tiny")
    args = TrainingArguments(learning_rate=3e-3, epochs=3, batch_size=16, warmup_ratio=0.0, evals_per_epoch=1,
                             patience=10, threads=2, show_progress=False)
    result = train(data, model="transformer", args=args, pretrain=data, base_model=str(base), out=tmp_path / "m")
    meta = load_model(tmp_path / "m").metadata_
    assert meta["pretrained_on"].endswith("train 72 pairs")
    assert meta["base_model"] == str(base)  # the temporary pretraining checkpoint is not recorded
    assert meta["calibration"]["nll_after"] <= meta["calibration"]["nll_before"]
    assert result.metrics["test"]["n"] == len(data["test"])
