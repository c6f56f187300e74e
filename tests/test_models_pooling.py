"""Pooled heads (``mean``, ``mean+target``): the target mask, learning, save/load, errors."""

from __future__ import annotations

import numpy as np
import pytest

from models.base import ModelLoadError
from models.inputs import MARK_END, MARK_START, StanceInput, from_dataset
from models.pooled_classifier import target_token_mask
from models.registry import load_model
from models.testing import tiny_bert, toy_dataset
from models.training_args import TrainingArguments
from models.transformer import TransformerStanceClassifier

FAST = TrainingArguments(learning_rate=3e-3, epochs=12, batch_size=16, warmup_ratio=0.0, patience=100,
                         evals_per_epoch=1, threads=2, show_progress=False, pooling="mean+target")


@pytest.fixture(scope="module")
def data():
    return toy_dataset()


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="module")
def fitted(base, data):
    X, y = from_dataset(data["train"])
    X_val, y_val = from_dataset(data["validation"])
    return TransformerStanceClassifier(base_model=base, args=FAST, runtime="fp32").fit(X, y, X_val=X_val, y_val=y_val)


def test_target_mask_covers_the_marked_mention_else_the_second_segment():
    start, end = [10, 11, 12], [10, 13, 11, 12]
    ids = [101, 5, *start, 7, 8, *end, 9, 102, 20, 21, 102]
    types = [0] * 13 + [1, 1, 1]
    assert [i for i, m in zip(ids, target_token_mask(ids, types, start_ids=start, end_ids=end)) if m] == [7, 8]
    # Two mentions: both are the target.
    two = [101, *start, 7, *end, 5, *start, 8, *end, 102, 20, 102]
    mask = target_token_mask(two, None, start_ids=start, end_ids=end)
    assert [i for i, m in zip(two, mask) if m] == [7, 8]
    # No markers (engagement) or a mention cut off by truncation: the second segment, without [SEP].
    plain = [101, 5, 6, 102, 20, 21, 102]
    assert target_token_mask(plain, [0, 0, 0, 0, 1, 1, 1], start_ids=start, end_ids=end) == [0, 0, 0, 0, 1, 1, 0]
    cut = [101, 5, *start, 7, 102, 20, 102]
    assert target_token_mask(cut, [0] * 7 + [1, 1], start_ids=start, end_ids=end) == [0] * 7 + [1, 0]
    # Without token types (RoBERTa: <s> A </s></s> B </s>) the tokenizer's sequence ids find B.
    roberta = [0, 5, 6, 2, 2, 20, 21, 2]
    segments = [None, 0, 0, None, None, 1, 1, None]
    assert target_token_mask(roberta, None, start_ids=start, end_ids=end, sequence_ids=segments) == [0] * 5 + [1, 1, 0]


def test_engagement_pairs_pool_over_the_target_words_with_the_real_tokenizer(fitted):
    from models.inputs import StanceInput

    enc = fitted.encode([StanceInput(text="Talks with Kabul should resume.", target="engagement")])
    ids, mask = enc.input_ids[0], enc.target_mask[0]
    chosen = fitted.tokenizer_.decode([i for i, m in zip(ids, mask) if m])
    assert chosen and chosen.strip() in fitted.tokenizer_.decode(enc.input_ids[0]) and "[SEP]" not in chosen


def test_encoded_target_mask_is_the_mention_tokens(fitted):
    item = StanceInput(text="Officials praised Pakistan today.", target="pakistan", target_text="Pakistan",
                       spans=((18, 26),))
    encoded = fitted.encode([item])
    tokens = fitted.tokenizer_.convert_ids_to_tokens(encoded.input_ids[0])
    assert [t for t, m in zip(tokens, encoded.target_mask[0]) if m] == ["pakistan"]
    assert MARK_START and MARK_END  # the markers the mask is read from


def test_mean_target_pooling_learns_and_reloads_identically(tmp_path, data, fitted):
    X_test, y_test = from_dataset(data["test"])
    _, y_train = from_dataset(data["train"])
    values, counts = np.unique(y_train, return_counts=True)
    majority = float(np.mean(np.asarray(y_test) == values[counts.argmax()]))
    acc = float(np.mean(fitted.predict(X_test) == np.asarray(y_test)))
    assert acc > majority + 0.3, (acc, majority, fitted.metadata_["history"])
    assert fitted.metadata_["pooling"] == "mean+target"
    fitted.save(tmp_path / "m")
    assert (tmp_path / "m" / "head.safetensors").is_file()
    loaded = load_model(tmp_path / "m", runtime="fp32")
    np.testing.assert_allclose(loaded.predict_proba(X_test), fitted.predict_proba(X_test), atol=1e-6)
    assert loaded.model_version == fitted.model_version
    int8 = load_model(tmp_path / "m", runtime="int8")
    assert np.mean(int8.predict(X_test) == loaded.predict(X_test)) >= 0.9


def test_continued_training_starts_from_the_saved_head(tmp_path, data, fitted):
    """``--pretrain`` fine-tunes a saved pooled model again: its head is reused, not reset."""
    X_test, _y_test = from_dataset(data["test"])
    fitted.save(tmp_path / "m")
    X, y = from_dataset(data["train"])
    args = TrainingArguments(**{**FAST.to_dict(), "learning_rate": 1e-9, "epochs": 1, "max_steps": 1})
    again = TransformerStanceClassifier(base_model=tmp_path / "m", args=args, runtime="fp32").fit(X, y)
    agree = np.mean(again.predict(X_test) == fitted.predict(X_test))
    assert agree == 1.0  # a fresh random head would not reproduce the trained predictions


def test_mean_pooling_learns(base, data):
    X, y = from_dataset(data["train"])
    args = TrainingArguments(**{**FAST.to_dict(), "pooling": "mean"})
    model = TransformerStanceClassifier(base_model=base, args=args, runtime="fp32").fit(X, y)
    X_test, y_test = from_dataset(data["test"])
    assert model.encode(X_test[:2]).target_mask is None
    assert np.mean(model.predict(X_test) == np.asarray(y_test)) > 0.6


def test_bad_pooling_and_damaged_head_are_clear_errors(tmp_path, fitted):
    with pytest.raises(ValueError, match="pooling must be one of cls, mean, mean\\+target"):
        TrainingArguments(pooling="max")
    fitted.save(tmp_path / "m")
    head = tmp_path / "m" / "head.safetensors"
    head.write_bytes(head.read_bytes()[:40])
    with pytest.raises(ModelLoadError, match=r"head\.safetensors: corrupted"):
        load_model(tmp_path / "m")
    head.unlink()
    with pytest.raises(ModelLoadError, match=r"head\.safetensors: missing"):
        load_model(tmp_path / "m")


def test_int8_runtime_keeps_the_feed_forward_outputs_and_head_in_fp32(fitted):
    import torch

    from models.transformer import int8_layer_names

    names = int8_layer_names(fitted.model_)
    assert names and all(isinstance(fitted.model_.get_submodule(n), torch.nn.Linear) for n in names)
    assert not any(n.endswith(".output.dense") and ".attention." not in n for n in names)
    assert "classifier" not in names
    assert any(n.endswith(".attention.output.dense") for n in names)
    assert any(n.endswith(".intermediate.dense") for n in names)


def test_default_runtime_is_fp32_and_predictions_do_not_depend_on_batch_mates(tmp_path, data, fitted):
    X_test, _ = from_dataset(data["test"])
    fitted.save(tmp_path / "m")
    model = load_model(tmp_path / "m")
    assert model.runtime == "fp32"
    whole = model.predict_proba(X_test)
    one_by_one = np.concatenate([model.predict_proba(X_test[i:i + 1]) for i in range(len(X_test))])
    np.testing.assert_allclose(one_by_one, whole, atol=1e-5)


def test_a_non_bert_checkpoint_trains_with_the_pooled_head(tmp_path, data):
    """DistilBERT has no pooler argument and no segment embeddings: the default head still works."""
    from transformers import AutoTokenizer, DistilBertConfig, DistilBertForSequenceClassification

    from models.transformer import default_base_model

    tokenizer = AutoTokenizer.from_pretrained(default_base_model())
    config = DistilBertConfig(vocab_size=tokenizer.vocab_size, dim=32, n_layers=1, n_heads=2, hidden_dim=64,
                              num_labels=3)
    DistilBertForSequenceClassification(config).save_pretrained(tmp_path / "distil")
    tokenizer.save_pretrained(tmp_path / "distil")
    X, y = from_dataset(data["train"])
    X_test, _ = from_dataset(data["test"])
    model = TransformerStanceClassifier(base_model=tmp_path / "distil", args=FAST).fit(X, y)
    model.save(tmp_path / "m")
    np.testing.assert_allclose(load_model(tmp_path / "m").predict_proba(X_test), model.predict_proba(X_test),
                               atol=1e-6)


def test_a_model_saved_before_pooling_was_an_argument_keeps_its_cls_head(tmp_path, data, base):
    import json

    X, y = from_dataset(data["train"])
    args = TrainingArguments(**{**FAST.to_dict(), "pooling": "cls", "epochs": 1})
    TransformerStanceClassifier(base_model=base, args=args).fit(X, y).save(tmp_path / "old")
    meta_file = tmp_path / "old" / "slant_model.json"
    meta = json.loads(meta_file.read_text())
    del meta["training_args"]["pooling"]  # as the first session wrote it
    meta["training_args"]["from_a_newer_slant"] = 1
    meta_file.write_text(json.dumps(meta))
    old = load_model(tmp_path / "old")
    assert old.pooling_ == "cls" and old.args.pooling == "cls"
    from models.backend.service import fresh_estimator

    assert fresh_estimator(old, tmp_path / "old").args.pooling == "cls"  # retraining keeps the cls head
