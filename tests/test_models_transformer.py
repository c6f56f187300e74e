"""The transformer classifier on a tiny random BERT (fast) and on the real packaged MiniLM (slow)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from models.base import LABELS_FILE, ModelLoadError
from models.inputs import from_dataset
from models.registry import load_model
from models.testing import tiny_bert, toy_dataset
from models.training_args import TrainingArguments
from models.transformer import TransformerStanceClassifier

FAST = TrainingArguments(learning_rate=3e-3, epochs=12, batch_size=16, warmup_ratio=0.0, patience=100,
                         evals_per_epoch=1, threads=2, show_progress=False)


@pytest.fixture(scope="module")
def data():
    return toy_dataset()


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, data):
    base = tiny_bert(tmp_path_factory.mktemp("tiny-bert"))
    X, y = from_dataset(data["train"])
    X_val, y_val = from_dataset(data["validation"])
    return TransformerStanceClassifier(base_model=base, args=FAST).fit(X, y, X_val=X_val, y_val=y_val)


def test_tiny_transformer_learns(data, fitted):
    X_test, y_test = from_dataset(data["test"])
    _, y_train = from_dataset(data["train"])
    values, counts = np.unique(y_train, return_counts=True)
    majority = float(np.mean(np.asarray(y_test) == values[counts.argmax()]))
    acc = float(np.mean(fitted.with_runtime("fp32").predict(X_test) == np.asarray(y_test)))
    assert acc > majority + 0.3, (acc, majority, fitted.metadata_["history"])
    assert fitted.metadata_["history"], "validation was evaluated"
    best = max(h["val_macro_f1"] for h in fitted.metadata_["history"])
    assert best > 0.5  # chance is about 1/3


def test_save_load_identical_predictions(tmp_path, data, fitted):
    X_test, _ = from_dataset(data["test"])
    fitted.with_runtime("fp32").save(tmp_path / "m")
    for name in ("model.safetensors", "config.json", "tokenizer.json", LABELS_FILE, "slant_model.json", "README.md"):
        assert (tmp_path / "m" / name).is_file(), name
    loaded = load_model(tmp_path / "m", runtime="fp32")
    np.testing.assert_allclose(loaded.predict_proba(X_test), fitted.predict_proba(X_test), atol=1e-6)
    assert loaded.model_version == fitted.model_version
    card = (tmp_path / "m" / "README.md").read_text()
    assert fitted.model_version in card and "Trained:" in card
    # The int8 runtime keeps the predictions of the fp32 model on this easy set.
    int8 = load_model(tmp_path / "m", runtime="int8")
    agree = np.mean(int8.predict(X_test) == loaded.predict(X_test))
    assert agree >= 0.9


def test_label_mismatch_is_a_clear_error(tmp_path, fitted):
    fitted.save(tmp_path / "m")
    (tmp_path / "m" / LABELS_FILE).write_text(json.dumps(["favorable", "neutral", "critical"]))
    with pytest.raises(ModelLoadError, match="do not match the stance labels"):
        load_model(tmp_path / "m")


def test_corrupted_weights_name_the_file(tmp_path, fitted):
    fitted.save(tmp_path / "m")
    weights = tmp_path / "m" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ModelLoadError, match=r"model\.safetensors: corrupted model weights"):
        load_model(tmp_path / "m")
    weights.write_bytes(b"garbage")
    with pytest.raises(ModelLoadError, match=r"model\.safetensors: corrupted"):
        load_model(tmp_path / "m")
    weights.unlink()
    with pytest.raises(ModelLoadError, match=r"model\.safetensors: missing"):
        load_model(tmp_path / "m")


def test_damaged_or_mixed_directories_fail_to_load(tmp_path, fitted):
    """Files that load without an exception but are not the saved model: before, they gave
    random or [UNK]-only predictions under the saved model_version."""
    import shutil

    from safetensors.numpy import load_file, save_file

    saved = fitted.with_runtime("fp32").save(tmp_path / "m")

    def copy(name):
        shutil.copytree(saved, tmp_path / name)
        return tmp_path / name

    changed = copy("changed-weights")
    weights_file = changed / ("head.safetensors" if (changed / "head.safetensors").exists() else "model.safetensors")
    tensors = load_file(weights_file)
    first = min(tensors)
    tensors[first] = tensors[first] + 1.0
    save_file(tensors, weights_file)
    with pytest.raises(ModelLoadError, match=r"are not the saved model's \(transformer-"):
        load_model(changed)

    other_head = copy("other-pooling")
    meta = json.loads((other_head / "slant_model.json").read_text())
    meta["pooling"] = "cls" if meta.get("pooling", "cls") != "cls" else "mean+target"
    (other_head / "slant_model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError):
        load_model(other_head)

    no_tokenizer = copy("no-tokenizer")
    for name in ("tokenizer.json", "vocab.txt"):
        (no_tokenizer / name).unlink(missing_ok=True)
    with pytest.raises(ModelLoadError, match="tokenizer"):
        load_model(no_tokenizer)

    for value, message in ((0, "temperature must be a finite number > 0"), (-1.0, "temperature must be"),
                           ("abc", "temperature must be")):
        bad = copy(f"temperature-{value}")
        meta = json.loads((bad / "slant_model.json").read_text())
        (bad / "slant_model.json").write_text(json.dumps({**meta, "temperature": value}))
        with pytest.raises(ModelLoadError, match=message):
            load_model(bad)
    listed = copy("meta-list")
    (listed / "slant_model.json").write_text("[1, 2]")
    with pytest.raises(ModelLoadError):
        load_model(listed)
    unversioned = copy("no-version")
    meta = json.loads((unversioned / "slant_model.json").read_text())
    del meta["model_version"]
    (unversioned / "slant_model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="model_version must be a string"):
        load_model(unversioned)
    # The runtime is part of what made a prediction: int8 predictions carry their own version.
    assert load_model(saved, runtime="int8").model_version == load_model(saved).model_version + "+int8"
    with pytest.raises(TypeError, match="unknown option"):
        load_model(saved, runtim="int8")


def test_calibration_fits_on_validation_and_is_saved(tmp_path, data, fitted):
    """Temperature fit on validation lowers its NLL; it is saved and reloaded with the model."""
    from models.base import softmax
    from models.calibration import calibrate
    from models.metrics import negative_log_likelihood

    model = load_model(fitted.with_runtime("fp32").save(tmp_path / "m"), runtime="fp32")
    X_val, y_val = from_dataset(data["validation"])
    X_test, y_test = from_dataset(data["test"])
    truth = model.label_indices(y_test)
    raw = negative_log_likelihood(softmax(model.logits(X_test)), truth)
    # The toy validation set is predicted perfectly: the NLL falls without end as T shrinks,
    # which is no evidence to calibrate on, so T stays 1.
    assert (model.logits(X_val).argmax(axis=1) == model.label_indices(y_val)).all()
    assert calibrate(model, X_val, y_val)["temperature"] == 1.0
    # With one validation label wrong, the optimum is inside the bounds and is kept.
    y_noisy = list(y_val)
    y_noisy[0] = next(c for c in model.classes_ if c != y_noisy[0])
    result = calibrate(model, X_val, y_noisy)
    assert result["temperature"] != 1.0 and result["nll_after"] <= result["nll_before"]
    calibrated = negative_log_likelihood(model.predict_proba(X_test), truth)
    assert calibrated != raw
    model.save(tmp_path / "m2")
    assert load_model(tmp_path / "m2").temperature_ == pytest.approx(result["temperature"])


@pytest.mark.slow
def test_real_minilm_fine_tunes_a_few_steps(tmp_path, data):
    """The packaged all-MiniLM-L6-v2 trains, lowers its loss, saves and reloads."""
    from models.transformer import default_base_model

    X, y = from_dataset(data["train"])
    X_val, y_val = from_dataset(data["validation"])
    args = TrainingArguments(learning_rate=1e-4, epochs=3, batch_size=16, warmup_ratio=0.0, evals_per_epoch=1,
                             patience=10, threads=2, show_progress=False)
    model = TransformerStanceClassifier(args=args).fit(X, y, X_val=X_val, y_val=y_val)
    history = model.metadata_["history"]
    assert model.metadata_["base_model"] == default_base_model()
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    X_test, _ = from_dataset(data["test"])
    model.save(tmp_path / "minilm")
    loaded = load_model(tmp_path / "minilm", runtime="fp32")
    np.testing.assert_allclose(loaded.predict_proba(X_test), model.with_runtime("fp32").predict_proba(X_test),
                               atol=1e-5)


def test_balanced_class_weight_learns_a_skewed_set_and_bad_values_are_refused(tmp_path, data):
    with pytest.raises(ValueError, match="class_weight must be"):
        TrainingArguments(class_weight="heavy")
    X, y = from_dataset(data["train"])
    y = np.asarray(y)
    # Keep every pair of the first class but only a few of the others: a skewed set like the seeds.
    common, *rare = sorted(set(y.tolist()))
    keep = np.concatenate([np.flatnonzero(y == common)] + [np.flatnonzero(y == c)[:4] for c in rare])
    X_skewed, y_skewed = [X[i] for i in keep], y[keep]
    args = TrainingArguments(**{**FAST.to_dict(), "class_weight": "balanced"})
    model = TransformerStanceClassifier(base_model=tiny_bert(tmp_path / "tiny"), args=args).fit(X_skewed, y_skewed)
    X_test, _ = from_dataset(data["test"])
    predicted = model.with_runtime("fp32").predict(X_test)
    # Rare classes are still predicted: the loss did not let the common class swallow them.
    assert len(set(np.asarray(predicted).tolist())) >= 2, predicted


def test_a_refit_with_a_bad_label_keeps_the_fitted_model_and_threads_are_restored(data, fitted):
    import dataclasses

    import torch

    X, y = from_dataset(data["train"])
    X_test, _ = from_dataset(data["test"])
    before_version, before = fitted.model_version, fitted.predict_proba(X_test)
    with pytest.raises(ValueError, match="unknown label 'bogus'"):
        fitted.fit(X, list(y[:-1]) + ["bogus"])
    # Before, the weights were already replaced by a fresh model under the old version.
    assert fitted.model_version == before_version
    assert np.array_equal(fitted.predict_proba(X_test), before)

    threads = torch.get_num_threads()
    small = TransformerStanceClassifier(base_model=fitted.base_model or fitted.metadata_["base_model"],
                                        args=dataclasses.replace(FAST, threads=1, max_steps=2))
    small.fit(X, y)
    assert torch.get_num_threads() == threads  # training's one thread did not stay the process's


def test_clone_gives_an_unfitted_copy_with_the_same_parameters(fitted):
    from sklearn.base import clone

    copy = clone(fitted)
    assert copy.get_params().keys() == {"base_model", "args", "runtime", "workers"}
    assert copy.args == fitted.args and not hasattr(copy, "model_")
    with pytest.raises(ValueError, match="valid: \\['base_model', 'args', 'runtime', 'workers'\\]"):
        copy.set_params(lr=1.0)


def test_saving_over_another_model_leaves_none_of_its_files(tmp_path, data, fitted):
    import dataclasses

    from models.baseline import MODEL_FILE
    from models.pooled_classifier import HEAD_FILE
    from models.registry import create_model

    X, y = from_dataset(data["train"])
    target = tmp_path / "m"
    fitted.save(target)
    (target / "notes.txt").write_text("mine")
    assert (target / HEAD_FILE).is_file()
    cls_model = TransformerStanceClassifier(base_model=fitted.metadata_["base_model"],
                                            args=dataclasses.replace(FAST, pooling="cls", max_steps=2))
    cls_model.fit(X, y).save(target)
    assert not (target / HEAD_FILE).exists()  # a stale head would be read by --base-model
    assert load_model(target).model_version == cls_model.model_version
    create_model("baseline").fit(X, y).save(target)
    left = {p.name for p in target.iterdir()}
    assert left == {MODEL_FILE, LABELS_FILE, "slant_model.json", "notes.txt"}  # the user's file stays
    assert load_model(target).kind == "baseline"
    # A folder that held no model keeps everything of its own, a README.md included.
    plain = tmp_path / "project"
    plain.mkdir()
    (plain / "README.md").write_text("my project")
    create_model("baseline").fit(X, y).save(plain)
    assert (plain / "README.md").read_text() == "my project"


def test_an_unknown_runtime_is_refused_at_load(tmp_path, fitted):
    fitted.save(tmp_path / "m")
    with pytest.raises(ValueError, match="unknown runtime 'int9'; valid: fp32, int8"):
        load_model(tmp_path / "m", runtime="int9")


def test_relevance_head_one_pass_save_load_and_tamper(tmp_path, data, fitted):
    """The relevance head reads the pooled features of the stance pass: probabilities stay those of
    predict_proba, relevance is given for engagement pairs only, and it survives save/load."""
    import copy

    from models.inputs import StanceInput
    from models.relevance import RELEVANCE_FILE

    model = copy.deepcopy(fitted)
    about = [StanceInput(text=f"Talks on the ceasefire resumed, round {i}.", target="engagement") for i in range(12)]
    off = [StanceInput(text=f"The market index closed at {100 + i} points.", target="engagement") for i in range(12)]
    model.fit_relevance(about + off, [True] * 12 + [False] * 12)
    X_test, _ = from_dataset(data["test"])
    mixed = list(X_test[:5]) + about[:3] + off[:3]
    proba, relevance = model.predict_proba_and_relevance(mixed)
    np.testing.assert_allclose(proba, model.predict_proba(mixed), atol=1e-5)
    is_engagement = np.array([x.target == "engagement" for x in mixed])
    assert np.isnan(relevance[~is_engagement]).all() and not np.isnan(relevance[is_engagement]).any()
    model.save(tmp_path / "r")
    loaded = load_model(tmp_path / "r")
    np.testing.assert_allclose(loaded.predict_proba_and_relevance(mixed)[1], relevance, atol=1e-6)
    # A relevance head from another model is refused by its digest, as the weights are.
    other = copy.deepcopy(fitted).fit_relevance(about + off, [True] * 6 + [False] * 6 + [True] * 6 + [False] * 6)
    other.save(tmp_path / "other")
    (tmp_path / "r" / RELEVANCE_FILE).write_bytes((tmp_path / "other" / RELEVANCE_FILE).read_bytes())
    with pytest.raises(ModelLoadError, match="digest"):
        load_model(tmp_path / "r")
    (tmp_path / "r" / RELEVANCE_FILE).unlink()
    with pytest.raises(ModelLoadError, match="must come together"):
        load_model(tmp_path / "r")


def test_engagement_phrasing_is_saved_and_read_back(tmp_path, fitted):
    from models.inputs import ENGAGEMENT_DESCRIPTION, ENGAGEMENT_MOTION

    assert fitted.engagement_text_ == ENGAGEMENT_MOTION  # the default phrasing
    fitted.save(tmp_path / "p")
    meta = json.loads((tmp_path / "p" / "slant_model.json").read_text())
    assert meta["input_format"]["engagement"] == ENGAGEMENT_MOTION
    # A model saved before the phrasing was recorded reads the old description.
    del meta["input_format"]["engagement"]
    (tmp_path / "p" / "slant_model.json").write_text(json.dumps(meta))
    assert load_model(tmp_path / "p").engagement_text_ == ENGAGEMENT_DESCRIPTION
