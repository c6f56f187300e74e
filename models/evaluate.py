"""``evaluate()``: score a model on a dataset split (macro-F1, per class, per target, confusion
matrix, calibration before/after temperature scaling)."""

from __future__ import annotations

from typing import Any

from models.base import StanceClassifier, softmax
from models.inputs import from_dataset
from models.metrics import (
    classification_report,
    expected_calibration_error,
    negative_log_likelihood,
)


def evaluate_model(model: StanceClassifier, split: Any, *, validation: Any = None) -> dict[str, Any]:
    """Report for one ``datasets.Dataset`` split (see :func:`models.metrics.classification_report`).

    ``calibration`` holds ECE and NLL of the raw probabilities (T = 1) and of the model's
    stored temperature; with ``validation``, also of a temperature fit on it now.
    """
    X, y = from_dataset(split)
    truth = model.label_indices(y)
    logits = model.logits(X)
    raw = softmax(logits)
    calibrated = softmax(logits, temperature=model.temperature_)
    report = classification_report(truth, logits.argmax(axis=1), labels=model.classes_, probabilities=calibrated,
                                   groups=[x.target for x in X])
    report["calibration"] = {
        "temperature": float(model.temperature_),
        "ece_before": expected_calibration_error(raw, truth),
        "ece_after": expected_calibration_error(calibrated, truth),
        "nll_before": negative_log_likelihood(raw, truth),
        "nll_after": negative_log_likelihood(calibrated, truth),
    }
    if validation is not None:
        from models.calibration import MIN_CALIBRATION_PAIRS, fit_temperature

        if len(validation) < MIN_CALIBRATION_PAIRS:
            report["calibration"]["refit_skipped"] = (f"{len(validation)} validation pairs, fewer than "
                                                      f"{MIN_CALIBRATION_PAIRS}")
        else:
            X_val, y_val = from_dataset(validation)
            t = fit_temperature(model.logits(X_val), model.label_indices(y_val))
            refit = softmax(logits, temperature=t)
            report["calibration"].update(refit_temperature=t, ece_refit=expected_calibration_error(refit, truth),
                                         nll_refit=negative_log_likelihood(refit, truth))
    report["model_version"] = model.model_version
    return report


def evaluate(model: Any, dataset: Any, *, split: str = "test", refit_temperature: bool = False,
             runtime: str | None = None, save_error_profile: bool = False) -> dict[str, Any]:
    """Evaluate a model on ``split`` of ``dataset`` (path or DatasetDict), as ``slant evaluate``.

    ``model`` is a saved model's directory or a fitted classifier (left unchanged).
    ``refit_temperature`` also fits a temperature on the dataset's validation split and
    reports ECE with it (useful when the model was calibrated on another domain).
    ``runtime`` applies to transformers (``"fp32"``, default, or ``"int8"``).
    ``save_error_profile`` writes the model's errors on ``split`` as the saved model's
    ``error_profile.json`` (``models.error_profile``; reports correct for them); its path is
    ``report["error_profile"]``.

    Raises:
        ValueError: an unknown runtime, a refit without a validation split, dataset labels
            that are not the model's classes, or a profile asked of a fitted classifier (no
            folder to save it in) or of the train split (the model's errors there are not
            its errors on new text).
    """
    from models.base import StanceClassifier
    from models.data import DatasetLoadError, split_by_name
    from models.registry import load_model
    from models.transformer import RUNTIMES

    if runtime is not None and runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}; valid: {', '.join(RUNTIMES)}")
    if save_error_profile and (isinstance(model, StanceClassifier) or split == "train"):
        raise ValueError("an error profile is saved into a model folder (give its path)" if split != "train" else
                         "an error profile needs gold the model did not train on; choose --split validation or test")
    if isinstance(model, StanceClassifier):
        where = f"<{type(model).__name__} {model.model_version}>"
        if runtime is not None and getattr(model, "runtime", runtime) != runtime:
            import copy

            model = copy.copy(model).with_runtime(runtime)
    else:
        where = str(model)
        model = load_model(model, **({"runtime": runtime} if runtime else {}))
    part = split_by_name(dataset, split)
    validation = None
    if refit_temperature:
        try:  # the validation split only: a dataset without a train split is fine here
            validation = split_by_name(dataset, "validation")
        except DatasetLoadError:
            raise ValueError("refitting the temperature needs a validation split, and the dataset has none") from None
    report = evaluate_model(model, part, validation=validation)
    report["split"] = split
    report["model_dir"] = where
    if save_error_profile:
        from models.data import describe_source
        from models.error_profile import profile_on, store_error_profile

        profile = profile_on(model, [part], gold=f"{split} split of {describe_source(dataset)}")
        report["error_profile"] = str(store_error_profile(model, profile, where))
    return report


def per_class_table(report: dict[str, Any]) -> list[tuple[str, float, float, float, int]]:
    """(label, precision, recall, f1, support) rows, for printing."""
    return [(label, v["precision"], v["recall"], v["f1"], v["support"]) for label, v in report["per_class"].items()]

