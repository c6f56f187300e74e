"""The scikit-learn baseline: learns, saves/loads identically, refuses bad files; the registry."""

from __future__ import annotations

import json

import numpy as np
import pytest

from models.base import LABELS_FILE, ModelLoadError
from models.inputs import from_dataset
from models.registry import UnknownModelError, create_model, load_model
from models.testing import toy_dataset


@pytest.fixture(scope="module")
def data():
    return toy_dataset()


@pytest.fixture(scope="module")
def fitted(data):
    X, y = from_dataset(data["train"])
    return create_model("baseline").fit(X, y)


def majority_accuracy(train_labels, test_labels) -> float:
    values, counts = np.unique(train_labels, return_counts=True)
    return float(np.mean(np.asarray(test_labels) == values[counts.argmax()]))


def test_baseline_beats_the_majority_class(data, fitted):
    X_test, y_test = from_dataset(data["test"])
    _, y_train = from_dataset(data["train"])
    acc = float(np.mean(fitted.predict(X_test) == np.asarray(y_test)))
    assert acc > majority_accuracy(y_train, y_test) + 0.3
    proba = fitted.predict_proba(X_test)
    assert proba.shape == (len(X_test), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert fitted.model_version.startswith("baseline-")


def test_save_load_identical_predictions(tmp_path, data, fitted):
    X_test, _ = from_dataset(data["test"])
    fitted.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(X_test), fitted.predict(X_test))
    np.testing.assert_allclose(loaded.predict_proba(X_test), fitted.predict_proba(X_test))
    assert loaded.model_version == fitted.model_version


def test_label_mismatch_is_a_clear_error(tmp_path, fitted):
    fitted.save(tmp_path / "m")
    (tmp_path / "m" / LABELS_FILE).write_text(json.dumps(["negative", "neutral", "positive"]))
    with pytest.raises(ModelLoadError, match="do not match the stance labels"):
        load_model(tmp_path / "m")


def test_corrupted_or_missing_model_file(tmp_path, fitted):
    fitted.save(tmp_path / "m")
    path = tmp_path / "m" / "model.skops"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ModelLoadError, match="model.skops: corrupted"):
        load_model(tmp_path / "m")
    path.unlink()
    with pytest.raises(ModelLoadError, match="model.skops: missing"):
        load_model(tmp_path / "m")
    with pytest.raises(ModelLoadError, match="not found"):
        load_model(tmp_path / "nowhere")


def test_unknown_model_lists_valid_names():
    with pytest.raises(UnknownModelError, match="valid models: baseline, transformer"):
        create_model("svm")


def test_unknown_label_in_training_data(data):
    X, y = from_dataset(data["train"])
    with pytest.raises(ValueError, match="unknown label 'positive'"):
        create_model("baseline").fit(X, ["positive"] + list(y[1:]))
