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


def test_clone_get_and_set_params_follow_scikit_learn(fitted):
    from sklearn.base import clone

    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params() and not hasattr(copy, "pipeline_")
    assert copy.set_params(C=1.0) is copy and copy.C == 1.0
    with pytest.raises(ValueError, match=r"unknown parameters \['c'\].*valid: \['C', 'ngram_max'"):
        copy.set_params(c=1.0)


def test_params_in_the_metadata_cannot_set_labels_or_temperature(tmp_path, fitted):
    fitted.save(tmp_path / "m")
    meta_path = tmp_path / "m" / "slant_model.json"
    meta = json.loads(meta_path.read_text())
    meta["params"].update(classes_=["a", "b", "c"], temperature_=-1)
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="params 'classes_'"):
        load_model(tmp_path / "m")
    meta["params"] = {**fitted.get_params(), "C": "4"}
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="params 'C'='4'"):
        load_model(tmp_path / "m")


def test_the_version_covers_the_idf_weights_and_old_versions_still_load(tmp_path, fitted, data):
    import skops.io as sio

    from models.baseline import MODEL_FILE, TRUSTED_TYPES

    fitted.save(tmp_path / "m")
    path = tmp_path / "m" / MODEL_FILE
    pipeline = sio.load(path, trusted=TRUSTED_TYPES)
    pipeline.named_steps["tfidf"].idf_ = pipeline.named_steps["tfidf"].idf_ * 2  # same coefficients, other scores
    sio.dump(pipeline, path)
    with pytest.raises(ModelLoadError, match="not the saved model's"):
        load_model(tmp_path / "m")
    # A model saved before the idf weights were digested carries the earlier digest and loads.
    fitted.save(tmp_path / "old")
    meta_path = tmp_path / "old" / "slant_model.json"
    meta = json.loads(meta_path.read_text())
    meta["model_version"] = f"baseline-{fitted._digest(with_idf=False)}"
    meta_path.write_text(json.dumps(meta))
    X_test, _ = from_dataset(data["test"])
    assert np.array_equal(load_model(tmp_path / "old").predict_proba(X_test), fitted.predict_proba(X_test))


def test_a_scikit_learn_type_outside_the_trusted_list_is_refused(tmp_path, data):
    """skops trusts every scikit-learn estimator; the saved file's types are checked against
    the baseline's own list, so a pipeline with another step does not load."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MaxAbsScaler

    X, y = from_dataset(data["train"])
    model = create_model("baseline").fit(X, y)
    steps = model.pipeline_.steps
    model.pipeline_ = Pipeline([steps[0], ("scale", MaxAbsScaler().fit(model.pipeline_[:1].transform(["x y"]))),
                                steps[1]])
    model.save(tmp_path / "m")
    with pytest.raises(ModelLoadError, match=r"untrusted types \['sklearn.preprocessing._data.MaxAbsScaler'\]"):
        load_model(tmp_path / "m")


def test_a_failed_refit_leaves_no_version_on_a_half_fitted_model(data):
    X, y = from_dataset(data["train"])
    model = create_model("baseline").fit(X, y)
    model.set_params(min_df=10_000)  # no term is that frequent: the vectorizer fails
    with pytest.raises(ValueError):
        model.fit(X, y)
    with pytest.raises(RuntimeError, match="no model_version"):
        _ = model.model_version
