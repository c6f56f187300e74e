"""Pure evaluation metrics: numpy in, numbers out; no model, no I/O.

Labels are integer class indices ``0..n_classes-1`` (the model's ``classes_`` order).
Every function takes keyword-only options and states its edge cases.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _probabilities_and_labels(probabilities: np.ndarray, y_true: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Checked ``(n, n_classes)`` probabilities and ``(n,)`` class indices inside ``0..n_classes-1``."""
    probs = np.asarray(probabilities, dtype=float)
    t = np.asarray(y_true, dtype=np.int64).ravel()
    if probs.ndim != 2 or probs.shape[0] != t.size:
        raise ValueError(f"probabilities must have shape (n, n_classes) with n={t.size}, got {probs.shape}")
    if t.size and (t.min() < 0 or t.max() >= probs.shape[1]):
        raise ValueError(f"class indices must lie in 0..{probs.shape[1] - 1}")
    return probs, t


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], *, n_classes: int) -> np.ndarray:
    """Counts, shape ``(n_classes, n_classes)``: rows are true classes, columns predicted.

    Empty input gives an all-zero matrix. Raises ``ValueError`` on a length mismatch or an
    index outside ``0..n_classes-1``.
    """
    t = np.asarray(y_true, dtype=np.int64).ravel()
    p = np.asarray(y_pred, dtype=np.int64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} items but y_pred has {p.size}")
    if t.size and (t.min() < 0 or p.min() < 0 or t.max() >= n_classes or p.max() >= n_classes):
        raise ValueError(f"class indices must lie in 0..{n_classes - 1}")
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (t, p), 1)
    return matrix


def per_class_scores(y_true: Sequence[int], y_pred: Sequence[int], *, n_classes: int) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and support per class, each of shape ``(n_classes,)``.

    A class never predicted has precision 0; a class absent from ``y_true`` has recall 0
    and support 0 (sklearn's ``zero_division=0`` convention).
    """
    m = confusion_matrix(y_true, y_pred, n_classes=n_classes).astype(float)
    tp = np.diag(m)
    predicted, support = m.sum(axis=0), m.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": support.astype(np.int64)}


def macro_f1(y_true: Sequence[int], y_pred: Sequence[int], *, n_classes: int) -> float:
    """Unweighted mean of the per-class F1 over all ``n_classes`` classes (NewsMTSC's F1m).

    Classes absent from both ``y_true`` and ``y_pred`` still count (with F1 0), as in the
    benchmark papers' 3-class F1m. Empty input gives 0.0.
    """
    if len(y_true) == 0:
        return 0.0
    return float(per_class_scores(y_true, y_pred, n_classes=n_classes)["f1"].mean())


def accuracy(y_true: Sequence[int], y_pred: Sequence[int]) -> float:
    """Share of exact matches; 0.0 for empty input."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.shape != p.shape:
        raise ValueError(f"y_true has shape {t.shape} but y_pred has shape {p.shape}")
    return float((t == p).mean()) if t.size else 0.0


def per_group_macro_f1(
    y_true: Sequence[int], y_pred: Sequence[int], groups: Sequence[str], *, n_classes: int
) -> dict[str, dict[str, float]]:
    """Macro-F1 (over the classes present in that group's gold labels) and count per group.

    Used for per-target F1: a target with only critical gold labels is scored on the
    critical class alone, so small targets are not dragged to 0 by absent classes.
    """
    t, p, g = np.asarray(y_true), np.asarray(y_pred), np.asarray(groups)
    if not t.shape == p.shape == g.shape:
        raise ValueError(f"y_true, y_pred and groups must have one entry per pair, got {t.size}, {p.size}, {g.size}")
    out: dict[str, dict[str, float]] = {}
    for name in sorted(set(g.tolist())):
        mask = g == name
        scores = per_class_scores(t[mask], p[mask], n_classes=n_classes)
        present = scores["support"] > 0
        out[name] = {"macro_f1": float(scores["f1"][present].mean()) if present.any() else 0.0,
                     "accuracy": accuracy(t[mask], p[mask]), "n": int(mask.sum())}
    return out


def expected_calibration_error(probabilities: np.ndarray, y_true: Sequence[int], *, n_bins: int = 10) -> float:
    """ECE of the top-class confidence, equal-width bins over ``[0, 1]``.

    Args:
        probabilities: shape ``(n, n_classes)``, rows summing to 1.
        y_true: shape ``(n,)`` class indices.
    Returns the support-weighted mean ``|accuracy - confidence|`` over non-empty bins;
    0.0 for empty input. Raises ``ValueError`` on mismatched shapes, a class index out of
    range or ``n_bins < 1``.
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    probs, t = _probabilities_and_labels(probabilities, y_true)
    if t.size == 0:
        return 0.0
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == t).astype(float)
    # Bin i holds confidences in (i/n, (i+1)/n]; confidence 0 cannot occur for a top class.
    bins = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(ece)


def negative_log_likelihood(probabilities: np.ndarray, y_true: Sequence[int], *, eps: float = 1e-12) -> float:
    """Mean ``-log p(true class)``; probabilities are clipped at ``eps``. 0.0 for empty input.

    Shapes as :func:`expected_calibration_error`, and the same ``ValueError`` on a mismatch."""
    probs, t = _probabilities_and_labels(probabilities, y_true)
    if t.size == 0:
        return 0.0
    return float(-np.log(np.clip(probs[np.arange(t.size), t], eps, 1.0)).mean())


def classification_report(
    y_true: Sequence[int],
    y_pred: Sequence[int],
    *,
    labels: Sequence[str],
    probabilities: np.ndarray | None = None,
    groups: Sequence[str] | None = None,
) -> dict:
    """Everything ``slant evaluate`` reports, as a JSON-ready dict.

    Keys: ``n``, ``macro_f1``, ``accuracy``, ``per_class`` (label -> precision/recall/f1/support),
    ``confusion_matrix`` (rows true, columns predicted, in ``labels`` order), and when given
    ``ece``/``nll`` (from ``probabilities``) and ``per_target`` (from ``groups``).
    """
    k = len(labels)
    scores = per_class_scores(y_true, y_pred, n_classes=k)
    report: dict = {
        "n": len(y_true),
        "macro_f1": macro_f1(y_true, y_pred, n_classes=k),
        "accuracy": accuracy(y_true, y_pred),
        "per_class": {
            label: {key: (int(scores[key][i]) if key == "support" else float(scores[key][i]))
                    for key in ("precision", "recall", "f1", "support")}
            for i, label in enumerate(labels)
        },
        "confusion_matrix": {"labels": list(labels),
                             "matrix": confusion_matrix(y_true, y_pred, n_classes=k).tolist()},
    }
    if probabilities is not None:
        report["ece"] = expected_calibration_error(probabilities, y_true)
        report["nll"] = negative_log_likelihood(probabilities, y_true)
    if groups is not None:
        report["per_target"] = per_group_macro_f1(y_true, y_pred, groups, n_classes=k)
    return report
